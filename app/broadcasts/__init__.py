"""Broadcast plans: the week calendar, plan/edit/cancel/skip pages, home panels, the scheduler.

The scheduler is created here but started only by the server (``app.serve``), never by the
factory: every CLI command creates the app too, and a station must run exactly one scheduler.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app

from schedules.planner import Planner
from schedules.scheduler import StationScheduler

bp = Blueprint("broadcasts", __name__, url_prefix="/broadcasts")


def init_app(app: Flask) -> None:
    """Make the station's planner and (not started) scheduler; stop it first at shutdown."""
    data_dir = Path(app.config["DATA_DIR"])
    planner = Planner(app.extensions["cunbo.sessions"], app.extensions["cunbo.live"],
                      station_id=app.config["STATION_ID"], zone=app.config["VILLAGE_TIMEZONE"],
                      recording_dir=data_dir / "recordings")
    scheduler = StationScheduler(planner, data_dir / "scheduler.lock",
                                 poll_s=float(app.config.get("SCHEDULER_POLL_S", 20.0)))
    app.extensions["cunbo.scheduler"] = scheduler
    # Before the live engine's hook: no wake may start a broadcast while the server closes.
    app.extensions.setdefault("cunbo.shutdown_hooks", []).insert(0, scheduler.shutdown)


def scheduler() -> StationScheduler:
    """This app's station scheduler (running only in the server)."""
    return current_app.extensions["cunbo.scheduler"]  # type: ignore[no-any-return]


def plans_changed() -> None:
    """A plan was added, edited, cancelled or skipped: reconcile and reschedule now."""
    scheduler().wake_soon()


def zone() -> str:
    return str(current_app.config["VILLAGE_TIMEZONE"])


def station_id() -> str:
    return str(current_app.config["STATION_ID"])


from app.broadcasts import routes  # noqa: E402,F401
