"""The coordinator plans a week, the farmer's home shows today's broadcast, and a plan one minute
ahead goes live by itself while the farmer's console is open (headless Chromium, real server,
real scheduler, a video file as the camera)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import factories
from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
SHANGHAI = ZoneInfo("Asia/Shanghai")
SIZES = {"1366": {"width": 1366, "height": 768}, "1024": {"width": 1024, "height": 600}}


def plan_in_form(page: Page, server_url: str, title: str, day: str, at: str, minutes: str, *, repeat: str = "",
                 weekdays: tuple[int, ...] = (), video: str = "0", audio: str = "default") -> None:
    page.goto(f"{server_url}/broadcasts/new")
    page.get_by_label("直播标题").fill(title)
    page.get_by_label("主播", exact=True).select_option("wang")
    page.get_by_label("开播日期").fill(day)
    page.get_by_label("开播时间").fill(at)
    page.get_by_label("时长（分钟）").fill(minutes)
    page.locator(f"input[name=repeat][value='{repeat}']").check()
    for d in weekdays:
        page.locator(f"input[name=weekday][value='{d}']").check()
    page.get_by_label("巨鹿小米").check()
    page.get_by_label("画面来源").fill(video)
    page.get_by_label("声音来源").fill(audio)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存直播计划")).to_be_visible()


def test_a_week_is_planned_the_farmer_sees_today_and_a_plan_goes_live_by_itself(
        browser: Browser, app, server_url, session, flat_video, screenshot_dir):
    factories.user(session, "farmer", "wang", display_name="王大姐", village="西王庄")
    factories.user(session, "coordinator", "zhan", display_name="詹站长")
    from accounts.models import User

    wang = session.query(User).filter_by(username="wang").one()
    factories.product(session, wang, name="巨鹿小米", price_fen=1800, stock=30, link_no=1)
    app.extensions["cunbo.scheduler"].start()

    coordinator = browser.new_page(viewport=SIZES["1366"], locale="zh-CN")
    browser_login(coordinator, server_url, "zhan")
    now = datetime.now(SHANGHAI)
    tomorrow = (now + timedelta(days=1)).date().isoformat()
    plan_in_form(coordinator, server_url, "每天早市", tomorrow, "06:00", "60", repeat="daily")
    plan_in_form(coordinator, server_url, "周末红枣专场", tomorrow, "19:30", "90", repeat="weekly", weekdays=(6, 7))
    # The one that matters now: the next whole minute plus one, so it is at most two minutes away.
    fire = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    if (fire - now).total_seconds() > 100:
        fire -= timedelta(minutes=1)
    plan_in_form(coordinator, server_url, "马上开播试一试", fire.date().isoformat(), fire.strftime("%H:%M"), "2",
                 video=str(flat_video), audio="none")
    expect(coordinator.get_by_role("img", name="直播预告海报")).to_be_visible()
    coordinator.wait_for_function("document.querySelector('.poster img').naturalWidth > 0", timeout=15_000)
    coordinator.screenshot(path=str(screenshot_dir / "schedules-plan-detail-1366.png"), full_page=True)
    coordinator.set_viewport_size(SIZES["1024"])
    coordinator.goto(f"{server_url}/broadcasts/new")
    coordinator.screenshot(path=str(screenshot_dir / "schedules-plan-form-1024.png"), full_page=True)
    for name, size in SIZES.items():
        coordinator.set_viewport_size(size)
        coordinator.goto(f"{server_url}/broadcasts/")
        expect(coordinator.get_by_text("马上开播试一试")).to_be_visible()
        coordinator.screenshot(path=str(screenshot_dir / f"schedules-week-{name}.png"), full_page=True)
    coordinator.goto(f"{server_url}/broadcasts/?by=farmer")
    expect(coordinator.get_by_role("row", name="王大姐")).to_be_visible()
    coordinator.screenshot(path=str(screenshot_dir / "schedules-week-by-farmer-1024.png"), full_page=True)
    coordinator.goto(f"{server_url}/")
    coordinator.screenshot(path=str(screenshot_dir / "schedules-coordinator-home-1024.png"), full_page=True)

    page = browser.new_page(viewport=SIZES["1366"], locale="zh-CN")
    browser_login(page, server_url, "wang")
    panel = page.locator(".today-broadcast")  # "今天的直播", or "明天的直播" just before midnight
    expect(panel).to_contain_text("马上开播试一试")
    expect(panel.locator(".countdown")).to_contain_text("还有")
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(screenshot_dir / f"schedules-farmer-home-{name}.png"), full_page=True)
    panel.get_by_role("link", name="进入直播间").click()
    expect(page.locator("#btn-start")).to_be_visible()
    # Nobody presses anything: the plan goes live by itself and the open console follows.
    expect(page.locator("#btn-stop")).to_be_visible(timeout=150_000)
    expect(page.locator("#health")).to_contain_text("正常", timeout=20_000)
    page.wait_for_function("document.getElementById('preview').naturalWidth > 0", timeout=15_000)
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(screenshot_dir / f"schedules-console-live-{name}.png"), full_page=False)
    started = app.extensions["cunbo.live"].status()["started_at"]
    late = (datetime.fromisoformat(started) - fire).total_seconds()
    print(f"went live {late:.1f} s after its planned minute")
    assert late <= 10
    app.extensions["cunbo.live"].stop()
