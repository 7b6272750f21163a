"""Recognition in a live broadcast, through the API: suggest shows what it sees and waits for a
tap; follow switches the card itself (a segment committed first, the position kept on it), never
on the product that is not in the catalog, and a tap wins for MANUAL_WINS_S."""
from __future__ import annotations

from pathlib import Path

import pytest

from catalog.photos import add_photo
from live import service as live_service
from tests import factories
from tests import recognition_video as rv
from tests.live_helpers import wait_until

pytestmark = pytest.mark.media

# The video: nothing, catalog product 0, catalog product 1, the product not in the catalog.
SCRIPT = [rv.Stretch(None, 1.0), rv.Stretch(0, 5.0), rv.Stretch(1, 5.0), rv.Stretch(-1, 6.0)]


@pytest.fixture(scope="module")
def recognition_video(media_dir: Path) -> Path:
    """In the suite's media folder: a live plays files from the media folders only."""
    path = media_dir / "recognition-live.avi"
    if not path.exists():
        rv.render(path, fps=12, script=SCRIPT)
    return path


@pytest.fixture
def farmer(session):
    return factories.user(session, "farmer", "zhao", display_name="赵大哥", village="东山村")


@pytest.fixture
def api(api_as, farmer):
    return api_as(farmer)


def products_with_photos(app, session, farmer, folder: Path) -> list[int]:
    """Three of the farmer's products with catalog photos: video products 0 and 1 (槐花蜂蜜,
    土鸡蛋) and one the video never shows (黑木耳), added by the coordinator."""
    coordinator = factories.user(session, "coordinator")
    photos = rv.write_catalog(folder, products=3)
    made = []
    for i, name in enumerate(["槐花蜂蜜", "土鸡蛋", "黑木耳"]):
        product = factories.product(session, farmer, name=name, stock=20)
        add_photo(session, Path(app.config["DATA_DIR"]), product, Path(photos[i + 1][0]).read_bytes(), coordinator)
        made.append(product.id)
    session.commit()
    return made


@pytest.fixture
def products(app, session, farmer, tmp_path):
    return products_with_photos(app, session, farmer, tmp_path / "photos")


def start(api, video: Path):
    response = api.post("/api/live/start", json={"video": str(video), "audio": "none", "destinations": [],
                                                 "preset": "480p30"})
    assert response.status_code == 201, response.json
    return response.json["session_id"]


def status(api):
    return api.get("/api/live/status").json


def test_follow_switches_the_card_to_each_product_shown_and_never_to_an_unknown_one(app, api, products, recognition_video):
    honey, eggs, _ = products
    session_id = start(api, recognition_video)
    try:
        assert api.post("/api/live/overlay", json={"recognition": "follow"}).json["recognition"] == "follow"
        # The checks run in a process of their own, started now at low priority: on a loaded PC its
        # start-up alone took up to 9 s (bench.recognition); the video loops, so honey comes back.
        assert wait_until(lambda: status(api)["product_id"] == honey, timeout=20.0), status(api)
        now = status(api)
        assert now["recognized"]["product_id"] == honey and 0.6 <= now["recognized"]["score"] <= 1.0
        assert now["recognition"]["followed"]["product_id"] == honey  # the console says who switched
        assert wait_until(lambda: status(api)["product_id"] == eggs, timeout=7.0), status(api)
        # The unknown product's stretch: the card stays on the last product, no switch.
        assert wait_until(lambda: status(api)["recognized"] is None, timeout=7.0), status(api)
        seen = set()
        for _ in range(12):
            seen.add(status(api)["product_id"])
            wait_until(lambda: False, timeout=0.25)
        assert seen == {eggs}
    finally:
        api.post("/api/live/stop")
    segments = api.get(f"/api/sessions/{session_id}").json["segments"]
    assert [s["product_id"] for s in segments] == [honey, eggs]
    with app.extensions["cunbo.sessions"]() as db:
        from live.models import Segment

        rows = db.query(Segment).filter_by(session_id=session_id).order_by(Segment.start_s).all()
        assert all(r.position_x is not None and 0 < r.position_x < 1 and 0 < r.position_y < 1 for r in rows)


