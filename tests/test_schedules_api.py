"""The plans API beyond firing: edit, cancel, skip, who sees what; the scheduler's jobs and its
one-per-station guard."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from schedules.scheduler import StationScheduler
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def people(session):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    li = factories.user(session, "farmer", "li", display_name="李大哥")
    zhan = factories.user(session, "coordinator", "zhan")
    partner = factories.user(session, "partner", "sf")
    return wang, li, zhan, partner


def body(**kw) -> dict:
    values = {"title": "早市", "host": "wang", "starts_at": "2030-03-04T06:00:00+08:00", "duration_min": 60}
    values.update(kw)
    return values


def test_edit_cancel_and_skip_change_next_run(app, api_as, people):
    api = api_as(people[2])
    plan = api.post("/api/broadcasts", json=body(repeat="weekly:1,3")).json
    assert plan["next_run"] == "2030-03-04T06:00:00+08:00" and plan["repeat"] == "weekly:1,3"
    edited = api.patch(f"/api/broadcasts/{plan['id']}", json={"starts_at": "2030-03-04T07:30:00+08:00",
                                                               "title": "早市（改）"}).json
    assert edited["next_run"] == "2030-03-04T07:30:00+08:00" and edited["title"] == "早市（改）"
    skipped = api.post(f"/api/broadcasts/{plan['id']}/skip", json={"date": "2030-03-04"})
    assert skipped.status_code == 200 and skipped.json["state"] == "skipped"
    assert api.get(f"/api/broadcasts/{plan['id']}").json["next_run"] == "2030-03-06T07:30:00+08:00"
    assert api.post(f"/api/broadcasts/{plan['id']}/skip", json={"date": "2030-03-05"}).status_code == 400
    cancelled = api.delete(f"/api/broadcasts/{plan['id']}").json
    assert cancelled["cancelled"] and cancelled["next_run"] is None
    assert api.get("/api/broadcasts").json == []


def test_naive_times_are_the_villages_wall_clock_and_answers_carry_an_offset(app, api_as, people):
    api = api_as(people[2])
    plan = api.post("/api/broadcasts", json=body(starts_at="2030-03-04T06:00:00")).json
    assert plan["starts_at"] == "2030-03-04T06:00:00+08:00"


def test_farmers_plan_and_see_only_their_own_and_other_roles_are_refused(app, api_as, people):
    wang, li, zhan, partner = people
    mine = api_as(wang).post("/api/broadcasts", json=body(host=None))
    assert mine.status_code == 201 and mine.json["host"] == "wang"
    assert api_as(wang).post("/api/broadcasts", json=body(host="li", starts_at="2030-03-05T06:00:00+08:00")
                             ).status_code == 404
    assert api_as(li).get(f"/api/broadcasts/{mine.json['id']}").status_code == 404
    assert api_as(li).get("/api/broadcasts").json == []
    assert api_as(zhan).get(f"/api/broadcasts/{mine.json['id']}/runs").json == []
    assert api_as(partner).get("/api/broadcasts").status_code == 403


def test_stream_keys_in_plans_are_masked(app, api_as, people):
    plan = api_as(people[2]).post("/api/broadcasts", json=body(
        destinations=["rtmp://push.douyin.example/live/secretkey123?expire=1900000000&sign=abcdef"])).json
    assert "secretkey123" not in str(plan) and "abcdef" not in str(plan)


def test_the_scheduler_keeps_one_job_per_wake_with_explicit_ids(app, api_as, people):
    scheduler = app.extensions["cunbo.scheduler"]
    assert not scheduler.running, "create_app (also every CLI command) never starts a scheduler"
    assert scheduler.start()
    api = api_as(people[2])
    start = datetime.now(timezone.utc) + timedelta(hours=1)
    plan = api.post("/api/broadcasts", json=body(starts_at=start.isoformat(), repeat="daily")).json
    expected = {"poll", f"plan{plan['id']}:start", f"plan{plan['id']}:preflight"}
    deadline = time.monotonic() + 10
    while set(scheduler.job_ids()) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(scheduler.job_ids()) == expected
    api.patch(f"/api/broadcasts/{plan['id']}", json={"title": "改名"})
    scheduler.wake()
    # The edit also asks for a wake at once (a one-off "now" job that runs and goes): wait it out.
    deadline = time.monotonic() + 10
    while "now" in scheduler.job_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(scheduler.job_ids()) == sorted(expected), "replaced, never added twice"


def test_two_wakes_rescheduling_at_once_never_drop_the_newer_plans_jobs(app, monkeypatch):
    """A wake that read the wake times before a plan was committed must not remove the jobs a
    later wake has just added for it (seen once in a clean-clone run: only "poll" was left)."""
    scheduler = app.extensions["cunbo.scheduler"]
    assert scheduler.start()
    at = datetime.now(timezone.utc) + timedelta(hours=1)
    reads = iter([{}, {"plan99:start": at}])  # the first wake reads before the plan, the second after
    first_read, second_done = threading.Event(), threading.Event()

    def wake_times():
        wanted = next(reads)
        if not first_read.is_set():
            first_read.set()
            second_done.wait(2)  # unserialised, the second wake adds its job meanwhile
        return wanted

    monkeypatch.setattr(scheduler.planner, "wake_times", wake_times)
    first = threading.Thread(target=scheduler.reschedule)
    first.start()
    assert first_read.wait(10)
    second = threading.Thread(target=lambda: (scheduler.reschedule(), second_done.set()))
    second.start()
    first.join(20)
    second.join(20)
    assert not first.is_alive() and not second.is_alive()
    assert "plan99:start" in scheduler.job_ids()


def test_a_second_scheduler_for_the_same_station_does_not_start(app, tmp_path):
    first = app.extensions["cunbo.scheduler"]
    assert first.start()
    second = StationScheduler(first.planner, tmp_path / "data" / "scheduler.lock")
    assert not second.start(), "same process, same station"
    probe = ("import sys; from pathlib import Path; from schedules.scheduler import StationLock; "
             "print(StationLock(Path(sys.argv[1])).acquire())")
    lock = str(tmp_path / "data" / "scheduler.lock")
    other = subprocess.run([sys.executable, "-c", probe, lock], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert other.stdout.strip() == "False", "another process (a second server on this data dir) is refused"
    first.shutdown()
    other_process_lock = StationScheduler(first.planner, tmp_path / "data" / "scheduler.lock")
    assert other_process_lock.start(), "free again once the first stopped"
    other_process_lock.shutdown()
