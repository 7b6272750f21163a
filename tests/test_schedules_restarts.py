"""Plans survive restarts and power cuts: ``python -m app.serve`` killed with -9 and started again.

Also two stations on one PostgreSQL, each firing only its own plan, exactly once.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

import db
from live.models import LiveSession
from schedules.models import BroadcastPlan, PlanRun
from tests.conftest import PG_URL
from tests.live_helpers import ServerProcess, wait_until
from tests.test_live_stress import cpu_hog  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.usefixtures("no_stray_processes"), pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def station(tmp_path):
    server = ServerProcess(ROOT, tmp_path / "data", f"sqlite:///{tmp_path / 'station.db'}")
    server.setup()
    yield server
    server.stop()


def plan(server: ServerProcess, video: Path, in_s: float, seconds: float, title: str = "早市") -> tuple[int, datetime]:
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=in_s)
    code, answer = server.api("POST", "/api/broadcasts", {
        "title": title, "starts_at": start.isoformat(), "duration_min": seconds / 60, "video": str(video),
        "audio": "none", "destinations": [], "preset": "480p30"})
    assert code == 201, answer
    return int(answer["id"]), start


def runs(server: ServerProcess, plan_id: int) -> list[dict]:
    return server.api("GET", f"/api/broadcasts/{plan_id}/runs")[1]


def state_is(server: ServerProcess, plan_id: int, state: str) -> bool:
    found = runs(server, plan_id)
    return bool(found) and found[0]["state"] == state


def until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(timezone.utc)).total_seconds()))


@pytest.mark.parametrize("busy_cpu", [False, True], ids=["idle", "cpu-hog"])
def test_killed_between_planning_and_firing_it_still_fires(station, flat_video, busy_cpu, request):
    if busy_cpu:
        request.getfixturevalue("cpu_hog")
    station.start()
    plan_id, start = plan(station, flat_video, 12, 6)
    station.kill9()
    station.start()
    assert wait_until(lambda: state_is(station, plan_id, "started"), timeout=30)
    run = runs(station, plan_id)[0]
    print("fired", run["late_s"], "s after its time following a restart")
    assert run["late_s"] <= (8 if busy_cpu else 3)
    assert wait_until(lambda: state_is(station, plan_id, "ran"), timeout=30)
    assert station.api("GET", "/api/live/status")[1]["state"] == "idle"


def test_back_inside_the_window_it_starts_late_and_says_by_how_much(station, flat_video):
    station.start()
    plan_id, start = plan(station, flat_video, 3, 20)
    station.kill9()  # a power cut before the slot
    until(start + timedelta(seconds=6))
    station.start()
    assert wait_until(lambda: state_is(station, plan_id, "started"), timeout=20)
    run = runs(station, plan_id)[0]
    print("started", run["late_s"], "s late")
    assert run["late_s"] >= 6
    assert wait_until(lambda: state_is(station, plan_id, "ran"), timeout=30)
    ended = datetime.fromisoformat(runs(station, plan_id)[0]["ended_at"])
    assert abs((ended - (start + timedelta(seconds=20))).total_seconds()) <= 4, "it still ends at the slot's end"


def test_back_after_the_window_it_is_missed_because_the_pc_was_off(station, flat_video):
    station.start()
    plan_id, start = plan(station, flat_video, 2, 5)
    station.kill9()
    until(start + timedelta(seconds=6))
    station.start()
    assert wait_until(lambda: state_is(station, plan_id, "missed"), timeout=15)
    assert runs(station, plan_id)[0]["reason"] == "pc_off"
    assert station.api("GET", "/api/live/status")[1]["state"] == "idle"


def test_a_restart_during_a_planned_live_does_not_stop_it_and_the_plan_stops_it_at_its_end(station, flat_video):
    station.start()
    plan_id, start = plan(station, flat_video, 2, 16)
    assert wait_until(lambda: state_is(station, plan_id, "started"), timeout=20)
    session_id = runs(station, plan_id)[0]["session_id"]
    station.kill9()
    station.start()
    status = station.api("GET", "/api/live/status")[1]
    assert status["session_id"] == session_id and status["state"] != "idle", "the live outlived the server"
    assert wait_until(lambda: state_is(station, plan_id, "ran"), timeout=30)
    ended = datetime.fromisoformat(station.api("GET", f"/api/sessions/{session_id}")[1]["ended_at"])
    assert abs((ended - (start + timedelta(seconds=16))).total_seconds()) <= 4


@pytest.mark.skipif(not PG_URL.startswith("postgresql"), reason="needs CUNBO_TEST_DATABASE_URL (PostgreSQL)")
def test_two_stations_on_one_postgresql_each_fire_only_their_own_plans_exactly_once(tmp_path, flat_video,
                                                                                     database_url):
    a = ServerProcess(ROOT, tmp_path / "a", database_url)
    b = ServerProcess(ROOT, tmp_path / "b", database_url)
    a.setup("wang")
    b.setup("li")
    try:
        a.start()
        b.start()
        plan_a, _ = plan(a, flat_video, 4, 6, "甲村早市")
        plan_b, _ = plan(b, flat_video, 4, 6, "乙村早市")  # the same time: each station has its own engine
        assert wait_until(lambda: state_is(a, plan_a, "ran") and state_is(b, plan_b, "ran"), timeout=40)
        time.sleep(3)  # a wrong second fire would show by now
        engine = db.make_engine(database_url)
        sessions = db.make_session_factory(engine)
        with sessions() as session:
            stations = dict(session.execute(select(BroadcastPlan.id, BroadcastPlan.station_id)).all())
            assert stations[plan_a] != stations[plan_b]
            for plan_id in (plan_a, plan_b):
                plan_runs = session.scalars(select(PlanRun).where(PlanRun.plan_id == plan_id)).all()
                assert len(plan_runs) == 1 and plan_runs[0].state == "ran"
                live = session.get(LiveSession, plan_runs[0].session_id)
                assert live.station_id == stations[plan_id], "fired by its own station"
            assert session.query(LiveSession).count() == 2
            assert a.api("GET", "/api/broadcasts")[1][0]["id"] == plan_a and len(a.api("GET", "/api/broadcasts")[1]) == 1
        engine.dispose()
    finally:
        a.stop()
        b.stop()
