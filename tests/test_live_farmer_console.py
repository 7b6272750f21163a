"""Issue 16, the farmer's findings, each proved without a browser (the journey in
test_live_farmer_journey.py walks them in Chromium): the record stays findable and plays, a
phone order needs little, choices are remembered, the check decides the start button, one price,
no engineer words, the platform named, no flash sale on a sold-out product, one sold-out word."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from catalog import services as catalog
from catalog.errors import InvalidProduct
from db import utcnow
from live.models import HostProfile, LiveSession, Recording
from tests import factories
from tests.conftest import login


@pytest.fixture
def farmer(session):
    return factories.user(session, "farmer", "wang", display_name="王大姐", village="西王庄")


@pytest.fixture
def page_as(client, farmer):
    login(client, "wang")
    return client


def visible_text(html: str) -> str:
    """What a person reads: no scripts, no tags, no attributes."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def ended_broadcast(session, app, host, *, end_reason=None, seconds=125, started=None) -> LiveSession:
    folder = Path(app.config["DATA_DIR"]) / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"cunbo-test-{host.id}-{seconds}.mkv"
    video.write_bytes(bytes(range(256)) * 40)
    started = started or utcnow() - timedelta(hours=1)
    row = LiveSession(host_id=host.id, started_at=started, ended_at=started + timedelta(seconds=seconds),
                      end_reason=end_reason)
    session.add(row)
    session.flush()
    session.add(Recording(session_id=row.id, path=str(video)))
    session.commit()
    return row


def test_past_broadcasts_stay_listed_with_orders_sales_and_abnormal_ends(app, session, page_as, farmer):
    from datetime import datetime, timezone

    # 22:30 UTC on 1 December is 06:30 on 2 December in the village (Asia/Shanghai).
    row = ended_broadcast(session, app, farmer, end_reason="worker_lost",
                          started=datetime(2026, 12, 1, 22, 30, tzinfo=timezone.utc))
    product = factories.product(session, farmer, price_fen=1500, stock=10)
    factories.order(session, product, quantity=2, session_id=row.id)
    other = factories.user(session, "farmer", "li")
    ended_broadcast(session, app, other, seconds=30)
    page = page_as.get("/live/sessions").get_data(as_text=True)
    assert "异常结束" in page and "¥30.00" in page and "2 分钟" in page and "2026-12-02 06:30" in page
    assert page.count("broadcast-link") == 1, "another farmer's broadcast is not listed"
    home = page_as.get("/").get_data(as_text=True)
    assert "我的直播" in home


def test_the_recording_plays_and_seeks_through_an_authorized_route(app, session, page_as, farmer, client):
    row = ended_broadcast(session, app, farmer)
    record = page_as.get(f"/live/sessions/{row.id}").get_data(as_text=True)
    src = f"/live/sessions/{row.id}/recordings/{row.recordings[0].id}"
    assert f'<video class="recording-player" controls preload="metadata" src="{src}"' in record
    assert f"{src}?download=1" in record and ".mkv" not in visible_text(record)
    with page_as.get(src) as whole:
        assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    with page_as.get(src, headers={"Range": "bytes=100-199"}) as part:
        assert part.status_code == 206 and part.data == (bytes(range(256)) * 40)[100:200]
    with page_as.get(f"{src}?download=1") as download:
        assert "attachment" in download.headers["Content-Disposition"]
    stranger = app.test_client()
    factories.user(session, "farmer", "li")
    login(stranger, "li")
    assert stranger.get(src).status_code == 404


def test_a_recording_outside_the_recordings_folder_is_never_served(app, session, page_as, farmer, tmp_path):
    row = ended_broadcast(session, app, farmer)
    outside = tmp_path / "secret.mkv"
    outside.write_bytes(b"not yours")
    session.add(Recording(session_id=row.id, path=str(outside)))
    session.commit()
    rec = session.query(Recording).filter_by(path=str(outside)).one()
    assert page_as.get(f"/live/sessions/{row.id}/recordings/{rec.id}").status_code == 404


