"""The pre-flight checklist tests for real and says in plain words what is wrong."""
from __future__ import annotations

import pytest

from capture.testing import free_port
from tests import factories


@pytest.fixture
def api(api_as, session):
    return api_as(factories.user(session, "farmer", "wang"))


def checks_by_name(response):
    assert response.status_code == 200, response.json
    return {c["check"]: c for c in response.json["checks"]}, response.json["ready"]


def test_everything_ready_with_a_video_file_and_a_real_rtmp_server(api, flat_video, rtmp_server):
    checks, ready = checks_by_name(api.post("/api/live/checklist", json={
        "video": str(flat_video), "audio": "none", "destinations": [rtmp_server.url("key-123")]}))
    assert ready
    assert {name: c["level"] for name, c in checks.items()} == {
        "camera": "ok", "microphone": "ok", "disk": "ok", "key": "ok", "rtmp": "ok"}
    assert "key-123" not in str(checks), "the stream key is masked"


def test_no_camera_says_plug_it_in(api):
    checks, ready = checks_by_name(api.post("/api/live/checklist", json={"video": "0", "audio": "none"}))
    assert not ready
    assert checks["camera"]["level"] == "fail" and "摄像头没有连接" in checks["camera"]["message"]


def test_no_microphone_says_what_to_do(api):
    checks, ready = checks_by_name(api.post("/api/live/checklist", json={"video": "testsrc", "audio": "default"}))
    assert not ready
    assert checks["microphone"]["level"] == "fail"
    assert "麦克风" in checks["microphone"]["message"]


def test_unreachable_destination_fails_its_handshake(api):
    url = f"rtmp://127.0.0.1:{free_port()}/live/abc123"
    checks, ready = checks_by_name(api.post("/api/live/checklist", json={
        "video": "testsrc", "audio": "none", "destinations": [url]}))
    assert not ready
    assert checks["rtmp"]["level"] == "fail" and "推流服务器" in checks["rtmp"]["message"]


def test_a_destination_without_a_key_is_caught_before_the_network(api):
    checks, ready = checks_by_name(api.post("/api/live/checklist", json={
        "video": "testsrc", "audio": "none", "destinations": ["rtmp://127.0.0.1:1935/live"]}))
    assert not ready
    assert checks["key"]["level"] == "fail" and "推流码" in checks["key"]["message"]
    assert "rtmp" not in checks


def test_no_destination_is_a_warning_not_a_failure(api):
    checks, ready = checks_by_name(api.post("/api/live/checklist", json={"video": "testsrc", "audio": "none"}))
    assert ready and checks["destinations"]["level"] == "warn"


def test_the_console_shows_each_products_card_photo(app, client, session):
    from catalog.photos import add_photo
    from tests.conftest import login

    farmer = factories.user(session, "farmer", "wang")
    coordinator = factories.user(session, "coordinator", "zhang")
    millet = factories.product(session, farmer, name="巨鹿小米", link_no=1)
    photo = add_photo(session, app.config["DATA_DIR"], millet, factories.image_bytes(), coordinator)
    session.commit()
    login(client, "wang")
    page = client.get("/live/").get_data(as_text=True)
    card_url = f"/catalog/photos/{photo.stem}/card.jpg"
    assert card_url in page
    response = client.get(card_url)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    response.close()
