"""The partner saves tracking numbers in Chromium: in place, without the page jumping to the top;
a refused number keeps what was typed and marks the field; pick-up addresses are on the batch."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from orders import services as orders
from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def tap_save(page: Page, row) -> int:  # type: ignore[no-untyped-def]
    """Click the row's 保存 where it is on screen, as a person would (a locator click may scroll
    first), and return the scroll position from which the page must not move."""
    button = row.get_by_role("button", name="保存")
    button.scroll_into_view_if_needed()
    page.wait_for_function("() => { const y = window.scrollY; return new Promise("
                           "r => requestAnimationFrame(() => r(window.scrollY === y))); }")
    before = page.evaluate("window.scrollY")
    box = button.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return before


@pytest.mark.parametrize("width, height", [(1366, 768), (1024, 600)])
def test_partner_saves_tracking_numbers_in_place_and_a_bad_one_is_kept_and_marked(
    page: Page, server_url, session, screenshot_dir, width, height
):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐", phone="13911112222",
                          pickup_address="王家村二组 8 号")
    coord = factories.user(session, "coordinator", "coord", display_name="村服务站")
    coop = factories.user(session, "partner", "coop", display_name="县物流合作社")
    rice = factories.product(session, wang, name="富硒大米", price_fen=2550, stock=100)
    placed = [factories.order(session, rice, buyer_name=f"买家{i}") for i in range(12)]
    handoff = factories.handoff(session, placed, coord, coop)
    orders.ack_handoff(session, actor=coop, handoff_id=handoff.id)
    session.commit()

    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, server_url, "coop")
    page.goto(f"{server_url}/handoffs/{handoff.id}")
    expect(page.locator("#pickups")).to_contain_text("王家村二组 8 号")
    expect(page.locator("#pickups")).to_contain_text("13911112222")
    page.screenshot(path=str(screenshot_dir / f"handoffs-ship-01-batch-{width}x{height}.png"))

    page.evaluate("window.__sameDocument = true")
    row = page.locator(f"#order-{placed[9].id}")
    row.get_by_label("快递公司").fill("中国邮政")
    row.get_by_label("运单号").fill("YZ20260009")
    before = tap_save(page, row)
    assert before > 0, "the row is below the fold"
    expect(row.locator(".ship-message")).to_have_text(f"订单 #{placed[9].id} 已发货")
    expect(row).to_be_in_viewport()
    expect(row.locator("td.status .badge")).to_have_text("已发货")
    assert page.evaluate("window.__sameDocument") is True, "the page did not reload"
    assert page.evaluate("window.scrollY") == before, "the page did not jump"

    bad = page.locator(f"#order-{placed[10].id}")
    bad.get_by_label("快递公司").fill("顺丰")
    bad.get_by_label("运单号").fill("12")
    before = tap_save(page, bad)
    expect(bad.locator(".ship-message")).to_contain_text("运单号不对")
    assert page.evaluate("window.scrollY") == before, "the page did not jump"
    expect(bad.get_by_label("运单号")).to_have_attribute("aria-invalid", "true")
    expect(bad.get_by_label("运单号")).to_have_value("12")
    expect(bad.get_by_label("快递公司")).to_have_value("顺丰")
    expect(bad.get_by_label("快递公司")).not_to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(screenshot_dir / f"handoffs-ship-02-saved-and-refused-{width}x{height}.png"))

    # A page left open past its CSRF token's life says so instead of "connection lost".
    stale = page.locator(f"#order-{placed[11].id}")
    stale.locator("input[name=csrf_token]").evaluate("input => { input.value = 'expired'; }")
    stale.get_by_label("快递公司").fill("中通")
    stale.get_by_label("运单号").fill("ZT20260011")
    stale.get_by_role("button", name="保存").click()
    expect(stale.locator(".ship-message")).to_have_text("页面已过期，请刷新后重新提交。")
    expect(stale.get_by_label("运单号")).to_have_value("ZT20260011")
    session.expire_all()
    assert orders.get_order(session, coord, placed[9].id).tracking_no == "YZ20260009"
    assert orders.get_order(session, coord, placed[10].id).status == "handed_off"


def test_without_javascript_saving_comes_back_to_the_same_row(browser, server_url, session, screenshot_dir):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    coord = factories.user(session, "coordinator", "coord")
    coop = factories.user(session, "partner", "coop")
    rice = factories.product(session, wang, name="富硒大米", price_fen=2550, stock=100)
    placed = [factories.order(session, rice, buyer_name=f"买家{i}") for i in range(12)]
    handoff = factories.handoff(session, placed, coord, coop)
    orders.ack_handoff(session, actor=coop, handoff_id=handoff.id)
    session.commit()
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1024, "height": 600})
    page = context.new_page()
    try:
        browser_login(page, server_url, "coop")
        page.goto(f"{server_url}/handoffs/{handoff.id}")
        row = page.locator(f"#order-{placed[11].id}")
        row.get_by_label("快递公司").fill("中通")
        row.get_by_label("运单号").fill("ZT20260011")
        row.get_by_role("button", name="保存").click()
        expect(page.get_by_text(f"订单 #{placed[11].id} 已发货")).to_be_visible()
        assert page.url.endswith(f"#order-{placed[11].id}")
        # The browser scrolls to the row once the page is laid out (after its styles arrived),
        # which on a busy PC can come after the message is already in the DOM.
        for _ in range(50):
            if page.evaluate("window.scrollY") > 0:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("window.scrollY") > 0, "the browser is back at the row, not at the top"
        row.get_by_label("运单号").fill("x")
        row.get_by_role("button", name="保存").click()
        expect(row.get_by_label("运单号")).to_have_value("x")
        expect(row.get_by_label("运单号")).to_have_attribute("aria-invalid", "true")
        assert page.evaluate("window.scrollY") > 0
        page.screenshot(path=str(screenshot_dir / "handoffs-ship-03-no-javascript-1024x600.png"))
    finally:
        context.close()
