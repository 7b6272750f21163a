"""Disk: a coordinator deletes a session's clips or its recording (files and rows together, never
half), and the checklist's disk check counts what the clips still to cut will need."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from live.checklist import DISK_NEED_MB, run_checks
from live.disk import ASIDE, RECORDING_BYTES_PER_S, VERTICAL_SHARE, pending_clips_mb, settle_removals
from live.models import Clip, LiveSession, Recording
from tests import factories

T0 = datetime(2026, 11, 30, 22, 0, tzinfo=timezone.utc)


@pytest.fixture
def farmer(session):
    return factories.user(session, "farmer", "wang")


@pytest.fixture
def coordinator(session):
    return factories.user(session, "coordinator", "zhang")


@pytest.fixture
def broadcast(app, session, farmer):
    """An ended 100 s live of this station: a 2 MB recording in the recordings folder and two
    finished clips (16:9 and 9:16) in the clips folder."""
    millet = factories.product(session, farmer, name="巨鹿小米")
    row = LiveSession(host_id=farmer.id, station_id=app.config["STATION_ID"], started_at=T0,
                      ended_at=T0 + timedelta(seconds=100))
    session.add(row)
    session.flush()
    data = Path(app.config["DATA_DIR"])
    recording = data / "recordings" / f"live-{row.id}.mkv"
    recording.write_bytes(b"r" * 2_000_000)
    folder = data / "clips" / str(row.id)
    folder.mkdir(parents=True)
    session.add(Recording(session_id=row.id, path=str(recording), opened_at=T0))
    for n, aspect in enumerate(("16:9", "9:16")):
        path = folder / f"2026-12-01_巨鹿小米_1_{aspect.replace(':', 'x')}.mp4"
        path.write_bytes(b"c" * (1000 + n))
        session.add(Clip(session_id=row.id, product_id=millet.id, aspect=aspect, plan_start_s=10.0, plan_end_s=40.0,
                         state="done", path=str(path), size_bytes=1000 + n))
    session.commit()
    return row, recording, millet


def clip_paths(session, row) -> list[Path]:
    return [Path(p) for p in session.scalars(select(Clip.path).where(Clip.session_id == row.id))]


def test_a_coordinator_deletes_a_recording_with_its_rows_and_a_farmer_may_not(api_as, session, farmer, coordinator,
                                                                            broadcast):
    row, recording, _ = broadcast
    assert api_as(farmer).delete(f"/api/sessions/{row.id}/recording").status_code == 403
    assert recording.is_file()
    answer = api_as(coordinator).delete(f"/api/sessions/{row.id}/recording")
    assert answer.status_code == 200 and answer.json == {"deleted": 1, "size_bytes": 2_000_000}
    session.expire_all()
    assert not recording.exists() and not list(recording.parent.glob(f"*{ASIDE}"))
    assert session.scalars(select(Recording).where(Recording.session_id == row.id)).all() == []
    # The session, its report and its clips stay.
    assert api_as(farmer).get(f"/api/sessions/{row.id}/report").status_code == 200
    assert all(p.is_file() for p in clip_paths(session, row))


def test_deleting_the_recording_of_a_live_still_running_is_refused(api_as, session, coordinator, broadcast):
    row, recording, _ = broadcast
    row.ended_at = None
    session.commit()
    refused = api_as(coordinator).delete(f"/api/sessions/{row.id}/recording")
    assert refused.status_code == 409 and refused.json["error"] == "直播还没结束，不能删除录像"
    assert recording.is_file() and session.scalars(select(Recording).where(Recording.session_id == row.id)).all()


def test_another_pcs_session_keeps_its_files_here(api_as, session, coordinator, broadcast):
    row, recording, _ = broadcast
    row.station_id = "another-village-pc"
    session.commit()
    for what in ("recording", "clips"):
        refused = api_as(coordinator).delete(f"/api/sessions/{row.id}/{what}")
        assert refused.status_code == 409 and "那台电脑" in refused.json["error"]
    assert recording.is_file() and all(p.is_file() for p in clip_paths(session, row))


def test_a_coordinator_deletes_the_clips_with_their_files_and_sizes_add_up(api_as, session, coordinator, broadcast):
    row, recording, _ = broadcast
    paths = clip_paths(session, row)
    answer = api_as(coordinator).delete(f"/api/sessions/{row.id}/clips")
    assert answer.json == {"deleted": 2, "size_bytes": 2001}
    assert not any(p.exists() for p in paths) and not list(paths[0].parent.iterdir())
    session.expire_all()
    assert session.scalars(select(Clip).where(Clip.session_id == row.id)).all() == []
    assert recording.is_file()


def test_a_delete_that_fails_half_way_loses_neither_files_nor_rows(api_as, session, coordinator, broadcast):
    row, _, _ = broadcast
    first, second = clip_paths(session, row)
    # The second file cannot be set aside: a folder holds its aside name.
    (second.parent / (second.name + ASIDE)).mkdir()
    (second.parent / (second.name + ASIDE) / "keep").write_bytes(b"x")
    failed = api_as(coordinator).delete(f"/api/sessions/{row.id}/clips")
    assert failed.status_code == 500 and "文件都还在" in failed.json["error"]
    assert first.read_bytes() == b"c" * 1000 and second.read_bytes() == b"c" * 1001
    session.expire_all()
    assert len(session.scalars(select(Clip).where(Clip.session_id == row.id)).all()) == 2


def test_a_delete_cut_short_by_a_crash_is_settled_at_start(app, session, broadcast):
    row, recording, _ = broadcast
    clip_a, clip_b = clip_paths(session, row)
    # The server died after setting files aside: the recording's row is still there (no commit),
    # the first clip's row was deleted (committed) but its file not yet unlinked.
    recording.rename(recording.with_name(recording.name + ASIDE))
    clip_a.rename(clip_a.with_name(clip_a.name + ASIDE))
    session.delete(session.scalars(select(Clip).where(Clip.path == str(clip_a))).one())
    session.commit()
    data = Path(app.config["DATA_DIR"])
    assert settle_removals(session, app.config["STATION_ID"], [data / "clips", data / "recordings"]) == 1
    assert recording.read_bytes() == b"r" * 2_000_000, "a file whose row stayed is put back"
    assert not clip_a.exists() and not clip_a.with_name(clip_a.name + ASIDE).exists() and clip_b.is_file()


def test_the_disk_check_counts_what_the_queued_clips_will_need(app, session, broadcast, tmp_path):
    row, _recording, millet = broadcast
    for aspect in ("16:9", "9:16"):  # one 60 s segment still to cut
        session.add(Clip(session_id=row.id, product_id=millet.id, seq=2, aspect=aspect, plan_start_s=40.0,
                         plan_end_s=100.0, state="pending"))
    session.commit()
    # The recording took 2,000,000 bytes for 100 s: 20,000 B/s. 16:9: (60 + 2) s → 1,240,000 B;
    # 9:16: 60 s × 40 % → 480,000 B; 1,720,000 B is 1.64 MiB → 2 MB rounded up.
    assert pending_clips_mb(session, app.config["STATION_ID"]) == 2
    assert pending_clips_mb(session, "another-village-pc") == 0
    # With no recording to measure, the 720p preset's rate is assumed.
    row.ended_at = None
    session.commit()
    assert pending_clips_mb(session, app.config["STATION_ID"]) == -(-(62 + 60 * VERTICAL_SHARE) * RECORDING_BYTES_PER_S
                                                                    // (1024 * 1024))
    fine = run_checks(video="testsrc", audio="none", destinations=[], recording_dir=tmp_path)
    short = run_checks(video="testsrc", audio="none", destinations=[], recording_dir=tmp_path, clips_pending_mb=10**9)
    disk = {r.check: r for r in fine}["disk"], {r.check: r for r in short}["disk"]
    assert disk[0].ok and not disk[1].ok and disk[1].params["need_mb"] == DISK_NEED_MB + 10**9


@pytest.mark.browser
def test_a_coordinator_deletes_the_recording_from_the_report_after_saying_yes(page, server_url, session, coordinator,
                                                                             broadcast, screenshot_dir):
    from playwright.sync_api import expect

    from tests.conftest import browser_login

    row, recording, _ = broadcast
    page.set_viewport_size({"width": 1366, "height": 768})
    browser_login(page, server_url, "zhang")
    page.goto(f"{server_url}/live/sessions/{row.id}/report")
    expect(page.locator("#clips")).to_contain_text("2.0 MB")  # the recording's size
    page.screenshot(path=str(screenshot_dir / "report-delete-1366x768.png"), full_page=True)
    page.set_viewport_size({"width": 1024, "height": 600})
    page.screenshot(path=str(screenshot_dir / "report-delete-1024x600.png"), full_page=True)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="删除录像").click()
    expect(page.get_by_role("button", name="删除录像")).to_be_visible()
    assert asked and "不能恢复" in asked[0] and recording.is_file(), "saying no keeps it"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="删除录像").click()
    expect(page.locator("#clips")).to_contain_text("这场直播没有录像。")
    expect(page.get_by_role("button", name="删除录像")).to_have_count(0)
    assert not recording.exists()


def test_a_farmer_sees_no_delete_buttons_on_the_report(client, session, farmer, broadcast):
    from tests.conftest import login

    row, _, _ = broadcast
    login(client, "wang")
    page = client.get(f"/live/sessions/{row.id}/report").get_data(as_text=True)
    assert 'data-action="delete-recording"' not in page and 'data-action="delete"' not in page
