"""The admin's user pages in Chromium at 1366×768 and 1024×600: a refused password named beside
its field with everything typed kept, a PIN-only farmer, an edit, a PIN reset and a disable."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from accounts.models import User
from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width, height", [(1366, 768), (1024, 600)])
def test_admin_adds_a_pin_only_farmer_edits_resets_the_pin_and_disables_them(
    page: Page, server_url, session, screenshot_dir, width, height
):
    factories.user(session, "admin", "boss", display_name="管理员")
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, server_url, "boss")
    page.goto(f"{server_url}/users/")

    form = page.locator("form").filter(has=page.get_by_role("button", name="添加"))
    form.get_by_label("用户名").fill("li")
    form.get_by_label("显示的名字").fill("李老师")
    form.get_by_label("角色").select_option("trainer")
    form.get_by_label("密码").fill("short")
    form.get_by_role("button", name="添加").click()
    expect(page.locator("#password-error")).to_have_text("密码至少 8 位")
    expect(form.get_by_label("密码")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("用户名")).to_have_value("li")
    expect(form.get_by_label("显示的名字")).to_have_value("李老师")
    expect(form.get_by_label("密码")).to_have_value("short")
    page.locator("#password-error").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / f"users-01-short-password-{width}x{height}.png"))

    form.get_by_label("用户名").fill("wang")
    form.get_by_label("显示的名字").fill("王大姐")
    form.get_by_label("角色").select_option("farmer")
    form.get_by_label("密码").fill("")
    form.get_by_label("PIN 码").fill("2468")
    form.get_by_role("button", name="添加").click()
    expect(page.get_by_text("已添加 王大姐")).to_be_visible()
    wang = session.scalar(select(User).where(User.username == "wang"))
    assert wang.password_hash is None

    page.locator(f"#user-{wang.id}").get_by_role("link", name="修改").click()
    page.get_by_label("电话").fill("13911112222")
    page.get_by_label("取件地址").fill("王家村二组 8 号")
    page.screenshot(path=str(screenshot_dir / f"users-02-edit-{width}x{height}.png"))
    page.locator("#edit-user").get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存 王大姐")).to_be_visible()

    page.locator(f"#user-{wang.id}").get_by_role("link", name="修改").click()
    page.get_by_label("新 PIN 码").fill("1357")
    page.get_by_role("button", name="保存新 PIN 码").click()
    expect(page.get_by_text("王大姐 的 PIN 码已改好")).to_be_visible()
    page.get_by_role("button", name="停用", exact=True).click()
    expect(page.get_by_text("已停用 王大姐")).to_be_visible()
    expect(page.locator(f"#user-{wang.id}")).to_contain_text("已停用")
    page.screenshot(path=str(screenshot_dir / f"users-03-disabled-{width}x{height}.png"))
    session.expire_all()
    wang = session.get(User, wang.id)
    assert (wang.phone, wang.pickup_address, wang.active) == ("13911112222", "王家村二组 8 号", False)


@pytest.mark.parametrize("width, height", [(1366, 768), (1024, 600)])
def test_coordinator_sets_a_farmers_pickup_address_on_one_page(page: Page, server_url, session, screenshot_dir,
                                                              width, height):
    factories.user(session, "coordinator", "zhang", display_name="张站长")
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    factories.user(session, "farmer", "li", display_name="李大哥")
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, server_url, "zhang")
    page.get_by_role("link", name="农户取件地址").click()
    row = page.locator(f"#farmer-{wang.id}")
    row.get_by_label("电话").fill("13911112222")
    row.get_by_label("取件地址").fill("王家村二组 8 号")
    row.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存 王大姐")).to_be_visible()
    expect(page.locator(f"#farmer-{wang.id}").get_by_label("取件地址")).to_have_value("王家村二组 8 号")
    page.screenshot(path=str(screenshot_dir / f"users-04-pickups-{width}x{height}.png"))