def test_suggest_waits_for_a_tap_and_a_tap_wins_over_follow(app, api, products, recognition_video):
    honey, eggs, fungus = products
    start(api, recognition_video)
    try:
        assert status(api)["recognized"] is None
        api.post("/api/live/overlay", json={"recognition": "suggest"})
        assert wait_until(lambda: (status(api)["recognized"] or {}).get("product_id") == honey, timeout=20.0)
        assert status(api)["product_id"] is None, "suggest never switches by itself"
        assert api.post("/api/live/show", json={"product_id": honey}).status_code == 200  # the one tap
        # Follow, but the host taps a product that is not in the picture: the tap wins.
        api.post("/api/live/overlay", json={"recognition": "follow"})
        api.post("/api/live/show", json={"product_id": fungus})
        hold = status(api)["recognition"]["manual_hold_s"]
        assert live_service.MANUAL_WINS_S - 2 <= hold <= live_service.MANUAL_WINS_S
        assert wait_until(lambda: (status(api)["recognized"] or {}).get("product_id") == eggs, timeout=8.0)
        assert status(api)["product_id"] == fungus
        api.post("/api/live/overlay", json={"recognition": "off"})
        assert status(api)["recognized"] is None
        assert api.post("/api/live/overlay", json={"recognition": "guess"}).status_code == 400
    finally:
        api.post("/api/live/stop")


def test_the_mode_the_host_chose_is_where_their_next_live_starts(app, api, farmer, products, recognition_video):
    from live.profiles import profile_of

    honey = products[0]
    start(api, recognition_video)
    try:
        assert status(api)["recognition"]["mode"] == "off", "a host who never chose starts with it off"
        api.post("/api/live/overlay", json={"recognition": "suggest"})
    finally:
        api.post("/api/live/stop")
    with app.extensions["cunbo.sessions"]() as db:
        assert profile_of(db, farmer.id).recognition == "suggest"
    start(api, recognition_video)  # a later day: the host just goes live
    try:
        assert status(api)["recognition"]["mode"] == "suggest"
        # The worker was told too, not only the page: it finds the honey without another tap.
        assert wait_until(lambda: (status(api)["recognized"] or {}).get("product_id") == honey, timeout=20.0), status(api)
        assert status(api)["product_id"] is None
    finally:
        api.post("/api/live/stop")
    response = api.post("/api/live/start", json={"video": str(recognition_video), "audio": "none",
                                                 "destinations": [], "preset": "480p30", "recognition": "off"})
    assert response.status_code == 201, response.json
    try:
        assert status(api)["recognition"]["mode"] == "off", "a mode chosen before going live wins"
    finally:
        api.post("/api/live/stop")
    with app.extensions["cunbo.sessions"]() as db:
        assert profile_of(db, farmer.id).recognition == "off"
    bad = api.post("/api/live/start", json={"video": str(recognition_video), "audio": "none", "recognition": "guess"})
    assert bad.status_code == 400


def test_a_crashed_check_process_is_started_again_during_the_live(app, api, products, recognition_video):
    import os
    import signal

    honey = products[0]
    start(api, recognition_video)
    live = app.extensions["cunbo.live"]

    def check_pid():
        running = live._live
        return ((running.status if running else {}).get("recognition") or {}).get("pid")

    try:
        api.post("/api/live/overlay", json={"recognition": "suggest"})
        assert wait_until(lambda: (status(api)["recognized"] or {}).get("product_id") == honey, timeout=20.0)
        first = check_pid()
        assert first and status(api)["recognition"]["crashed"] is False
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: check_pid() not in (None, first), timeout=20.0), "a new check process"
        assert wait_until(lambda: (status(api)["recognized"] or {}).get("product_id") == honey, timeout=25.0)
        assert status(api)["recognition"]["crashed"] is False
    finally:
        api.post("/api/live/stop")
