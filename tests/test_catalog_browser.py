"""The coordinator imports a spreadsheet with photos through the page, in a real Chromium."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from catalog.models import Product

from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def test_coordinator_imports_a_spreadsheet_reads_the_dry_run_and_finds_the_products(
    page: Page, server_url, session, screenshot_dir, tmp_path
):
    factories.user(session, "coordinator", "zhang", display_name="张站长")
    factories.user(session, "farmer", "wang", display_name="王大姐")
    factories.user(session, "farmer", "li", display_name="李大哥")
    good = [["编号", "名称", "农户", "单位", "单价", "促销价", "库存", "链接号", "产地"],
            ["A001", "五常大米", "王大姐", "袋", "￥59.90", "49.9", "20", "1", "黑龙江五常"],
            ["A002", "土鸡蛋", "wang", "盒", "25元", "", "100", "2", "河北"],
            ["A003", "<b>核桃</b>", "li", "斤", "２５．５", "", "5", "3", "太行山"]]
    bad = good + [["A004", "坏价格", "nobody", "斤", "-5", "", "1", "", ""]]
    (tmp_path / "bad.csv").write_bytes(factories.catalog_csv(bad, "gbk"))
    (tmp_path / "catalog.xlsx").write_bytes(factories.workbook(good))  # corrected in Excel, saved as .xlsx
    for sku, colour in (("A001", "gold"), ("A002", "orange"), ("A003", "saddlebrown")):
        (tmp_path / f"{sku}.jpg").write_bytes(factories.image_bytes((900, 600), color=colour))

    page.set_viewport_size({"width": 1366, "height": 768})
    browser_login(page, server_url, "zhang")
    page.get_by_role("link", name="商品目录").first.click()
    page.get_by_role("link", name="从 Excel 导入").first.click()

    # A file with a bad row: the report names the row and the reason, and nothing can be confirmed.
    page.locator("#import-file").set_input_files(str(tmp_path / "bad.csv"))
    page.get_by_role("button", name="检查（不会保存）").click()
    errors = page.locator("#error-table")
    expect(errors).to_be_visible()
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody td").first).to_have_text("5")
    expect(errors).to_contain_text("找不到农户 nobody")
    expect(page.locator("#confirm-button")).to_be_hidden()
    page.screenshot(path=str(screenshot_dir / "catalog-01-dry-run-errors.png"), full_page=True)

    # The corrected workbook (.xlsx) and three photos named after the skus.
    page.locator("#import-file").set_input_files(str(tmp_path / "catalog.xlsx"))
    page.locator("#import-photos").set_input_files([str(tmp_path / f"A00{i}.jpg") for i in (1, 2, 3)])
    page.get_by_role("button", name="检查（不会保存）").click()
    expect(page.locator("#report-title")).to_have_text("检查结果（还没有保存）")
    expect(page.locator("#count-created")).to_have_text("3")
    expect(page.locator("#count-photos")).to_have_text("3")
    expect(page.locator("#preview-table")).to_contain_text("<b>核桃</b>")  # shown as text, not markup
    page.screenshot(path=str(screenshot_dir / "catalog-02-dry-run-ok.png"), full_page=True)
    assert session.scalars(select(Product)).all() == []  # the check wrote nothing

    page.get_by_role("button", name="确认导入").click()
    expect(page.locator("#report-title")).to_have_text("导入完成")
    expect(page.locator("#count-created")).to_have_text("3")
    page.screenshot(path=str(screenshot_dir / "catalog-03-imported.png"), full_page=True)

    page.get_by_role("link", name="去商品目录看看").click()
    rows = page.locator("table.catalog-list tbody tr")
    expect(rows).to_have_count(3)
    rice = page.locator("tr[data-sku='A001']")
    expect(rice).to_contain_text("五常大米")
    expect(rice).to_contain_text("¥49.90")
    expect(rice).to_contain_text("王大姐")
    for sku in ("A001", "A002", "A003"):
        expect(page.locator(f"tr[data-sku='{sku}'] img.thumb")).to_be_visible()
        page.wait_for_function(  # the photo really loaded, not a broken-image icon
            "sku => { const img = document.querySelector(`tr[data-sku='${sku}'] img.thumb`);"
            " return img && img.complete && img.naturalWidth > 0; }", arg=sku)
    expect(page.locator("tr[data-sku='A003'] .product-name")).to_have_text("<b>核桃</b>")
    page.screenshot(path=str(screenshot_dir / "catalog-04-list-with-photos.png"), full_page=True)

    # Search by pinyin initials from the list.
    page.get_by_label("搜索").fill("wcdm")
    page.get_by_role("button", name="查找").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("五常大米")


def test_farmer_sees_own_products_on_a_tablet_in_english(page: Page, server_url, session, screenshot_dir):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    li = factories.user(session, "farmer", "li")
    factories.product(session, wang, sku="W1", name="高山土蜂蜜", unit="瓶", price_fen=6800, stock=3)
    factories.product(session, li, sku="L1", name="核桃", unit="斤")
    page.set_viewport_size({"width": 800, "height": 1280})
    browser_login(page, server_url, "wang")
    page.get_by_role("link", name="English").click()
    page.get_by_role("link", name="My products").first.click()
    expect(page.locator("table.catalog-list tbody tr")).to_have_count(1)
    expect(page.locator("tr[data-sku='W1']")).to_contain_text("¥68.00")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "catalog-05-farmer-tablet-en.png"), full_page=True)
