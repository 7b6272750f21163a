"""Issue 16's "done when": a farmer's whole morning at 1024×600 in headless Chromium, counted.

PIN login → the console (the device check runs by itself) → go live → show 3 products → a 60 s
flash sale → a phone order (quantity and phone only) → stop → open the broadcast from 我的直播 and
play its recording. Every click and keystroke after login goes through :class:`Hands`, which
counts them; the page must never scroll. A screenshot of each step at 1024×600 and 1366×768.

The farmer has been live before: the console remembers the camera (here a video file in the
media folder, as a returning farmer's webcam would be remembered) and the microphone (none).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from live.models import HostProfile, LiveSession
from orders.models import Order
from tests import factories
from tests.live_helpers import wait_until

pytestmark = pytest.mark.browser
SMALL = {"width": 1024, "height": 600}
# WCAG contrast of an element's text colour against the first opaque background behind it.
CONTRAST = """(selector) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  let el = document.querySelector(selector);
  const fg = lum(rgb(getComputedStyle(el).color));
  let bg = null;
  for (; el && !bg; el = el.parentElement) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) bg = c;
  }
  const b = lum(bg || [255, 255, 255]);
  return (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
}"""
LARGE = {"width": 1366, "height": 768}


class Hands:
    """The farmer's clicks and keystrokes, counted; each checks that the page did not scroll and
    that what is tapped is already on screen (Playwright would scroll it into view)."""

    def __init__(self, page: Page) -> None:
        self.page, self.clicks, self.keys = page, 0, 0

    def _no_scroll(self) -> None:
        scrolled = self.page.evaluate("[window.scrollX, window.scrollY, document.documentElement.scrollHeight > window.innerHeight + 1, document.documentElement.scrollWidth > window.innerWidth + 1]")
        assert scrolled == [0, 0, False, False], f"the page scrolls: {scrolled}"

    def tap(self, target: Locator) -> None:
        expect(target).to_be_in_viewport()
        box = target.bounding_box()
        assert box and box["height"] >= 44, f"too small to tap: {box}"
        self._no_scroll()
        target.click()
        self.clicks += 1

    def confirm_next_dialog(self) -> None:
        """The browser's 确定 on the stop question: one more click."""
        self.page.once("dialog", lambda dialog: dialog.accept())
        self.clicks += 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.keys += len(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.keys += 1


def shots(page: Page, screenshot_dir: Path, name: str, hands: Hands) -> None:
    """The step at 1024×600 (as the farmer sees it) and at 1366×768; back to 1024×600 after."""
    hands._no_scroll()
    page.screenshot(path=str(screenshot_dir / f"farmer-{name}-1024x600.png"))
    page.set_viewport_size(LARGE)
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshot_dir / f"farmer-{name}-1366x768.png"))
    page.set_viewport_size(SMALL)
    page.wait_for_timeout(300)


