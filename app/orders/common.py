"""What the order and hand-off views share: error statuses, upload flags, village dates."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session

from app.i18n import localized
from accounts.roles import MANAGERS
from catalog.money import format_yuan
from orders import services as orders
from orders.csvfiles import RowReport
from orders.errors import Conflict, NotAllowed, NotFound, OrderError
from orders.manifest import ManifestError
from orders.models import CHANNEL_LABELS, STATUS_LABELS

# Most specific first: the first class an error is an instance of decides the status.
ERROR_STATUS: tuple[tuple[type[OrderError], int], ...] = (
    (ManifestError, 503),  # no Chinese font on this PC: not the caller's fault
    (NotFound, 404),
    (NotAllowed, 403),
    (Conflict, 409),
    (OrderError, 400),
)


def status_for(exc: OrderError) -> int:
    """The HTTP status for a domain error (shared/api.md: 404 hides, 403 refuses, 409 conflicts)."""
    return next(status for cls, status in ERROR_STATUS if isinstance(exc, cls))


def flag(name: str) -> bool:
    """A yes/no option given as a form field or a query parameter (``1``, ``true``, ``on``, ``yes``)."""
    value = request.form.get(name, request.args.get(name, ""))
    return value.strip().lower() in {"1", "true", "on", "yes"}


def finish_upload(session: Session, report: RowReport, *, dry_run: bool, partial: bool) -> int:
    """Commit or roll back an upload as shared/api.md says, and return the status to answer.

    With any bad row nothing is written unless ``partial`` (then 200); without it 400. A dry run
    writes nothing and answers as the real run would.
    """
    refused = bool(report.errors) and not partial
    if dry_run or refused:
        session.rollback()
    else:
        session.commit()
    return 400 if refused else 200


def village_zone() -> ZoneInfo:
    """The village's time zone (Asia/Shanghai unless configured)."""
    return ZoneInfo(current_app.config["VILLAGE_TIMEZONE"])


def parse_day(text: str | None) -> date | None:
    """``2026-11-23`` → a date; anything else → None (a filter left empty or mistyped is ignored)."""
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def day_bounds(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """UTC bounds ``[since, before)`` covering whole village days from ``first`` to ``last``."""
    zone = village_zone()
    since = datetime.combine(first, time.min, zone) if first else None
    before = datetime.combine(last + timedelta(days=1), time.min, zone) if last else None
    return since, before


def template_helpers() -> dict[str, object]:
    """What order and hand-off templates use: labels and money display."""
    return {"status_labels": STATUS_LABELS, "channel_labels": CHANNEL_LABELS, "yuan": format_yuan,
            "status_badges": STATUS_BADGES}


# Badge colour per status (classes from cunbo.css).
STATUS_BADGES: dict[str, str] = {"new": "warn", "handed_off": "", "shipped": "ok", "delivered": "ok", "cancelled": "bad"}


def order_filter_from_request() -> tuple[orders.OrderFilter, dict[str, str]]:
    """The list filters from the query string, and the values to show back in the form."""
    args = {k: request.args.get(k, "").strip() for k in ("farmer", "channel", "status", "from", "to")}
    since, before = day_bounds(parse_day(args["from"]), parse_day(args["to"]))
    filters = orders.OrderFilter(
        status=args["status"] if args["status"] in STATUS_LABELS else None,
        channel=args["channel"] if args["channel"] in CHANNEL_LABELS else None,
        farmer=args["farmer"] or None if current_user.role in MANAGERS else None,
        since=since, before=before,
    )
    return filters, args


def act_and_return(session: Session, operation: Callable[[], object], done: str, back: str) -> ResponseReturnValue:
    """Run one operation for a page, commit, flash the outcome and go ``back``.

    An error is flashed after a rollback; what the person may not see or do becomes a 404 or 403 page.
    """
    try:
        operation()
    except OrderError as exc:
        session.rollback()
        if status_for(exc) in (403, 404):
            abort(status_for(exc))
        flash(localized(exc), "error")
    else:
        session.commit()
        flash(done, "success")
    return redirect(back)
