"""One APScheduler per station, which only wakes the :class:`~schedules.planner.Planner` up.

Choices, and why:

- **MemoryJobStore, rebuilt from the plan table at start.** The plan table is the truth; a
  persistent job store would be a second copy to keep in step, and APScheduler's job stores
  cannot be shared between schedulers, which a county database shared by many stations would
  invite. Nothing is lost at a restart: the start-up wake works out what should run now.
- **Explicit job ids + ``replace_existing``**: ``plan<id>:start|end|preflight`` per plan and
  ``poll``; re-planning replaces a job, never adds a second one.
- **``misfire_grace_time=None``** (run however late) **and ``coalesce=True``**: APScheduler's
  default grace of 1 s silently drops a wake that comes late on a busy PC. A late wake is
  harmless because the planner checks windows, not instants; several missed runs of the poll
  collapse into one, since one reconcile covers them all.
- **Exactly one per station**: only ``app.serve`` starts it (never ``create_app``, which every
  CLI command and the debug reloader's parent also run), and it takes an exclusive lock on a
  file in the data dir, so a second server on the same data dir runs none.
- **Jobs name an importable module function** (:func:`wake_station`) with the station id as its
  argument, never a bound method or a lambda.
"""
from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from schedules.planner import Planner, TickReport

log = logging.getLogger(__name__)

POLL_S = 20.0  # the safety net: a reconcile at least this often, whatever the date jobs do
RESCHEDULE_WAIT_S = 10.0  # how long a wake waits for another wake's rescheduling before leaving it to the poll
_planners: dict[str, "StationScheduler"] = {}  # station id → this process's running scheduler
_registry_lock = threading.Lock()


def wake_station(station_id: str) -> None:
    """The one job function: reconcile this station's plans, then schedule the next wakes."""
    with _registry_lock:
        scheduler = _planners.get(station_id)
    if scheduler is not None:
        scheduler.wake()


class StationLock:
    """An exclusive lock on a file in the data dir, held while the scheduler runs and released
    by the OS if the process dies (flock on POSIX, msvcrt on Windows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        fh = open(self.path, "a+")
        try:
            if os.name == "nt":  # pragma: no cover - the village PCs that run Windows
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the lock
            self._fh = None


class StationScheduler:
    """The station's scheduler: start it once per server, tell it when plans change."""

    def __init__(self, planner: Planner, lock_path: Path, *, poll_s: float = POLL_S) -> None:
        self.planner = planner
        self.station_id = planner.station_id
        self._lock = StationLock(lock_path)
        self._poll_s = poll_s
        self._scheduler: BackgroundScheduler | None = None
        # Two wakes can run at once (the poll, a plan change's "now"): each reads the wake times
        # and then replaces the plan jobs, and unserialised the one that read first (before a new
        # plan was committed) removed the jobs the other had just added.
        self._rescheduling = threading.Lock()
        self.last_report: TickReport | None = None
        self.wakes = 0

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> bool:
        """Start waking plans; False (and nothing started) when another process of this data dir
        already runs the station's scheduler."""
        if self._scheduler is not None:
            return True
        with _registry_lock:
            if self.station_id in _planners:
                log.warning("station %s already has a scheduler in this process", self.station_id)
                return False
            if not self._lock.acquire():
                log.warning("station %s: another process runs its scheduler; none started here", self.station_id)
                return False
            _planners[self.station_id] = self
        scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone.utc,
        )
        scheduler.add_job(wake_station, "interval", seconds=self._poll_s, args=[self.station_id], id="poll",
                          replace_existing=True)
        self._scheduler = scheduler
        scheduler.start()
        self.wake_soon()  # the start-up reconcile: what should be live now, for which slot?
        log.info("scheduler of station %s started", self.station_id)
        return True

    def wake(self) -> None:
        """Reconcile now (on the caller's thread), then schedule the next wakes."""
        self.wakes += 1
        self.last_report = self.planner.tick()
        self.reschedule()

    def wake_soon(self) -> None:
        """Reconcile on the scheduler's thread as soon as it can (plans changed)."""
        scheduler = self._scheduler
        if scheduler is not None:
            # max_instances 2: a change made while a wake runs must still get its own wake after it
            # (the planner's lock serialises them); with 1, APScheduler would skip it silently.
            scheduler.add_job(wake_station, "date", run_date=datetime.now(timezone.utc), args=[self.station_id],
                              id="now", replace_existing=True, max_instances=2)

    def reschedule(self) -> None:
        """One date job per plan wake (start, end, pre-flight), replacing the previous ones."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        if not self._rescheduling.acquire(timeout=RESCHEDULE_WAIT_S):
            log.warning("station %s: another wake is still rescheduling; the next poll will", self.station_id)
            return
        try:
            wanted = self.planner.wake_times()  # read inside the lock: the later wake sees the newer plans
            for job in scheduler.get_jobs():
                if job.id.startswith("plan") and job.id not in wanted:
                    job.remove()
            for job_id, at in wanted.items():
                scheduler.add_job(wake_station, "date", run_date=at, args=[self.station_id], id=job_id,
                                  replace_existing=True)
        finally:
            self._rescheduling.release()

    def job_ids(self) -> list[str]:
        scheduler = self._scheduler
        return sorted(j.id for j in scheduler.get_jobs()) if scheduler is not None else []

    def shutdown(self) -> None:
        """Stop waking (a broadcast running carries on). Idempotent."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            self.planner.abort()  # a start under way must not leave a worker after the server
        with _registry_lock:
            if _planners.get(self.station_id) is self:
                del _planners[self.station_id]
        self._lock.release()