def test_a_phone_order_needs_only_product_quantity_and_a_phone_or_a_name(api_as, session, farmer):
    api = api_as(farmer)
    product = factories.product(session, farmer, price_fen=1800, stock=10)
    quick = api.post("/api/orders", json={"product_id": product.id, "quantity": 2, "buyer_phone": "13800138000",
                                          "channel": "phone"})
    assert quick.status_code == 201 and quick.json["address"] == "" and quick.json["total_fen"] == 3600
    named = api.post("/api/orders", json={"product_id": product.id, "quantity": 1, "buyer_name": "张三", "channel": "phone"})
    assert named.status_code == 201
    nobody = api.post("/api/orders", json={"product_id": product.id, "quantity": 1, "channel": "phone"})
    assert nobody.status_code == 400 and nobody.json["field"] == "buyer_phone" and "手机号或买家姓名" in nobody.json["error"]
    bad = api.post("/api/orders", json={"product_id": product.id, "quantity": 1, "buyer_phone": "123", "channel": "phone"})
    assert bad.status_code == 400 and bad.json["field"] == "buyer_phone"


def test_a_quick_order_is_handed_off_only_once_the_coordinator_completes_it(api_as, session, farmer):
    from orders import services as orders
    from orders.errors import WrongState

    coordinator = factories.user(session, "coordinator", "zhao")
    factories.user(session, "partner", "kuaidi")
    product = factories.product(session, farmer, stock=10)
    quick = api_as(farmer).post("/api/orders", json={"product_id": product.id, "quantity": 1,
                                                     "buyer_phone": "13800138000", "channel": "phone"}).json
    with pytest.raises(WrongState, match="补全"):
        orders.hand_off(session, actor=coordinator, order_ids=[quick["id"]], partner="kuaidi")
    session.rollback()
    orders.update_order(session, actor=coordinator, order_id=quick["id"], buyer_name="张三", address="巨鹿县 1 号")
    assert orders.hand_off(session, actor=coordinator, order_ids=[quick["id"]], partner="kuaidi").orders


def test_the_order_page_still_asks_for_the_whole_address(session, farmer):
    from orders import services as orders
    from orders.errors import OrderError

    product = factories.product(session, farmer)
    with pytest.raises(OrderError, match="地址") as caught:
        orders.log_order(session, actor=farmer, product_id=product.id, quantity=1, buyer_name="张三",
                         buyer_phone="13800138000", address="", channel="phone")
    assert caught.value.field == "address"


def test_the_console_offers_the_camera_microphone_quality_and_layout_remembered(session, page_as, farmer):
    session.add(HostProfile(user_id=farmer.id, video="testsrc", audio="none", preset="480p30", layout="portrait"))
    session.commit()
    page = page_as.get("/live/").get_data(as_text=True)
    for selected in ('value="testsrc" selected', 'value="none" selected', 'value="480p30" selected',
                     'value="portrait" selected'):
        assert selected in page


@pytest.mark.media
def test_going_live_remembers_the_choices_and_refuses_a_flash_sale_on_a_sold_out_product(
        api_as, session, farmer, flat_video):
    api = api_as(farmer)
    gone = factories.product(session, farmer, name="巨鹿小米", stock=0)
    started = api.post("/api/live/start", json={"video": str(flat_video), "audio": "none", "destinations": [],
                                                 "preset": "480p30", "layout": "landscape"})
    assert started.status_code == 201, started.json
    try:
        assert api.post("/api/live/show", json={"product_id": gone.id}).status_code == 200
        refused = api.post("/api/live/overlay", json={"countdown_s": 60})
        assert refused.status_code == 409 and "已售罄" in refused.json["error"]
    finally:
        assert api.post("/api/live/stop").status_code == 200
    session.expire_all()
    profile = session.get(HostProfile, farmer.id)
    assert (profile.video, profile.audio, profile.preset, profile.layout) == (str(flat_video), "none", "480p30", "landscape")


def test_the_start_button_waits_for_a_check_that_names_the_problem_and_what_to_do(api_as, page_as, session, farmer):
    page = page_as.get("/live/").get_data(as_text=True)
    assert re.search(r'<button type="button" id="btn-start" class="btn primary huge" disabled>', page)
    result = api_as(farmer).post("/api/live/checklist", json={"video": "/no/such/video.mp4", "audio": "none"}).json
    assert result["ready"] is False
    camera = next(c for c in result["checks"] if c["check"] == "camera")
    assert camera["level"] == "fail" and camera["todo"] and "/no/such" not in camera["say"] + camera["todo"]


