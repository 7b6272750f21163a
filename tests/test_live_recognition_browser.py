"""The console in suggest mode, in headless Chromium: the farmer holds up the honey, the console
asks 「是不是 槐花蜂蜜？」, one tap puts its price card on the video."""
from __future__ import annotations


import pytest
from playwright.sync_api import Page, expect

from live.models import HostProfile
from tests import factories
from tests import recognition_video as rv
from tests.conftest import browser_login
from tests.live_helpers import wait_until
from tests.test_live_recognition import products_with_photos

pytestmark = pytest.mark.browser
SMALL = {"width": 1024, "height": 600}
LARGE = {"width": 1366, "height": 768}


def test_suggest_asks_about_the_product_held_up_and_one_tap_shows_it(page: Page, app, server_url, session, media_dir,
                                                                     tmp_path, screenshot_dir):
    farmer = factories.user(session, "farmer", "zhao", display_name="赵大哥", village="东山村")
    honey, _, fungus = products_with_photos(app, session, farmer, tmp_path / "photos")
    video = media_dir / "recognition-browser.avi"
    if not video.exists():
        rv.render(video, fps=12, script=[rv.Stretch(None, 1.0), rv.Stretch(0, 25.0)])
    # A returning farmer: the console remembers the camera (a video file in the media folder, as
    # their webcam would be) and no microphone; recognition was never turned on.
    session.add(HostProfile(user_id=farmer.id, video=str(video), audio="none", preset="480p30",
                            layout="landscape", qr_text=""))
    session.commit()
    page.set_viewport_size(SMALL)
    browser_login(page, server_url, "zhao")
    page.goto(f"{server_url}/live/")
    expect(page.locator("#recognition")).to_have_value("off")
    start = page.get_by_role("button", name="开始直播")
    expect(page.locator("#message")).to_have_text("设备都正常，可以开播", timeout=20_000)
    expect(start).to_be_enabled()
    with page.expect_response("**/api/live/start") as started:
        start.click()
    assert started.value.status == 201, started.value.text()
    expect(page.locator("#health")).to_contain_text("正常", timeout=20_000)
    live = app.extensions["cunbo.live"]
    try:
        page.locator(".pcard", has_text="黑木耳").click()  # the card shows another product
        assert wait_until(lambda: live.status()["product_id"] == fungus)
        page.get_by_label("认商品").select_option("suggest")
        expect(page.locator("#suggest-text")).to_have_text("是不是 槐花蜂蜜？", timeout=8_000)
        assert live.status()["product_id"] == fungus, "suggest never switches by itself"
        expect(page.get_by_role("button", name="是，换上")).to_be_in_viewport()
        page.screenshot(path=str(screenshot_dir / "live-recognition-suggest-1024x600.png"))
        page.set_viewport_size(LARGE)
        expect(page.get_by_role("button", name="是，换上")).to_be_in_viewport()
        page.screenshot(path=str(screenshot_dir / "live-recognition-suggest-1366x768.png"))
        page.get_by_role("button", name="是，换上").click()
        assert wait_until(lambda: live.status()["product_id"] == honey, timeout=3.0)
        expect(page.locator("#suggest")).to_be_hidden(timeout=3_000)
        expect(page.locator(".pcard", has_text="槐花蜂蜜")).to_have_class("pcard on-air")
    finally:
        live.stop()
    page.goto(f"{server_url}/live/")  # the next morning's console starts in the mode chosen
    expect(page.locator("#recognition")).to_have_value("suggest")


def test_the_english_console_names_the_modes(page: Page, app, server_url, session) -> None:
    factories.user(session, "farmer", "li")
    browser_login(page, server_url, "li")
    page.goto(f"{server_url}/lang/en")
    page.goto(f"{server_url}/live/")
    expect(page.locator("#recognition option")).to_have_text(["Off", "Suggest what it sees", "Switch the price card itself"])
