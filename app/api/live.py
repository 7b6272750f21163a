"""Live API (shared/api.md): start, show, status, stop; plus overlay controls and the checklist."""
from __future__ import annotations

from typing import Literal

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import Field, ValidationError

from accounts.roles import ADMIN, COORDINATOR, FARMER
from app.api import bp
from app.api.errors import ApiError, describe_validation_error, load_body
from app.database import get_db
from app.i18n import N_, localized
from app.inputs import Body, Id, Int
from app.live import live_service
from app.live.checklist import run_checklist
from app.security import role_required
from live import destinations as dest
from capture.errors import CaptureError
from orders.services import session_totals
from live.profiles import remember
from live.service import AlreadyLive, LiveBusy, LiveError, NotLive, PreviewFull, UnknownProduct, visible_session

HOSTS = (FARMER, COORDINATOR, ADMIN)


class StartBody(Body):

    video: str = Field("0", max_length=255)
    audio: str = Field("default", max_length=255)
    destinations: list[str] = Field(default_factory=list, max_length=8)
    destination_ids: list[Id] = Field(default_factory=list, max_length=8)
    record: bool = True
    preset: Literal["720p30", "540p30", "480p30"] = "720p30"
    layout: Literal["landscape", "portrait"] = "landscape"
    broadcast_id: Id | None = None
    qr_text: str | None = Field(None, max_length=255)
    recognition: Literal["off", "suggest", "follow"] | None = None  # None: the mode the host chose last


class ShowBody(Body):

    product_id: Id | None


class OverlayBody(Body):

    show_promo: bool | None = None
    qr: bool | None = None
    qr_text: str | None = Field(None, max_length=255)
    countdown_s: Int | None = None
    cancel_countdown: bool = False
    layout: Literal["landscape", "portrait"] | None = None
    recognition: Literal["off", "suggest", "follow"] | None = None


class ChecklistBody(Body):
    """``destination_ids`` name the host's saved destinations: the page never holds a stream key."""


    video: str = Field("0", max_length=255)
    audio: str = Field("default", max_length=255)
    destinations: list[str] = Field(default_factory=list, max_length=8)
    destination_ids: list[Id] = Field(default_factory=list, max_length=8)


# The one mapping of live-session errors to HTTP statuses (the domain classes carry none).
LIVE_ERROR_STATUS: dict[type[LiveError], int] = {
    AlreadyLive: 409, NotLive: 409, LiveBusy: 409, UnknownProduct: 404, PreviewFull: 429,
}


def live_error_status(exc: LiveError) -> int:
    return next((code for cls, code in LIVE_ERROR_STATUS.items() if isinstance(exc, cls)), 400)


def _live_error(exc: LiveError) -> ApiError:
    return ApiError(live_error_status(exc), _(str(exc)))


def _push_urls(urls: list[str], destination_ids: list[int]) -> list[str]:
    """Push URLs given whole (scripts) plus the caller's saved destinations named by id (the
    console, so that no stream key is ever in the page). 400 for an id that is not theirs."""
    session = get_db()
    try:
        saved = [dest.get_destination(session, current_user.id, i).push_url for i in destination_ids]
    except dest.DestinationError as exc:
        raise ApiError(400, localized(exc)) from exc
    return [*urls, *saved]


@bp.post("/live/start")
@role_required(*HOSTS)
def live_start() -> ResponseReturnValue:
    """Go live → 201 {"session_id"}; 409 while live; 400 for a camera/mic/encoder that cannot start."""
    body = load_body(StartBody)
    try:
        session_id = live_service().start(
            current_user,
            video=body.video,
            audio=body.audio,
            destinations=_push_urls(body.destinations, body.destination_ids),
            record=body.record,
            preset=body.preset,
            layout=body.layout,
            qr_text=body.qr_text,
            recognition=body.recognition,
        )
    except LiveError as exc:
        raise _live_error(exc) from exc
    except ValidationError as exc:
        message, fields = describe_validation_error(exc)
        raise ApiError(400, message, fields=fields) from exc
    except CaptureError as exc:
        raise ApiError(400, localized(exc)) from exc
    # What worked is what the console offers next time (camera, microphone, quality, layout).
    choices = {"video": body.video, "audio": body.audio, "preset": body.preset, "layout": body.layout}
    if body.qr_text:
        choices["qr_text"] = body.qr_text
    if body.recognition:
        choices["recognition"] = body.recognition
    remember(get_db(), current_user.id, **choices)
    get_db().commit()
    return jsonify({"session_id": session_id}), 201


