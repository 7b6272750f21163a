"""The coordinator's catalog pages in Chromium at 1366×768 and 1024×600: an import without a 农户
column given to one farmer (summary and 确认导入 on screen above a capped preview with owner, price
and stock), the new-product form's errors beside their fields and its photo, and the console by
farmer."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from catalog.models import Product
from catalog.spreadsheet import PREVIEW_ROWS
from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser
SIZES = [(1366, 768), (1024, 600)]


@pytest.fixture
def village(session):
    factories.user(session, "coordinator", "zhang", display_name="张站长")
    return {"wang": factories.user(session, "farmer", "wang", display_name="王大姐"),
            "li": factories.user(session, "farmer", "li", display_name="李大哥")}


@pytest.mark.parametrize("width, height", SIZES)
def test_an_import_for_one_farmer_shows_the_summary_and_confirm_first_and_a_capped_preview(
    page: Page, server_url, session, screenshot_dir, tmp_path, village, width, height
):
    rows = [["名称", "单位", "单价", "库存"]] + [[f"青菜{i}", "斤", "3.5", "１０"] for i in range(PREVIEW_ROWS + 50)]
    (tmp_path / "no-farmer.csv").write_bytes(factories.catalog_csv(rows))
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, server_url, "zhang")
    page.goto(f"{server_url}/catalog/import")
    page.locator("#import-file").set_input_files(str(tmp_path / "no-farmer.csv"))

    # Without a farmer every row is refused: nothing goes to the coordinator.
    page.get_by_role("button", name="检查（不会保存）").click()
    expect(page.locator("#count-errors")).to_have_text(str(PREVIEW_ROWS + 50))
    expect(page.locator("#error-table")).to_contain_text("没有农户")
    expect(page.locator("#confirm-button")).to_be_hidden()

    page.get_by_label("这些商品属于哪位农户").select_option("wang")
    page.get_by_role("button", name="检查（不会保存）").click()
    expect(page.locator("#count-created")).to_have_text(str(PREVIEW_ROWS + 50))
    confirm = page.locator("#confirm-button")
    expect(confirm).to_be_visible()
    expect(confirm).to_be_in_viewport()  # the report scrolls into view with its summary and button first
    expect(page.locator("#count-created")).to_be_in_viewport()
    first = page.locator("#preview-table tbody tr").first
    expect(first.locator("td").nth(4)).to_have_text("王大姐")
    expect(first.locator("td").nth(5)).to_have_text("¥3.50")
    expect(first.locator("td").nth(6)).to_have_text("10")
    expect(page.locator("#preview-table tbody tr")).to_have_count(PREVIEW_ROWS)
    expect(page.locator("#preview-more")).to_have_text("还有 50 行没有列出。")
    page.screenshot(path=str(screenshot_dir / f"catalog-owner-01-dry-run-{width}x{height}.png"))
    assert session.scalars(select(Product)).all() == []

    confirm.click()
    expect(page.locator("#report-title")).to_have_text("导入完成")
    session.expire_all()
    owners = {p.farmer.username for p in session.scalars(select(Product))}
    assert owners == {"wang"}


@pytest.mark.parametrize("width, height", SIZES)
def test_the_new_product_form_marks_each_empty_field_and_takes_a_photo(
    page: Page, server_url, session, screenshot_dir, tmp_path, village, width, height
):
    (tmp_path / "rice.jpg").write_bytes(factories.image_bytes((900, 600), color="gold"))
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, server_url, "zhang")
    page.goto(f"{server_url}/catalog/new")
    farmers = page.get_by_label("农户").locator("option")
    expect(farmers).to_have_text(["请选择农户", "李大哥（li）", "王大姐（wang）"])
    page.get_by_label("库存").fill("")
    page.get_by_role("button", name="保存").click()
    for field in ("name", "farmer", "unit", "price", "stock"):
        expect(page.locator(f"form.product-form [name={field}]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_have_text(["名称不能为空", "农户不能为空", "单位不能为空", "单价不能为空",
                                                       "库存不能为空"])
    page.screenshot(path=str(screenshot_dir / f"catalog-owner-02-empty-form-{width}x{height}.png"))

    page.get_by_label("名称", exact=True).fill("五常大米")
    page.get_by_label("农户").select_option("wang")
    page.get_by_label("单位", exact=True).fill("袋")
    page.get_by_label("单价（元）").fill("59.9")
    page.get_by_label("库存").fill("20")
    page.get_by_label("照片（可不选").set_input_files(str(tmp_path / "rice.jpg"))
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已添加 五常大米")).to_be_visible()
    photo = page.locator(".photo-grid img")
    expect(photo).to_have_count(1)
    page.wait_for_function("() => { const i = document.querySelector('.photo-grid img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    expect(page.get_by_role("button", name="上传照片")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / f"catalog-owner-03-product-with-photo-{width}x{height}.png"))


@pytest.mark.parametrize("width, height", SIZES)
def test_the_coordinator_console_shows_the_chosen_farmers_products(
    page: Page, server_url, session, screenshot_dir, village, width, height
):
    factories.product(session, village["wang"], name="王家大米", link_no=1)
    factories.product(session, village["li"], name="李家核桃", link_no=2)
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, server_url, "zhang")
    page.goto(f"{server_url}/live/")
    lineup = page.locator("#lineup .pcard")
    expect(lineup).to_have_count(2)
    page.locator("#lineup-filter select").select_option("li")
    expect(page).to_have_url(f"{server_url}/live/?farmer=li")
    expect(lineup).to_have_count(1)
    expect(lineup.first).to_contain_text("李家核桃")
    page.screenshot(path=str(screenshot_dir / f"catalog-owner-04-console-by-farmer-{width}x{height}.png"))
