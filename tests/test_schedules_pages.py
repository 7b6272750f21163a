"""Plan pages, the home panels (today's broadcast, pre-flight problems in words), the poster."""
from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from schedules import poster
from tests import factories
from tests.conftest import login

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture
def people(session):
    farmer = factories.user(session, "farmer", "wang", display_name="王大姐", village="巨鹿村")
    coordinator = factories.user(session, "coordinator", "zhan", display_name="詹站长")
    rice = factories.product(session, farmer, name="巨鹿小米", price_fen=1800)
    return farmer, coordinator, rice


def in_minutes(n: float) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=n)


def later_today(n: float) -> datetime:
    """``n`` minutes from now; when that is already tomorrow in the village (the home shows
    today's broadcasts only), a start 10 minutes ago instead: a 30-minute slot still running."""
    start = in_minutes(n)
    if start.astimezone(SHANGHAI).date() != datetime.now(SHANGHAI).date():
        start = in_minutes(-10)
    return start


def test_a_coordinator_plans_through_the_form_and_sees_it_on_the_week_calendar(app, client, people):
    farmer, coordinator, rice = people
    login(client, "zhan")
    page = client.get("/broadcasts/new")
    assert page.status_code == 200
    token = client.get("/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    start = datetime.now(SHANGHAI) + timedelta(days=1)
    answer = client.post("/broadcasts/new", data={
        "csrf_token": token, "title": "巨鹿小米早市", "host": "wang", "day": start.date().isoformat(), "at": "06:00",
        "duration_min": "60", "repeat": "daily", "lineup": [str(rice.id)], "video": "0", "audio": "default",
        "auto_start": "1"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    week = client.get(f"/broadcasts/?week={start.date().isoformat()}").get_data(as_text=True)
    assert "巨鹿小米早市" in week and "06:00–07:00" in week
    by_farmer = client.get(f"/broadcasts/?week={start.date().isoformat()}&by=farmer").get_data(as_text=True)
    assert "王大姐" in by_farmer and "巨鹿小米早市" in by_farmer
    clash = client.post("/broadcasts/new", data={
        "csrf_token": token, "title": "撞车", "host": "wang", "day": start.date().isoformat(), "at": "06:30",
        "duration_min": "30", "repeat": "", "video": "0", "audio": "default", "auto_start": "1"})
    assert clash.status_code == 400 and "巨鹿小米早市" in clash.get_data(as_text=True)


def test_the_farmers_home_shows_todays_broadcast_with_a_countdown_and_one_button(app, client, api_as, people):
    farmer, coordinator, rice = people
    api = api_as(coordinator)
    start = later_today(40)
    assert api.post("/api/broadcasts", json={"title": "傍晚小米", "host": "wang", "starts_at": start.isoformat(),
                                             "duration_min": 30}).status_code == 201
    login(client, "wang")
    home = client.get("/").get_data(as_text=True)
    assert "今天的直播" in home and "傍晚小米" in home
    assert f'data-starts="{start.timestamp()}"' in home
    assert home.count("进入直播间") == 1


def test_a_broadcast_just_after_midnight_shows_on_the_home_pages_the_evening_before(app, client, api_as, people,
                                                                                     monkeypatch):
    """At 23:55 a 00:05 broadcast is the farmer's next one (its pre-flight runs at 23:50), marked
    as tomorrow's; one at 06:00 is too far off to show yet."""
    from app.broadcasts import routes

    farmer, coordinator, rice = people
    api = api_as(coordinator)
    midnight = datetime.combine(datetime.now(SHANGHAI).date() + timedelta(days=1), datetime.min.time(), SHANGHAI)
    monkeypatch.setattr(routes, "_now", lambda: midnight - timedelta(minutes=5))
    for title, start in (("零点小米", midnight + timedelta(minutes=5)), ("清早蜂蜜", midnight + timedelta(hours=6))):
        assert api.post("/api/broadcasts", json={"title": title, "host": "wang", "starts_at": start.isoformat(),
                                                 "duration_min": 30}).status_code == 201
    login(client, "wang")
    farmer_home = client.get("/").get_data(as_text=True)
    assert "明天的直播" in farmer_home and "零点小米" in farmer_home and "今天的直播：" not in farmer_home
    assert "清早蜂蜜" not in farmer_home
    station = app.test_client()
    login(station, "zhan")
    station_home = station.get("/").get_data(as_text=True)
    assert "明天 00:05" in station_home and "零点小米" in station_home and "清早蜂蜜" not in station_home
    monkeypatch.setattr(routes, "_now", lambda: midnight - timedelta(hours=4))
    assert "零点小米" not in client.get("/").get_data(as_text=True), "four hours before it is not on the panel yet"


def test_an_expired_douyin_push_key_shows_on_both_home_pages_in_words(app, client, api_as, people, rtmp_server):
    farmer, coordinator, rice = people
    api = api_as(coordinator)
    expired = int(time.time()) - 3600
    url = rtmp_server.url("douyin-key") + f"?expire={expired}&sign=abc123"
    start = in_minutes(10)
    plan = api.post("/api/broadcasts", json={"title": "抖音早市", "host": "wang", "starts_at": start.isoformat(),
                                             "duration_min": 30, "destinations": [url], "video": "testsrc",
                                             "audio": "none"}).json
    report = app.extensions["cunbo.scheduler"].planner.tick()
    assert report.preflighted, "15 minutes before, the pre-flight ran"
    run = api.get(f"/api/broadcasts/{plan['id']}/runs").json[0]
    assert any("过期" in p and "推流地址" in p for p in run["preflight_problems"]), run
    login(client, "wang")
    farmer_home = client.get("/").get_data(as_text=True)
    assert "就过期了" in farmer_home and "重新获取推流地址" in farmer_home
    assert "sign=abc123" not in farmer_home, "the key stays masked"
    other = app.test_client()
    login(other, "zhan")
    station_home = other.get("/").get_data(as_text=True)
    assert "王大姐" in station_home and "就过期了" in station_home
    assert not app.extensions["cunbo.scheduler"].planner.tick().preflighted, "once per slot, not retried silently"


def _text_area(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png)).convert("L")
    return np.asarray(image.crop(poster.TITLE_BOX), dtype=np.int16)


def test_the_poster_text_is_real_chinese_not_boxes(app, api_as, people):
    farmer, coordinator, rice = people
    api = api_as(coordinator)
    plan = api.post("/api/broadcasts", json={"title": "巨鹿小米早市", "host": "wang", "lineup": [rice.id],
                                             "starts_at": "2030-03-04T06:00:00+08:00", "duration_min": 60}).json
    response = api.get(f"/api/broadcasts/{plan['id']}/poster.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.size == (poster.WIDTH, poster.HEIGHT)

    def render(title: str, font: str | None = None) -> bytes:
        return poster.render(poster.PosterInfo(title, "3月4日 周一 06:00–07:00", "王大姐",
                                               [poster.PosterProduct("巨鹿小米", "¥18.00/斤")]), font)

    # A Latin-only font draws every Chinese character as the same empty box: two different
    # titles of the same length look alike. The CJK font draws different glyphs.
    latin_a, latin_b = _text_area(render("巨鹿小米早市", LATIN_FONT)), _text_area(render("河北红枣晚场", LATIN_FONT))
    cjk_a, cjk_b = _text_area(render("巨鹿小米早市")), _text_area(render("河北红枣晚场"))
    assert np.abs(latin_a - latin_b).mean() < 1.0, "the Latin font shows boxes (the control)"
    assert np.abs(cjk_a - cjk_b).mean() > 5.0, "the poster draws the real characters"
    assert np.abs(cjk_a - latin_a).mean() > 5.0
    assert np.abs(_text_area(response.data) - cjk_a).mean() < 1.0, "the served poster is the CJK render"


def test_the_poster_shows_the_products_photo_and_price_in_force(app, api_as, people, session):
    from catalog.photos import add_photo

    farmer, coordinator, rice = people
    add_photo(session, app.config["DATA_DIR"], rice, factories.image_bytes((400, 400), color="red"), coordinator)
    session.commit()
    plan = api_as(coordinator).post("/api/broadcasts", json={
        "title": "巨鹿小米早市", "host": "wang", "lineup": [rice.id], "starts_at": "2030-03-04T06:00:00+08:00",
        "duration_min": 60}).json
    image = Image.open(io.BytesIO(api_as(coordinator).get(f"/api/broadcasts/{plan['id']}/poster.png").data))
    photo = np.asarray(image.convert("RGB").crop((76, 485, 246, 655)), dtype=np.int16)
    left, right = photo[:, :60].mean(axis=(0, 1)), photo[:, -60:].mean(axis=(0, 1))
    assert left[2] > 150 and left[0] < 80, f"the photo's blue half is there: {left}"
    assert right[0] > 150 and right[2] < 80, f"and its red half: {right}"
