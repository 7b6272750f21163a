"""The farmer's live console: checklist, go live, products on the video, orders, preview."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app

from zoneinfo import ZoneInfo

from capture.ffmpeg import find_ffprobe
from live.clip_jobs import ClipWorker
from live.service import LiveService

bp = Blueprint("live", __name__, url_prefix="/live")


def init_app(app: Flask) -> None:
    """Create the one live service of this app and stop its broadcast when the app shuts down.

    Reattaching to a broadcast that outlived a previous server is the server's job
    (``app.serve``), not the factory's: a CLI command creating the app must not take it over.
    """
    data_dir = Path(app.config["DATA_DIR"])
    (data_dir / "recordings").mkdir(parents=True, exist_ok=True)
    service = LiveService(app.extensions["cunbo.sessions"], data_dir, station_id=app.config["STATION_ID"],
                          ffmpeg=app.config.get("FFMPEG"), media_dirs=tuple(app.config["MEDIA_DIRS"]))
    app.extensions["cunbo.live"] = service
    app.extensions.setdefault("cunbo.shutdown_hooks", []).append(service.shutdown)
    # Clip export: one background thread, started when clips are queued (or by the server at
    # start-up, to redo clips a previous server left half-made); paused while a live runs.
    ffmpeg = app.config.get("FFMPEG") or "ffmpeg"
    clips = ClipWorker(app.extensions["cunbo.sessions"], data_dir / "clips", app.config["STATION_ID"],
                       lambda: str(service.status()["state"]), ffmpeg=ffmpeg,
                       ffprobe=find_ffprobe(ffmpeg) or "ffprobe", zone=ZoneInfo(app.config["VILLAGE_TIMEZONE"]))
    app.extensions["cunbo.clips"] = clips
    service.on_start(clips.hold)
    app.extensions["cunbo.shutdown_hooks"].append(clips.stop)


def clip_worker() -> ClipWorker:
    """This app's clip worker."""
    return current_app.extensions["cunbo.clips"]  # type: ignore[no-any-return]


def live_service() -> LiveService:
    """This app's live service."""
    return current_app.extensions["cunbo.live"]  # type: ignore[no-any-return]


from app.live import routes  # noqa: E402,F401
