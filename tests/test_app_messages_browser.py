"""In Chromium, an English page shows the server's messages in English and a Chinese page in
Chinese alone (issue 16, finding 10): an order import's row report and a product form's error."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser

HAN = re.compile(r"[\u4e00-\u9fff]")
CSV = ("订单号,商家编码,数量,收货人,手机,收货地址\n"
       "A1,MI01,1,李四,13800138000,杭州\n"
       "A1,MI01,1,李四,13800138000,杭州\n"
       "A2,NOPE,1,李四,13800138000,杭州\n").encode("utf-8")


def upload_orders(page: Page, server_url: str, button: str) -> list[str]:
    page.goto(f"{server_url}/orders/import")
    page.locator("input[type=file]").set_input_files({"name": "orders.csv", "mimeType": "text/csv", "buffer": CSV})
    page.locator("input[name=dry_run]").check()
    page.get_by_role("button", name=button).click()
    rows = page.locator("section.report tbody tr")
    expect(rows).to_have_count(3)
    return [rows.nth(i).locator("td").nth(2).inner_text() for i in range(3)]


@pytest.mark.parametrize("width, height", [(1366, 768), (1024, 600)])
def test_an_english_page_shows_an_imports_row_messages_in_english_and_a_chinese_page_in_chinese_alone(
        page: Page, server_url, session, screenshot_dir, width, height):
    farmer = factories.user(session, "farmer", "wang", display_name="王大姐")
    factories.user(session, "coordinator", "coord")
    factories.product(session, farmer, sku="MI01", name="小米", stock=10)
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, server_url, "coord")

    chinese = upload_orders(page, server_url, "上传")
    assert chinese[1] == "订单号 A1 在第 2 行已出现过" and chinese[2].startswith("目录里没有这个商品：NOPE")
    assert all(HAN.search(m) and not re.search(r"\([a-z]+ [a-z]+", m) for m in chinese), chinese
    page.screenshot(path=str(screenshot_dir / f"messages-import-zh-{width}x{height}.png"), full_page=True)

    page.goto(f"{server_url}/lang/en")
    english = upload_orders(page, server_url, "Upload")
    assert english[1] == "Order number A1 already appears in row 2"
    assert english[2].startswith("This product is not in the catalog: NOPE")
    assert not any(HAN.search(m) for m in english), english
    page.screenshot(path=str(screenshot_dir / f"messages-import-en-{width}x{height}.png"), full_page=True)

    page.goto(f"{server_url}/catalog/new")
    page.locator("input[name=name]").fill("Eggs")
    page.locator("input[name=unit]").fill("box")
    page.locator("input[name=price]").fill("abc")
    page.locator("input[name=stock]").fill("3")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("The price is not a number: abc; write it like 25.50")).to_be_visible()
    assert "价格不是数字" not in page.content()
    page.screenshot(path=str(screenshot_dir / f"messages-product-form-en-{width}x{height}.png"), full_page=True)
