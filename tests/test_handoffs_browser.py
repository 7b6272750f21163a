"""The hand-off journey in Chromium: the coordinator filters and hands five orders to the partner and
prints the manifest; the partner logs in, confirms pick-up and enters tracking numbers."""
from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser


log_in = browser_login


def test_coordinator_hands_five_orders_to_the_partner_who_picks_up_and_ships(
    page: Page, server_url, session, screenshot_dir, tmp_path
):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    zhao = factories.user(session, "farmer", "zhao", display_name="赵大哥")
    factories.user(session, "coordinator", "coord", display_name="村服务站")
    factories.user(session, "partner", "coop", display_name="县物流合作社")
    rice = factories.product(session, wang, name="富硒大米", price_fen=2550, stock=100)
    eggs = factories.product(session, zhao, name="土鸡蛋", unit="盒", price_fen=3000, stock=100)
    streets = ["文三路", "中山路", "解放路", "人民路", "建设路", "和平路"]
    for i, street in enumerate(streets):
        factories.order(session, rice, quantity=i + 1, buyer_name=f"买家{i + 1}", address=f"杭州市{street} {i + 1} 号",
                        channel="douyin")
    factories.order(session, eggs, buyer_name="鸡蛋买家", channel="wechat")

    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, server_url, "coord")
    expect(page.get_by_text("7 单待交接")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "handoffs-01-coordinator-home.png"))

    page.get_by_role("link", name=re.compile(r"^订单")).first.click()
    page.get_by_label("农户").select_option("wang")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("table.orders-table tbody tr")).to_have_count(6)
    expect(page.get_by_text("鸡蛋买家")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "handoffs-02-orders-filtered.png"), full_page=True)

    page.get_by_role("link", name="交接给发货方").first.click()
    page.get_by_label("农户").select_option("wang")
    page.get_by_label("渠道").select_option("douyin")
    page.get_by_role("button", name="筛选").click()
    boxes = page.locator('input[name="order_ids"]')
    expect(boxes).to_have_count(6)
    for i in range(5):
        boxes.nth(i).check()
    expect(page.locator("#picked")).to_have_text("已选 5 单，5 件包裹")
    page.get_by_label("交给哪个发货方").select_option("coop")
    page.screenshot(path=str(screenshot_dir / "handoffs-03-pick-five.png"), full_page=True)
    page.get_by_role("button", name="交接", exact=True).click()
    expect(page.get_by_text("已建交接单")).to_be_visible()
    expect(page.locator("table.shipments tbody tr")).to_have_count(5)
    batch_url = page.url

    page.get_by_role("link", name="打印交接单").click()
    expect(page.get_by_text("共 5 单，5 件包裹")).to_be_visible()
    expect(page.get_by_text("取件人（发货方）签字")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "handoffs-04-manifest.png"), full_page=True)
    page.emulate_media(media="print")
    page.pdf(path=str(tmp_path / "printed.pdf"), format="A4", landscape=True)
    printed = subprocess.run(["pdftotext", str(tmp_path / "printed.pdf"), "-"], capture_output=True, text=True,
                             check=True).stdout
    assert "富硒大米" in printed and "打印" not in printed  # the buttons do not print
    page.emulate_media(media="screen")

    page.goto(f"{server_url}/")
    page.locator("form[action$='/auth/logout'] button").click()
    log_in(page, server_url, "coop")
    expect(page.get_by_text("1 个待取件")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "handoffs-05-partner-home.png"))
    page.get_by_role("link", name="待取件的交接单").click()
    page.locator(".handoff-card").first.click()
    assert page.url == batch_url
    page.get_by_role("button", name="确认已取件").click()
    expect(page.get_by_text("已确认取件")).to_be_visible()

    for i, row in enumerate(page.locator("table.shipments tbody tr").all()):
        row.get_by_label("快递公司").fill("中国邮政")
        row.get_by_label("运单号").fill(f"YZ2026{i:06d}")
        row.get_by_role("button", name="保存").click()
        expect(page.get_by_text("已发货", exact=False).first).to_be_visible()
    expect(page.locator("table.shipments .badge", has_text="已发货")).to_have_count(5)
    page.screenshot(path=str(screenshot_dir / "handoffs-06-partner-shipped.png"), full_page=True)

    page.set_viewport_size({"width": 800, "height": 1280})
    page.screenshot(path=str(screenshot_dir / "handoffs-07-partner-tablet.png"), full_page=True)


def test_the_running_count_says_one_and_many_in_english(page: Page, server_url, session, screenshot_dir):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    factories.user(session, "coordinator", "coord", display_name="村服务站")
    factories.user(session, "partner", "coop", display_name="县物流合作社")
    rice = factories.product(session, wang, name="富硒大米", price_fen=2550, stock=100)
    for i in range(2):
        factories.order(session, rice, quantity=i + 1, buyer_name=f"买家{i + 1}", address=f"杭州市文三路 {i + 1} 号")
    page.set_viewport_size({"width": 1024, "height": 600})
    log_in(page, server_url, "coord")
    page.get_by_role("link", name="English").click()
    page.goto(f"{server_url}/handoffs/new")
    boxes = page.locator('input[name="order_ids"]')
    expect(boxes).to_have_count(2)
    packages = [int(boxes.nth(i).get_attribute("data-packages") or 1) for i in range(2)]
    boxes.nth(0).check()
    parcels = "1 parcel" if packages[0] == 1 else f"{packages[0]} parcels"
    expect(page.locator("#picked")).to_have_text(f"1 order chosen, {parcels}")
    boxes.nth(1).check()
    expect(page.locator("#picked")).to_have_text(f"2 orders chosen, {sum(packages)} parcels")
    page.screenshot(path=str(screenshot_dir / "handoffs-new-english-1024.png"), full_page=True)