@bp.post("/live/show")
@role_required(*HOSTS)
def live_show() -> ResponseReturnValue:
    """Put a product on the video from the next frame (null takes the card off)."""
    body = load_body(ShowBody)
    service = live_service()
    try:
        if body.product_id is None:
            service.hide_product(actor=current_user)
        else:
            service.show(body.product_id, viewer=current_user)
    except LiveError as exc:
        raise _live_error(exc) from exc
    return jsonify({"product_id": body.product_id, "session_id": service.session_id})


@bp.post("/live/overlay")
@role_required(*HOSTS)
def live_overlay() -> ResponseReturnValue:
    """Flash-sale countdown, promotional price on/off, QR code on/off, landscape or portrait, and
    product recognition off / suggest / follow."""
    body = load_body(OverlayBody)
    on_screen = live_service().status(current_user).get("product") or {}
    if body.countdown_s is not None and on_screen.get("stock", 1) <= 0:
        raise ApiError(409, _("这个商品已售罄，不能开始限时抢购。请先换一个有货的商品。"))
    try:
        if body.layout is not None:
            live_service().set_layout(body.layout, actor=current_user)
            remember(get_db(), current_user.id, layout=body.layout)
            get_db().commit()
        live_service().set_overlay(**body.model_dump(exclude={"layout"}), actor=current_user)
    except LiveError as exc:
        raise _live_error(exc) from exc
    overlay = live_service().status(current_user).get("overlay")
    if overlay is None:  # stopped between the change and this answer (another tab, the scheduler)
        raise _live_error(NotLive(N_("现在没有在直播")))
    return jsonify(overlay)


@bp.get("/live/status")
@role_required(*HOSTS)
def live_status() -> ResponseReturnValue:
    """State, fps, frames, dropped/duplicated, product on screen, recording, destinations (keys masked),
    and this live's running tally of orders and sales."""
    status = live_service().status(current_user)
    if status["session_id"] is not None:
        status["orders"], status["gmv_fen"] = session_totals(get_db(), status["session_id"])
    return jsonify(status)


@bp.post("/live/stop")
@role_required(*HOSTS)
def live_stop() -> ResponseReturnValue:
    """End the broadcast → {"session_id", "recording", "duration_s"}; 409 when nothing is live."""
    try:
        return jsonify(live_service().stop(current_user))
    except LiveError as exc:
        raise _live_error(exc) from exc


@bp.post("/live/checklist")
@role_required(*HOSTS)
def live_checklist() -> ResponseReturnValue:
    """Test camera, microphone, each destination, disk space and stream keys, for real."""
    body = load_body(ChecklistBody)
    return jsonify(run_checklist(video=body.video, audio=body.audio,
                                 destinations=_push_urls(body.destinations, body.destination_ids)))


@bp.get("/sessions/<int:session_id>")
@role_required(*HOSTS)
def session_detail(session_id: int) -> ResponseReturnValue:
    """A live session's record: times, recording, product segments, orders and sales."""
    session = get_db()
    row = visible_session(session, session_id, current_user)
    if row is None:
        raise ApiError(404, _("没有这场直播"))
    orders, gmv = session_totals(session, session_id)
    recordings = row.recording_paths
    return jsonify(
        {
            "id": row.id,
            "host": row.host.username,
            "started_at": row.started_at.isoformat(),
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "end_reason": row.end_reason,
            "recording": recordings[0] if recordings else None,
            "recordings": recordings,
            "segments": [
                {"product_id": s.product_id, "start_s": s.start_s, "end_s": s.end_s} for s in row.segments
            ],
            "orders": orders,
            "gmv_fen": gmv,
        }
    )
