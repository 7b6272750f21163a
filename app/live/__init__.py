"""The farmer's live console: checklist, go live, products on the video, orders, preview."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app

from schedules.live import LiveService

bp = Blueprint("live", __name__, url_prefix="/live")


def init_app(app: Flask) -> None:
    """Create the one live service of this app and stop its broadcast when the app shuts down."""
    recordings = Path(app.config["DATA_DIR"]) / "recordings"
    recordings.mkdir(parents=True, exist_ok=True)
    service = LiveService(app.extensions["cunbo.sessions"], recordings, ffmpeg=app.config.get("FFMPEG"))
    app.extensions["cunbo.live"] = service
    app.extensions.setdefault("cunbo.shutdown_hooks", []).append(service.shutdown)


def live_service() -> LiveService:
    """This app's live service."""
    return current_app.extensions["cunbo.live"]  # type: ignore[no-any-return]


def product_changed(product_id: int) -> None:
    """Tell the live video that a product's stock or price changed (its card follows next frame)."""
    live_service().refresh_product(product_id)


from app.live import routes  # noqa: E402,F401
