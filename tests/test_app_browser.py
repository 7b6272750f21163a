"""The login and home pages in a real Chromium, at the village PC's and a tablet's size."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def test_farmer_logs_in_with_the_keypad_and_sees_home(page: Page, server_url, session, screenshot_dir):
    factories.user(session, "farmer", "wang", display_name="王大姐", pin="2468")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{server_url}/auth/login")
    expect(page.get_by_role("heading", name="登录村播")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "app-01-login.png"))
    page.get_by_role("link", name="农户用 PIN 码登录").click()
    page.get_by_text("王大姐").click()
    for digit in "2468":
        page.locator(f".keypad .key[data-key='{digit}']").click()
    page.screenshot(path=str(screenshot_dir / "app-02-pin.png"))
    page.locator(".keypad .key[data-key='✓']").click()
    expect(page.get_by_role("heading", name="您好，王大姐")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "app-03-farmer-home.png"))


def test_admin_switches_to_english_on_a_tablet(page: Page, server_url, session, screenshot_dir):
    factories.user(session, "admin", "boss", display_name="管理员")
    page.set_viewport_size({"width": 800, "height": 1280})
    browser_login(page, server_url, "boss")
    expect(page.get_by_role("link", name="用户").first).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Hello, 管理员")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "app-04-admin-home-en.png"))
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="您好，管理员")).to_be_visible()
