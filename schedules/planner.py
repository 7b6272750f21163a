"""The decision of every wake: should this station be live now, and for which occurrence?

Worked out from the plans and the run records only, never from what the scheduler remembers:
the scheduler (:mod:`schedules.scheduler`) just calls :meth:`Planner.tick` at the right times and
every little while. A tick is a window check (is a slot open now?), never "is it exactly 06:00:00",
so a wake that comes late — a busy PC, a restart, a power cut — still does the right thing:

- a slot open now whose run is still ``planned`` starts, late by however long it is late;
- a slot whose window has passed without starting is ``missed``, with the reason last seen
  (another live was running, the camera failed, …) or ``pc_off`` when nothing woke during it;
- a ``started`` run whose window has ended is stopped (also after a server restart: the live
  engine reattached to the session and the run record names it);
- a slot due within 15 minutes gets its pre-flight once.

A running live the plan did not start is never touched: the plan waits, then is missed.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import User
from capture.errors import CaptureError
from db import utcnow
from live.destinations import destinations_of
from live.disk import pending_clips_mb
from live.models import LiveSession
from live.service import OP_WAIT_S, START_TIMEOUT_S, AlreadyLive, LiveBusy, LiveError, LiveService, SourceRefused
from schedules import occurrences
from schedules.models import BroadcastPlan, PlanRun
from schedules.preflight import PREFLIGHT_LEAD_S, Checks, run_preflight
from schedules.services import rule_of, run_for

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=2)  # slots this far back that never got a record are marked missed
EARLY_END_S = 5  # a live that ended this much before its slot's end "stopped early"
TICK_LOCK_S = 30.0  # a tick waits this long for another (a start takes up to ~17 s), then gives up
# A run claimed for starting (state started, no session yet) whose starter has been silent this long
# died mid-start (power cut); it is released so that the next wake starts it.
CLAIM_STALE_S = START_TIMEOUT_S + OP_WAIT_S + 10.0


@dataclass
class TickReport:
    """What one tick did, for logs and tests."""

    started: list[int] = field(default_factory=list)  # run ids
    stopped: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    preflighted: list[int] = field(default_factory=list)
    skipped_busy: bool = False


class Planner:
    """Reconciles one station's plans and run records with its live engine."""

    def __init__(self, sessions: sessionmaker[Session], live: LiveService, *, station_id: str, zone: str,
                 recording_dir: Path, clock: Callable[[], datetime] = utcnow, checks: Checks | None = None) -> None:
        self._sessions = sessions
        self._live = live
        self.station_id = station_id
        self.zone = zone
        self._recording_dir = recording_dir
        self.clock = clock
        self._checks = checks
        self._lock = threading.Lock()
        self._starting = threading.Event()

    # -- the tick -----------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """One reconcile. Never raises for a database or live-engine failure: it logs, and the
        next wake tries again."""
        report = TickReport()
        if not self._lock.acquire(timeout=TICK_LOCK_S):
            report.skipped_busy = True
            return report
        try:
            now = self.clock()
            with self._sessions() as session:
                self._finish_started(session, now, report)
                plans = self._plans(session)
                self._mark_passed(session, plans, now, report)
                self._start_open(session, plans, now, report)
                self._preflight(session, plans, self.clock(), report)
        except SQLAlchemyError:
            log.warning("planner tick: database error; the next wake tries again", exc_info=True)
        finally:
            self._lock.release()
        return report

    def _plans(self, session: Session) -> list[BroadcastPlan]:
        return list(session.scalars(select(BroadcastPlan).where(
            BroadcastPlan.station_id == self.station_id, BroadcastPlan.cancelled_at.is_(None))
            .order_by(BroadcastPlan.id)))

    def _finish_started(self, session: Session, now: datetime, report: TickReport) -> None:
        runs = session.scalars(select(PlanRun).join(BroadcastPlan).where(
            BroadcastPlan.station_id == self.station_id, PlanRun.state.in_(("started", "starting"))))
        for run in list(runs):
            end = run.planned_at + timedelta(seconds=run.plan.duration_s)
            if run.state == "starting":  # claimed by a start that is not ours (we hold the tick lock)
                if run.started_at is None or (now - run.started_at).total_seconds() > CLAIM_STALE_S:
                    run.state, run.started_at = "planned", None
                    session.commit()
                continue
            ours = run.session_id is not None and self._live.session_id == run.session_id
            if ours and now < end:
                continue
            if ours:
                try:
                    self._live.stop()
                except LiveError as exc:  # busy with a switch: the next wake stops it
                    log.warning("plan %s: could not stop session %s yet: %s", run.plan_id, run.session_id, exc)
                    continue
                run.ended_at = self.clock()
            else:
                row = session.get(LiveSession, run.session_id) if run.session_id else None
                if row is not None and row.ended_at is None:
                    continue  # the engine is still reattaching or restarting its worker
                run.ended_at = row.ended_at if row is not None and row.ended_at else now
                if run.ended_at < end - timedelta(seconds=EARLY_END_S):
                    run.reason = "stopped_early"
            run.state = "ran"
            session.commit()
            report.stopped.append(run.id)
            log.info("plan %s: slot %s ran, stopped at %s", run.plan_id, run.planned_at, run.ended_at)

    def _mark_passed(self, session: Session, plans: list[BroadcastPlan], now: datetime, report: TickReport) -> None:
        for plan in plans:
            length = timedelta(seconds=plan.duration_s)
            for slot in occurrences.between(rule_of(plan, self.zone), now - LOOKBACK, now):
                if slot + length > now or slot + length <= plan.created_at:
                    continue
                run = self._run(session, plan, slot)
                if run is None or run.state != "planned":
                    continue
                run.state = "missed"
                run.reason = run.reason or ("pc_off" if plan.auto_start else "reminder_only")
                session.commit()
                report.missed.append(run.id)
                log.warning("plan %s: slot %s missed (%s)", plan.id, slot, run.reason)

    def _start_open(self, session: Session, plans: list[BroadcastPlan], now: datetime, report: TickReport) -> None:
        for plan in plans:
            slot = occurrences.current(rule_of(plan, self.zone), now)
            if slot is None or not plan.auto_start:
                continue
            run = self._run(session, plan, slot)
            if run is None or run.state != "planned":
                continue
            if self._live.session_id is not None or self._live.status()["state"] != "idle":
                self._wait(session, run, "another_live", "", report)
                continue
            self._start(session, plan, run, slot, report)

    def _start(self, session: Session, plan: BroadcastPlan, run: PlanRun, slot: datetime, report: TickReport) -> None:
        host = session.get(User, plan.host_id)
        if host is None or not host.active:
            self._wait(session, run, "host_missing", "", report)
            return
        destinations = self.destinations(session, plan)
        if not self._claim(session, run):
            return  # another process with this station id claimed the slot first
        self._starting.set()
        try:
            session_id = self._live.start(host, video=plan.video, audio=plan.audio, destinations=destinations,
                                          preset=plan.preset, layout=plan.layout,  # type: ignore[arg-type]
                                          qr_text=plan.qr_text or None)
        except (AlreadyLive, LiveBusy) as exc:
            self._release(session, run, "another_live", str(exc), report)
            return
        except (SourceRefused, ValidationError, CaptureError) as exc:
            reason = "push_refused" if "rtmp" in str(exc).lower() or "推流" in str(exc) else "camera"
            self._release(session, run, reason, str(exc), report)
            return
        finally:
            self._starting.clear()
        started = self.clock()
        run.state, run.started_at, run.session_id = "started", started, session_id
        run.late_s = max(0, int((started - slot).total_seconds()))
        run.reason, run.detail = None, ""
        session.commit()
        report.started.append(run.id)
        log.info("plan %s: slot %s live as session %s, %s s after its start", plan.id, slot, session_id, run.late_s)
        if plan.lineup:
            try:
                self._live.show(plan.lineup[0])
            except LiveError as exc:
                log.warning("plan %s: first product not shown: %s", plan.id, exc)

    def _claim(self, session: Session, run: PlanRun) -> bool:
        """Take the slot for starting, atomically: planned → starting. Only one claimer wins, even
        two PCs that were given the same station id (a copied data dir)."""
        claimed = session.execute(update(PlanRun).where(PlanRun.id == run.id, PlanRun.state == "planned")
                                  .values(state="starting", started_at=self.clock(), session_id=None)
                                  .execution_options(synchronize_session=False))
        session.commit()  # also: no transaction stays open while the camera opens (up to 15 s)
        session.refresh(run)
        return bool(getattr(claimed, "rowcount", 0) == 1)

    def _release(self, session: Session, run: PlanRun, reason: str, detail: str, report: TickReport) -> None:
        run.state, run.started_at = "planned", None
        self._wait(session, run, reason, detail, report)

    def _wait(self, session: Session, run: PlanRun, reason: str, detail: str, report: TickReport) -> None:
        """The slot cannot start now: say why on its record; the next wake tries again, and when
        the window closes it is missed with this reason."""
        run.reason, run.detail = reason, detail[:500]
        session.commit()
        report.waiting.append(run.id)

    def _preflight(self, session: Session, plans: list[BroadcastPlan], now: datetime, report: TickReport) -> None:
        for plan in plans:
            upcoming = occurrences.upcoming(rule_of(plan, self.zone), now, limit=1)
            if not upcoming or (upcoming[0] - now).total_seconds() > PREFLIGHT_LEAD_S:
                continue
            slot = upcoming[0]
            run = self._run(session, plan, slot)
            if run is None or run.preflight_at is not None or run.state != "planned":
                continue
            destinations = self.destinations(session, plan)
            session.commit()
            kwargs = {"checks": self._checks} if self._checks is not None else {}
            results = run_preflight(video=plan.video, audio=plan.audio, destinations=destinations,
                                    recording_dir=self._recording_dir,
                                    slot_end=slot + timedelta(seconds=plan.duration_s), zone=self.zone,
                                    station_live=self._live.session_id is not None,
                                    clips_pending_mb=pending_clips_mb(session, self.station_id), **kwargs)
            run.preflight, run.preflight_at = results, self.clock()
            session.commit()
            report.preflighted.append(run.id)

    @staticmethod
    def destinations(session: Session, plan: BroadcastPlan) -> list[str]:
        """Where the plan pushes: its own list, else the host's enabled push destinations."""
        if plan.destinations is not None:
            return list(plan.destinations)
        return [d.push_url for d in destinations_of(session, plan.host_id, enabled_only=True)]

    @staticmethod
    def _run(session: Session, plan: BroadcastPlan, slot: datetime) -> PlanRun | None:
        try:
            run = run_for(session, plan, slot)
            session.commit()
            return run
        except IntegrityError:  # made at the same moment elsewhere (a skip); read it next wake
            session.rollback()
            return None

    def abort(self) -> None:
        """The server is closing: cancel a start under way (its worker is stopped, nothing is
        left running) and let the tick unwind, for a few seconds at most."""
        if self._starting.is_set():
            try:
                self._live.stop()
            except LiveError:  # NotLive once the start is cancelled: what we wanted
                pass
        if self._lock.acquire(timeout=5.0):
            self._lock.release()

    # -- when to wake -------------------------------------------------------------------------

    def wake_times(self) -> dict[str, datetime]:
        """Job id → when the scheduler should wake next for each plan: its pre-flight, its start
        and its end. The periodic poll covers everything else."""
        now = self.clock()
        times: dict[str, datetime] = {}
        with self._sessions() as session:
            for plan in self._plans(session):
                rule = rule_of(plan, self.zone)
                length = timedelta(seconds=plan.duration_s)
                current = occurrences.current(rule, now)
                if current is not None:
                    times[f"plan{plan.id}:end"] = current + length
                for slot in occurrences.upcoming(rule, now, limit=1):
                    times[f"plan{plan.id}:start"] = slot
                    lead = slot - timedelta(seconds=PREFLIGHT_LEAD_S)
                    if lead > now:
                        times[f"plan{plan.id}:preflight"] = lead
            started = session.scalars(select(PlanRun).join(BroadcastPlan).where(
                BroadcastPlan.station_id == self.station_id, PlanRun.state == "started"))
            for run in started:
                times[f"plan{run.plan_id}:end"] = run.planned_at + timedelta(seconds=run.plan.duration_s)
        return times