def test_a_farmer_goes_live_sells_and_watches_the_recording_in_few_taps(
        page: Page, app, server_url, session, flat_video, screenshot_dir):
    farmer = factories.user(session, "farmer", "wang", display_name="王大姐", village="西王庄", pin="1234")
    session.add(HostProfile(user_id=farmer.id, video=str(flat_video), audio="none", preset="540p30",
                            layout="landscape", qr_text=""))
    session.commit()
    names = ["巨鹿小米", "槐花蜂蜜", "金银花茶"]
    products = [factories.product(session, farmer, name=name, price_fen=1800 + 700 * n, stock=20, link_no=n + 1,
                                  selling_points="今年新米，颗颗饱满\n小火熬粥有米油\n村里合作社直发")
                for n, name in enumerate(names)]
    page.set_viewport_size(SMALL)

    # PIN login (not counted: the issue counts from the home page on).
    page.goto(f"{server_url}/auth/pin")
    page.get_by_text("王大姐").click()
    for digit in "1234":
        page.locator(f".keypad .key[data-key='{digit}']").click()
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="您好", exact=False)).to_be_visible()
    hands = Hands(page)
    assert page.evaluate(CONTRAST, ".home-card.primary .hint") >= 4.5, "the hint on the red card is readable"
    for link in page.locator(".topbar a, .topbar button").all():
        box = link.bounding_box()
        assert box and box["height"] >= 44, f"header target too small: {link.inner_text()} {box}"
    shots(page, screenshot_dir, "01-home", hands)

    hands.tap(page.locator(".home-card.primary"))
    start = page.get_by_role("button", name="开始直播")
    expect(page.locator("#message")).to_have_text("设备都正常，可以开播", timeout=20_000)
    expect(start).to_be_enabled()
    shots(page, screenshot_dir, "02-checked", hands)

    hands.tap(start)
    expect(page.locator("#health")).to_have_text("正常：只录像", timeout=20_000)
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0", timeout=10_000)
    cards = page.locator(".pcard")
    expect(cards.nth(0)).to_have_class("pcard on-air")
    expect(page.locator("#points-list li")).to_have_count(3)
    hands.tap(cards.nth(1))
    expect(cards.nth(1)).to_have_class("pcard on-air")
    hands.tap(cards.nth(2))
    expect(cards.nth(2)).to_have_class("pcard on-air")
    expect(page.locator("#points-name")).to_have_text("金银花茶")
    stop_at = page.locator("#btn-stop").bounding_box()
    shots(page, screenshot_dir, "03-third-product", hands)

    live = app.extensions["cunbo.live"]
    hands.tap(page.get_by_role("button", name="60秒"))
    expect(page.locator("#countdown-state")).to_contain_text("抢购倒计时")
    assert wait_until(lambda: live.scene.countdown_ends_at is not None)
    page.wait_for_timeout(700)
    shots(page, screenshot_dir, "04-flash-sale", hands)

    hands.tap(page.get_by_role("button", name="记一单"))
    expect(page.locator("#order-dialog")).to_be_visible()
    expect(page.locator("#order-product")).to_have_value(str(products[2].id))
    hands.type("2")  # the quantity field is focused with its 1 selected
    hands.press("Tab")
    hands.type("13800138000")
    shots(page, screenshot_dir, "05-phone-order", hands)
    hands.press("Enter")
    expect(page.locator("#message")).to_contain_text("已记下一单")
    expect(page.locator("#tally-orders")).to_have_text("1", timeout=5_000)
    expect(page.locator("#tally-gmv")).to_have_text("¥64.00")
    assert page.locator("#btn-stop").bounding_box() == stop_at, "the message did not move 结束直播"
    shots(page, screenshot_dir, "06-order-logged", hands)

    hands.confirm_next_dialog()
    hands.tap(page.get_by_role("button", name="结束直播"))
    expect(page.locator("#summary-link")).to_be_visible(timeout=20_000)
    # The broadcast's result, at once where the device check was, one tap from the whole report.
    expect(page.locator("#after")).to_be_visible()
    expect(page.locator("#after-orders")).to_have_text("1")
    expect(page.locator("#after-gmv")).to_have_text("¥64.00")
    expect(page.locator("#after-best")).to_have_text("第 1 分钟 · ¥64.00")
    expect(page.locator("#after-sold-out")).to_have_text("没有")
    report_link = page.get_by_role("link", name="看完整复盘")
    expect(report_link).to_be_in_viewport()
    assert report_link.bounding_box()["height"] >= 44
    assert report_link.get_attribute("href").endswith("/report")
    shots(page, screenshot_dir, "07-stopped", hands)

    hands.tap(page.get_by_role("link", name="我的直播"))
    expect(page.get_by_role("heading", name="我的直播")).to_be_visible()
    shots(page, screenshot_dir, "08-my-broadcasts", hands)
    hands.tap(page.locator(".broadcast-link").first)
    video = page.locator("video.recording-player")
    expect(video).to_be_visible()
    page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=10_000)
    page.evaluate("document.querySelector('video').muted = true")
    hands.tap(page.get_by_role("button", name="播放录像"))
    page.wait_for_function("document.querySelector('video').currentTime > 0.5", timeout=10_000)
    expect(page.locator(".play-recording")).to_contain_text("暂停")
    shots(page, screenshot_dir, "09-playing", hands)
    # The player seeks (the route answers Range requests): jump near the end and it plays on from there.
    page.evaluate("(v => { v.currentTime = Math.max(0, v.duration - 1.5); })(document.querySelector('video'))")
    page.wait_for_function("(v => v.currentTime >= v.duration - 1.5 && !v.seeking)(document.querySelector('video'))",
                           timeout=10_000)

    order = session.query(Order).one()
    assert (order.quantity, order.buyer_phone, order.buyer_name, order.address) == (2, "13800138000", "", "")
    record = session.query(LiveSession).one()
    assert [s.product_id for s in record.segments] == [p.id for p in products]
    print(f"\nfarmer journey after login: {hands.clicks} clicks, {hands.keys} keystrokes")
    assert hands.clicks <= 12 and hands.keys <= 15, (hands.clicks, hands.keys)
