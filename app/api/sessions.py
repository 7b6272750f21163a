"""After the broadcast (shared/api.md): a session's report, and its clips."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.api import bp
from app.api.errors import ApiError
from app.api.live import HOSTS
from app.database import get_db
from app.security import role_required
from live.models import LiveSession
from live.service import visible_session
from orders.report import session_report


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
