"""After the broadcast (shared/api.md): a session's report, and its clips."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, jsonify, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from accounts.roles import ADMIN, COORDINATOR
from app.api import bp
from app.api.errors import ApiError
from app.api.live import HOSTS
from app.database import get_db
from app.live import clip_worker
from app.security import role_required
from live.clip_jobs import ClipsRefused, clip_to_dict, session_clips
from live.disk import DeleteFailed, DeleteRefused, Removal, delete_clips, delete_recordings
from live.models import Clip, LiveSession
from live.service import visible_session
from orders.report import queue_session_clips, session_report


def _visible(session_id: int) -> LiveSession:
    row = visible_session(get_db(), session_id, current_user)
    if row is None:
        raise ApiError(404, _("没有这场直播"))
    return row


@bp.get("/sessions/<int:session_id>/report")
@role_required(*HOSTS)
def session_report_json(session_id: int) -> ResponseReturnValue:
    """The broadcast report: duration, orders and sales per product and per minute, the best
    minute, sold-out times and this host's previous broadcasts at the same weekday and time."""
    row = _visible(session_id)
    return jsonify(session_report(get_db(), row, ZoneInfo(current_app.config["VILLAGE_TIMEZONE"])))


@bp.post("/sessions/<int:session_id>/clips")
@role_required(*HOSTS)
def session_clips_queue(session_id: int) -> ResponseReturnValue:
    """Queue a 16:9 and a 9:16 clip per product segment → 202 with the clip list; the worker
    cuts them in the background (409 while the session is live or when it has no recording)."""
    row = _visible(session_id)
    session = get_db()
    try:
        clips = queue_session_clips(session, row, float(current_app.config["CLIP_LIMIT_S"]))
    except ClipsRefused as exc:
        raise ApiError(409, _(str(exc))) from exc
    session.commit()
    clip_worker().wake()
    return jsonify([clip_to_dict(c) for c in clips]), 202


@bp.get("/sessions/<int:session_id>/clips")
@role_required(*HOSTS)
def session_clips_list(session_id: int) -> ResponseReturnValue:
    """The session's clips with state and progress; only ``done`` ones have a path."""
    _visible(session_id)
    return jsonify([clip_to_dict(c) for c in session_clips(get_db(), session_id)])


@bp.post("/sessions/<int:session_id>/clips/cancel")
@role_required(*HOSTS)
def session_clips_cancel(session_id: int) -> ResponseReturnValue:
    """Cancel the clips not yet made (the one being cut is stopped) → {"cancelled": n}."""
    _visible(session_id)
    session = get_db()
    count = clip_worker().cancel(session, session_id)
    session.commit()
    return jsonify({"cancelled": count})


def _delete(session_id: int, remove: Callable[[Session, LiveSession], Removal]) -> ResponseReturnValue:
    """Cancel the session's unfinished clips, then ``remove`` files and rows together: committed,
    then the files unlinked; if the commit fails the files are put back (live/disk.py)."""
    row = _visible(session_id)
    session = get_db()
    clip_worker().cancel(session, session_id)
    try:
        removal = remove(session, row)
    except DeleteRefused as exc:
        raise ApiError(409, _(str(exc))) from exc
    except DeleteFailed as exc:
        current_app.logger.warning("delete for session %s failed: %s", session_id, exc.detail)
        session.rollback()
        raise ApiError(500, _(str(exc))) from exc
    try:
        session.commit()
    except BaseException:
        session.rollback()
        removal.undo()
        raise
    removal.finish()
    return jsonify({"deleted": removal.count, "size_bytes": removal.size_bytes})


@bp.delete("/sessions/<int:session_id>/clips")
@role_required(COORDINATOR, ADMIN)
def session_clips_delete(session_id: int) -> ResponseReturnValue:
    """Coordinator: cancel what is queued and delete the session's clips, files and rows →
    {"deleted": n, "size_bytes": freed}; 409 for a session another PC recorded."""
    return _delete(session_id, lambda session, row: delete_clips(session, row, current_app.config["STATION_ID"]))


@bp.delete("/sessions/<int:session_id>/recording")
@role_required(COORDINATOR, ADMIN)
def session_recording_delete(session_id: int) -> ResponseReturnValue:
    """Coordinator: delete the session's recording files and rows (the report and the clips stay)
    → {"deleted": n files, "size_bytes": freed}; 409 while the live runs or for another PC's session."""
    recordings = Path(current_app.config["DATA_DIR"]) / "recordings"
    return _delete(session_id, lambda session, row: delete_recordings(session, row, current_app.config["STATION_ID"],
                                                                      recordings))


@bp.get("/clips/<int:clip_id>/file")
@role_required(*HOSTS)
def clip_file(clip_id: int) -> ResponseReturnValue:
    """The clip's MP4 (``?download=1`` as an attachment named with the product and date)."""
    clip = get_db().get(Clip, clip_id)
    if clip is None or clip.state != "done":
        raise ApiError(404, _("没有这个切片"))
    _visible(clip.session_id)
    path = Path(clip.path)
    if not path.is_file():
        raise ApiError(404, _("没有这个切片"))
    return send_file(path, mimetype="video/mp4", conditional=True,
                     as_attachment=request.args.get("download") == "1", download_name=path.name)