def test_the_check_names_an_unreachable_platform(api_as, session, farmer):
    from live.models import StreamDestination

    session.add(StreamDestination(owner_id=farmer.id, platform="kuaishou", server_url="rtmp://127.0.0.1:1/live",
                                  stream_key="ks-key-1234"))
    session.commit()
    result = api_as(farmer).post("/api/live/checklist", json={
        "video": "testsrc", "audio": "none", "destinations": ["rtmp://127.0.0.1:1/live/ks-key-1234"]}).json
    says = [c["say"] for c in result["checks"]]
    assert "快手连不上" in says and "快手推流码已填好" in says
    assert not any("rtmp://" in c["say"] + c["todo"] for c in result["checks"])


def test_cards_and_the_order_form_show_the_price_in_force(session, page_as, farmer):
    now = utcnow()
    factories.product(session, farmer, name="巨鹿小米", price_fen=1800, promo_price_fen=1500,
                      promo_starts_at=now - timedelta(days=1), promo_ends_at=now + timedelta(days=1))
    text = visible_text(page_as.get("/live/").get_data(as_text=True))
    assert "¥15.00/斤" in text and "¥18.00" not in text


def test_the_console_uses_no_engineer_words(session, page_as, farmer):
    from live.models import StreamDestination

    factories.product(session, farmer)
    session.add(StreamDestination(owner_id=farmer.id, platform="douyin", server_url="rtmp://push.example/live",
                                  stream_key="secret-key-99"))
    session.commit()
    text = visible_text(page_as.get("/live/").get_data(as_text=True))
    for word in ("fps", "kbps", "rtmp://", "/path/", "CSV", ".mp4"):
        assert word not in text, word
    assert "抖音" in text


def test_sold_out_reads_the_same_on_every_screen(app, session, page_as, farmer):
    factories.product(session, farmer, name="巨鹿小米", stock=0)
    console = visible_text(page_as.get("/live/").get_data(as_text=True))
    assert "已售罄" in console and not re.search(r"库存\s+0", console)
    mine = visible_text(page_as.get("/catalog/").get_data(as_text=True))
    assert "无货" not in mine and "已售罄" in mine
    order_form = visible_text(page_as.get("/orders/new").get_data(as_text=True))
    assert "已售罄" in order_form and not re.search(r"库存\s+0", order_form)


def test_selling_points_are_kept_as_three_to_five_short_lines_and_printed_as_hand_cards(
        session, page_as, farmer):
    coordinator = factories.user(session, "coordinator", "zhao")
    product = catalog.create_product(session, actor=coordinator, name="巨鹿小米", unit="斤", price_fen=1800,
                                     stock=5, farmer=farmer, selling_points="颗颗饱满\n\n熬粥有米油\n合作社直发")
    session.commit()
    assert product.selling_point_lines == ["颗颗饱满", "熬粥有米油", "合作社直发"]
    assert catalog.product_to_dict(product)["selling_points"] == product.selling_point_lines
    catalog.update_product(session, product, coordinator, selling_points=["颗颗饱满", "合作社直发"])
    session.commit()
    assert product.selling_point_lines == ["颗颗饱满", "合作社直发"], "the API's list form is accepted back"
    with pytest.raises(InvalidProduct, match="最多 5 条"):
        catalog.update_product(session, product, coordinator, selling_points="\n".join("一二三四五六"))
    cards = visible_text(page_as.get("/live/cards").get_data(as_text=True))
    assert "合作社直发" in cards and "熬粥有米油" not in cards and "¥18.00/斤" in cards


def test_the_missing_buyer_message_is_english_on_english_pages(session, page_as, farmer):
    from tests.conftest import csrf_token

    product = factories.product(session, farmer, stock=5)
    page_as.set_cookie("cunbo_lang", "en")
    answer = page_as.post("/api/orders", json={"product_id": product.id, "quantity": 1, "channel": "phone"},
                          headers={"X-CSRFToken": csrf_token(page_as)})
    assert answer.status_code == 400 and answer.json["error"].startswith("Fill in a phone number or a name")
