"""A plan goes live by itself: the real APScheduler wakes it, the real live engine runs a file source.

Short delays stand in for hours; where days must pass, the planner's clock is injected and the
planner is ticked as the scheduler would tick it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from capture.testing import ffprobe
from live.models import LiveSession
from schedules.models import PlanRun
from schedules.planner import Planner
from tests import factories
from tests.live_helpers import wait_until
from tests.test_live_stress import cpu_hog  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.timeout(180)]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def people(session):
    farmer = factories.user(session, "farmer", "wang", display_name="王大姐", village="巨鹿村")
    coordinator = factories.user(session, "coordinator", "zhan")
    rice = factories.product(session, farmer, name="巨鹿小米", price_fen=1800)
    return farmer, coordinator, rice


def plan_body(video, starts_at: datetime, seconds: float, **kw) -> dict:
    body = {"title": "早市小米", "host": "wang", "starts_at": starts_at.isoformat(), "duration_min": seconds / 60,
            "video": str(video), "audio": "none", "destinations": [], "preset": "480p30"}
    body.update(kw)
    return body


def live_state(app) -> str:
    return app.extensions["cunbo.live"].status()["state"]


def runs(api, plan_id: int) -> list[dict]:
    return api.get(f"/api/broadcasts/{plan_id}/runs").json


def fire_and_finish(app, api, flat_video, people):
    """Plan 3 s ahead for 8 s with the scheduler running; return (plan, run, start, end)."""
    app.extensions["cunbo.scheduler"].start()
    _, _, rice = people
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
    answer = api.post("/api/broadcasts", json=plan_body(flat_video, start, 8, lineup=[rice.id]))
    assert answer.status_code == 201, answer.json
    plan = answer.json
    assert datetime.fromisoformat(plan["next_run"]) == start
    assert wait_until(lambda: live_state(app) == "live", timeout=25), "the plan did not go live by itself"
    assert wait_until(lambda: app.extensions["cunbo.live"].status()["product_id"] == rice.id, timeout=5), \
        "the lineup's first product is on the video"
    assert wait_until(lambda: runs(api, plan["id"])[0]["state"] == "ran", timeout=30), runs(api, plan["id"])
    assert live_state(app) == "idle"
    return plan, runs(api, plan["id"])[0], start, start + timedelta(seconds=8)


def test_a_plan_fires_runs_a_live_from_a_file_records_and_stops_on_time(app, api_as, people, flat_video):
    api = api_as(people[1])
    plan, run, start, end = fire_and_finish(app, api, flat_video, people)
    started, ended = datetime.fromisoformat(run["started_at"]), datetime.fromisoformat(run["ended_at"])
    print(f"started {(started - start).total_seconds():.2f} s after its time, stopped "
          f"{(ended - end).total_seconds():.2f} s after its end")
    assert 0 <= (started - start).total_seconds() <= 3 and run["late_s"] <= 3
    assert -0.5 <= (ended - end).total_seconds() <= 4
    record = api.get(f"/api/sessions/{run['session_id']}").json
    assert record["ended_at"] and record["recordings"]
    probe = ffprobe(record["recordings"][0])
    assert {s["codec_type"] for s in probe["streams"]} >= {"video"}
    assert plan["next_run"] is not None


def test_a_plan_fires_on_time_with_both_cores_busy(app, api_as, people, flat_video, cpu_hog):  # noqa: F811
    api = api_as(people[1])
    _, run, start, end = fire_and_finish(app, api, flat_video, people)
    late = (datetime.fromisoformat(run["started_at"]) - start).total_seconds()
    over = (datetime.fromisoformat(run["ended_at"]) - end).total_seconds()
    print(f"under CPU load: started {late:.2f} s late, stopped {over:.2f} s after its end")
    assert late <= 8 and over <= 8


def test_a_manual_live_at_fire_time_is_left_alone_and_the_plan_is_missed(app, api_as, people, flat_video, session):
    farmer, coordinator, _ = people
    api = api_as(coordinator)
    live = app.extensions["cunbo.live"]
    manual = live.start(farmer, video=str(flat_video), audio="none", destinations=[], preset="480p30")
    app.extensions["cunbo.scheduler"].start()
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    answer = api.post("/api/broadcasts", json=plan_body(flat_video, start, 6))
    assert answer.status_code == 201, answer.json
    plan = answer.json
    assert wait_until(lambda: runs(api, plan["id"]) and runs(api, plan["id"])[0]["state"] == "missed", timeout=20)
    run = runs(api, plan["id"])[0]
    assert run["reason"] == "another_live" and run["session_id"] is None
    assert live.session_id == manual and live_state(app) == "live", "the manual live was never touched"
    live.stop()


def test_overlapping_plans_are_refused_naming_the_other(app, api_as, people, flat_video):
    api = api_as(people[1])
    start = datetime(2030, 3, 4, 6, 0, tzinfo=SHANGHAI)
    first = api.post("/api/broadcasts", json=plan_body(flat_video, start, 3600, repeat="daily"))
    assert first.status_code == 201
    clash = api.post("/api/broadcasts", json=plan_body(flat_video, start + timedelta(days=3, minutes=30), 1800,
                                                       title="晚到的一场"))
    assert clash.status_code == 409
    assert "早市小米" in clash.json["error"] and clash.json["other_id"] == first.json["id"]
    after = api.post("/api/broadcasts", json=plan_body(flat_video, start + timedelta(days=3, hours=1), 1800,
                                                       title="接着播"))
    assert after.status_code == 201, "back to back is fine"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_daily_repeats_across_days_never_double_fire_and_a_late_pc_starts_late_or_misses(
        app, api_as, people, flat_video, session):
    api = api_as(people[1])
    first = datetime.now(SHANGHAI).replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=1)
    plan = api.post("/api/broadcasts", json=plan_body(flat_video, first, 600, repeat="daily")).json
    live = app.extensions["cunbo.live"]
    clock = Clock(first - timedelta(minutes=1))
    planner = app.extensions["cunbo.scheduler"].planner
    planner.clock = clock

    def at(when: datetime, fresh: bool = False):  # type: ignore[no-untyped-def]
        """Tick at ``when``; ``fresh`` is a restarted server: a new planner, nothing remembered."""
        clock.now = when
        p = planner if not fresh else Planner(app.extensions["cunbo.sessions"], live, station_id=planner.station_id,
                                              zone=planner.zone, recording_dir=planner._recording_dir, clock=clock)
        return p.tick()

    for day in range(3):  # three ordinary days: woken early, on time, many times in the window
        slot = first + timedelta(days=day)
        assert not at(slot - timedelta(seconds=1)).started
        assert at(slot + timedelta(seconds=1)).started
        for later in (5, 60, 300):
            report = at(slot + timedelta(seconds=later), fresh=later == 60)
            assert not report.started and live.session_id is not None
        assert at(slot + timedelta(minutes=10, seconds=1)).stopped
        assert live.session_id is None
    # Day 4: the PC comes on at 06:04 — it starts late for the rest of the window and says so.
    slot = first + timedelta(days=3)
    assert at(slot + timedelta(minutes=4), fresh=True).started
    assert at(slot + timedelta(minutes=10)).stopped
    # Day 5: the PC is off all morning and comes on at 07:00 — missed, because the PC was off.
    slot = first + timedelta(days=4)
    report = at(slot + timedelta(hours=1), fresh=True)
    assert report.missed and not report.started
    # Day 6 is skipped by the coordinator.
    slot = first + timedelta(days=5)
    day6 = slot.astimezone(SHANGHAI).date().isoformat()
    assert api.post(f"/api/broadcasts/{plan['id']}/skip", json={"date": day6}).status_code == 200
    assert not at(slot + timedelta(seconds=2)).started

    records = runs(api, plan["id"])
    assert [r["state"] for r in records] == ["ran", "ran", "ran", "ran", "missed", "skipped"]
    assert [r["late_s"] for r in records[:4]] == [1, 1, 1, 240]
    assert records[4]["reason"] == "pc_off"
    session.expire_all()
    assert session.query(LiveSession).count() == 4, "one live per slot, never two"
    slots = session.scalars(select(PlanRun.planned_at).where(PlanRun.plan_id == plan["id"])).all()
    assert len(slots) == len(set(slots))


def test_two_pcs_given_the_same_station_id_still_start_a_slot_once(app, api_as, people, flat_video, session,
                                                                   tmp_path, media_dir):
    """A copied data dir puts two PCs on one station id: the run is claimed atomically, so only
    one of them goes live for the slot."""
    import threading

    from live.service import LiveService

    api = api_as(people[1])
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
    api.post("/api/broadcasts", json=plan_body(flat_video, start, 600))
    mine = app.extensions["cunbo.scheduler"].planner
    other_live = LiveService(app.extensions["cunbo.sessions"], tmp_path / "other-pc", station_id=mine.station_id,
                             media_dirs=(media_dir,))
    clock = Clock(start + timedelta(seconds=1))
    planners = [Planner(app.extensions["cunbo.sessions"], live, station_id=mine.station_id, zone=mine.zone,
                        recording_dir=tmp_path / "rec", clock=clock) for live in (app.extensions["cunbo.live"], other_live)]
    reports: list = []
    threads = [threading.Thread(target=lambda p=p: reports.append(p.tick())) for p in planners]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sum(len(r.started) for r in reports) == 1, reports
        assert [app.extensions["cunbo.live"].session_id is not None, other_live.session_id is not None].count(True) == 1
    finally:
        other_live.shutdown()


def test_a_camera_that_will_not_open_keeps_the_slot_waiting_then_missed_with_that_reason(app, api_as, people,
                                                                                        flat_video):
    api = api_as(people[1])
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=3)
    plan = api.post("/api/broadcasts", json=plan_body("7", start, 600)).json  # no camera 7 on this PC
    planner = app.extensions["cunbo.scheduler"].planner
    planner.clock = Clock(start + timedelta(seconds=1))
    report = planner.tick()
    assert report.waiting and not report.started
    run = runs(api, plan["id"])[0]
    assert run["state"] == "planned" and run["reason"] == "camera" and run["detail"], run
    planner.clock = Clock(start + timedelta(minutes=11))
    assert planner.tick().missed
    run = runs(api, plan["id"])[0]
    assert run["state"] == "missed" and run["reason"] == "camera"
    assert live_state(app) == "idle"


def test_a_planned_live_the_farmer_stops_early_is_not_restarted(app, api_as, people, flat_video):
    api = api_as(people[1])
    app.extensions["cunbo.scheduler"].start()
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    plan = api.post("/api/broadcasts", json=plan_body(flat_video, start, 20)).json
    assert wait_until(lambda: live_state(app) == "live", timeout=20)
    app.extensions["cunbo.live"].stop(people[0])
    app.extensions["cunbo.scheduler"].wake()
    run = runs(api, plan["id"])[0]
    assert run["state"] == "ran" and run["reason"] == "stopped_early"
    app.extensions["cunbo.scheduler"].wake()
    assert live_state(app) == "idle", "the plan does not start the slot again"
