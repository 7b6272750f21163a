"""The contest board in Chromium: it moves by itself when an order comes in from another client, and
the projector fills 1920×1080 legibly. Screenshots at 1920×1080, 1366×768 and 1024×600."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from db import utcnow
from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser

NAMES = ["王大姐", "李大哥", "赵阿姨", "孙小妹", "周大叔", "吴二嫂", "郑老汉", "冯家妹子", "陈师傅", "褚大娘", "卫小哥",
         "蒋婶"]


def _field(session, count: int):
    trainer = factories.user(session, "trainer", "jiangshi", display_name="张老师")
    farmers = [factories.user(session, "farmer", f"farmer{i}", display_name=name) for i, name in enumerate(NAMES[:count])]
    products = [factories.product(session, f, name=f"高山土豆{i}", price_fen=1000, stock=10_000)
                for i, f in enumerate(farmers)]
    return trainer, farmers, products


def test_the_board_moves_by_itself_when_an_order_is_logged_elsewhere(page: Page, server_url, session, api_as,
                                                                      screenshot_dir):
    trainer, farmers, products = _field(session, 3)
    contest = factories.contest(session, trainer, farmers, title="冬季土豆直播大赛")
    factories.order(session, products[0], quantity=5)  # 王大姐 ¥50
    factories.order(session, products[1], quantity=3)  # 李大哥 ¥30

    page.set_viewport_size({"width": 1366, "height": 768})
    browser_login(page, server_url, "jiangshi")
    page.goto(f"{server_url}/contests/{contest.id}")
    first_cells = page.locator("#board tbody tr td:nth-child(2)")
    expect(first_cells.first).to_have_text("王大姐")
    page.screenshot(path=str(screenshot_dir / "contests-01-board-1366.png"), full_page=True)

    # 李大哥 logs a big order from his own phone's session (another client, through the API).
    answer = api_as(farmers[1]).post("/api/orders", json={
        "product_id": products[1].id, "quantity": 10, "buyer_name": "张三", "buyer_phone": "13800138000",
        "address": "兰州市城关区 1 号", "channel": "douyin"})
    assert answer.status_code == 201
    expect(first_cells.first).to_have_text("李大哥", timeout=15_000)  # no reload: the page polls
    expect(page.locator("#board tbody tr").first.locator("td.money").first).to_have_text("¥130.00")
    page.screenshot(path=str(screenshot_dir / "contests-02-board-moved-1366.png"), full_page=True)

    page.set_viewport_size({"width": 1024, "height": 600})
    page.screenshot(path=str(screenshot_dir / "contests-03-board-1024.png"), full_page=True)
    page.get_by_role("link", name="李大哥").first.click()
    expect(page.get_by_role("heading", name="李大哥")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "contests-04-person-1024.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.goto(f"{server_url}/contests/new")
    page.screenshot(path=str(screenshot_dir / "contests-05-new-1024.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{server_url}/contests/{contest.id}/manage")
    expect(page.get_by_role("heading", name="计分规则")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "contests-08-manage-1366.png"), full_page=True)
    page.goto(f"{server_url}/")
    expect(page.get_by_text("1 场进行中")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "contests-09-trainer-home-1366.png"))


def test_the_projector_shows_the_top_ten_at_1920_by_1080(page: Page, server_url, session, api_as, screenshot_dir):
    trainer, farmers, products = _field(session, 12)
    now = utcnow()
    contest = factories.contest(session, trainer, farmers, title="高台县农村直播电商大赛",
                                starts_at=now - timedelta(days=2), ends_at=now + timedelta(hours=5, minutes=7))
    for i, product in enumerate(products):
        factories.order(session, product, quantity=(12 - i) * 7 + 3)

    page.set_viewport_size({"width": 1920, "height": 1080})
    browser_login(page, server_url, "jiangshi")
    page.goto(f"{server_url}/contests/{contest.id}/projector")
    bars = page.locator("#bars .bar-row")
    expect(bars).to_have_count(10)
    expect(bars.first.locator(".who")).to_have_text("王大姐")
    expect(page.locator("#time-left")).to_contain_text(":")
    # Legible from the back of a hall: names at least 40 px high, nothing spilling off the screen.
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.bar-row .who')).fontSize)")
    assert size >= 40
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")
    page.screenshot(path=str(screenshot_dir / "contests-06-projector-1920.png"))

    answer = api_as(farmers[11]).post("/api/orders", json={
        "product_id": products[11].id, "quantity": 200, "buyer_name": "张三", "buyer_phone": "13800138000",
        "address": "兰州市城关区 1 号", "channel": "douyin"})
    assert answer.status_code == 201
    expect(bars.first.locator(".who")).to_have_text("蒋婶", timeout=15_000)
    page.screenshot(path=str(screenshot_dir / "contests-07-projector-moved-1920.png"))

    # A smaller projector (1280×720) still shows all ten without scrolling.
    page.set_viewport_size({"width": 1280, "height": 720})
    expect(bars).to_have_count(10)
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")
    page.screenshot(path=str(screenshot_dir / "contests-10-projector-1280.png"))
