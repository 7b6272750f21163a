"""The broadcast report (直播复盘): what one live session sold, minute by minute and per product.

Everything is derived from the rows that own the facts (shared/style.md rule 13): the session's
orders (cancelled ones left out, as in :func:`orders.services.session_totals`), its product
segments, and the stock history that records when a product's stock reached zero. Nothing is
stored, so a cancelled order disappears from the report the moment it is cancelled.

The arithmetic is :func:`build_report`, a pure function of plain values, so tests can check it
against numbers worked out by hand; :func:`session_report` loads those values from the database.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from catalog.models import Product, ProductChange
from db import epoch_ms, to_epoch_ms, utcnow
from live.clip_jobs import queue_clips
from live.models import Clip, LiveSession, Segment
from orders.models import Order
from orders.services import SOLD_STATUSES

# "Same time" for the comparison with earlier broadcasts: the same local weekday, started within
# this many minutes of this one's local start time (a 06:00 live compares with 05:30 to 06:30).
SAME_TIME_WINDOW_MIN = 60
PREVIOUS_LIMIT = 5


@dataclass(frozen=True)
class MinuteTotal:
    """The counted orders of one product logged in one minute of the session (minute 0 is the
    first 60 s after the start; the database divides toward zero, so up to a minute before the
    start is minute 0 too; :func:`build_report` puts any minute outside the session at its edge)."""

    product_id: int
    minute: int
    orders: int
    gmv_fen: int


@dataclass(frozen=True)
class Stretch:
    product_id: int
    start_s: float
    end_s: float | None  # None while the product is still on screen


def session_duration_s(row: LiveSession, now: datetime | None = None) -> float:
    """Seconds the session ran: to its end, to the last time its worker was seen (a crash not yet
    closed), or to ``now`` while it is live."""
    end = row.ended_at or row.last_seen_at or now or utcnow()
    return round(max(0.0, (end - row.started_at).total_seconds()), 3)


def build_report(duration_s: float, totals: Sequence[MinuteTotal], stretches: Sequence[Stretch],
                 sold_out_at: dict[int, float], names: dict[int, str]) -> dict[str, Any]:
    """The report's numbers (shared/api.md ``GET /api/sessions/<id>/report``, without ``previous``).

    ``per_minute`` has one row for every minute the session ran (minute 0 is the first 60 s),
    zeros included, so a chart can draw it as it is. An order logged after the end (typed in from
    a comment later) counts in the last minute; one stamped before the start, in minute 0.
    ``best_minute`` is the minute with the most sales in fen (more orders, then the earlier
    minute, break ties), or None when nothing sold. ``on_screen_s`` adds up a product's segments;
    an open segment counts to the end. Products appear in the order they were first shown, then
    products sold without being shown, by id.
    """
    minutes = max(1, math.ceil(duration_s / 60))
    per_minute = [{"minute": m, "orders": 0, "gmv_fen": 0} for m in range(minutes)]
    per_product: dict[int, dict[str, Any]] = {}

    def product_row(product_id: int) -> dict[str, Any]:
        if product_id not in per_product:
            per_product[product_id] = {"product_id": product_id, "name": names.get(product_id, ""), "orders": 0,
                                       "gmv_fen": 0, "on_screen_s": 0.0, "sold_out_at": sold_out_at.get(product_id)}
        return per_product[product_id]

    for stretch in sorted(stretches, key=lambda s: s.start_s):
        end = duration_s if stretch.end_s is None else stretch.end_s
        row = product_row(stretch.product_id)
        row["on_screen_s"] = round(row["on_screen_s"] + max(0.0, end - stretch.start_s), 3)
    for total in sorted(totals, key=lambda t: (t.product_id, t.minute)):
        row = product_row(total.product_id)
        row["orders"] += total.orders
        row["gmv_fen"] += total.gmv_fen
        minute = per_minute[min(minutes - 1, max(0, total.minute))]
        minute["orders"] += total.orders
        minute["gmv_fen"] += total.gmv_fen

    sold = [m for m in per_minute if m["orders"]]
    best = max(sold, key=lambda m: (m["gmv_fen"], m["orders"], -m["minute"])) if sold else None
    return {
        "duration_s": duration_s,
        "orders": sum(t.orders for t in totals),
        "gmv_fen": sum(t.gmv_fen for t in totals),
        "per_product": list(per_product.values()),
        "per_minute": per_minute,
        "best_minute": dict(best) if best else None,
    }


def _seconds_after(start: datetime, at: datetime) -> float:
    return round((at - start).total_seconds(), 3)


def _sold(row: LiveSession) -> list[ColumnElement[bool]]:
    return [Order.session_id == row.id, Order.status.in_(SOLD_STATUSES)]


def sold_order_times(session: Session, row: LiveSession) -> list[float]:
    """When each of the session's orders that count (not cancelled) was logged, in seconds after the start, oldest first."""
    found = session.scalars(select(Order.created_at).where(*_sold(row)).order_by(Order.created_at, Order.id))
    return [_seconds_after(row.started_at, at) for at in found]


def minute_totals(session: Session, row: LiveSession) -> list[MinuteTotal]:
    """The session's counted orders summed per product and minute in the database: a page reading
    the report of a busy broadcast loads one row per product and minute, not one per order."""
    minute = ((epoch_ms(Order.created_at) - to_epoch_ms(row.started_at)) // 60_000).label("minute")
    # Grouped over a subquery: PostgreSQL would not match a bound parameter in the select list to
    # the same parameter repeated in GROUP BY.
    orders = select(Order.product_id, Order.total_fen, minute).where(*_sold(row)).subquery()
    found = session.execute(
        select(orders.c.product_id, orders.c.minute, func.count(), func.sum(orders.c.total_fen))
        .group_by(orders.c.product_id, orders.c.minute)
    ).all()
    return [MinuteTotal(pid, int(m), int(count), int(gmv)) for pid, m, count, gmv in found]


def _sold_out_times(session: Session, row: LiveSession, product_ids: Sequence[int], end: datetime) -> dict[int, float]:
    """When, in seconds after the start, each product's stock first reached zero during the session."""
    if not product_ids:
        return {}
    found = session.execute(
        select(ProductChange.product_id, func.min(ProductChange.changed_at))
        .where(ProductChange.product_id.in_(product_ids), ProductChange.field == "stock",
               ProductChange.new_value == 0, ProductChange.changed_at >= row.started_at,
               ProductChange.changed_at <= end)
        .group_by(ProductChange.product_id)
    ).all()
    return {pid: _seconds_after(row.started_at, at) for pid, at in found}


def _same_slot(a: datetime, b: datetime, zone: ZoneInfo) -> bool:
    la, lb = a.astimezone(zone), b.astimezone(zone)
    if la.weekday() != lb.weekday():
        return False
    minutes = abs((la.hour * 60 + la.minute) - (lb.hour * 60 + lb.minute))
    return minutes <= SAME_TIME_WINDOW_MIN


def previous_sessions(session: Session, row: LiveSession, zone: ZoneInfo) -> list[dict[str, Any]]:
    """This host's last :data:`PREVIOUS_LIMIT` ended broadcasts before this one on the same local
    weekday and about the same time (:data:`SAME_TIME_WINDOW_MIN`), newest first, each with its
    duration, orders and sales."""
    earlier = session.scalars(
        select(LiveSession)
        .where(LiveSession.host_id == row.host_id, LiveSession.started_at < row.started_at,
               LiveSession.ended_at.is_not(None), LiveSession.started_at >= row.started_at - timedelta(days=366))
        .order_by(LiveSession.started_at.desc())
    )
    picked: list[dict[str, Any]] = []
    for other in earlier:
        if not _same_slot(other.started_at, row.started_at, zone):
            continue
        count, gmv = session.execute(
            select(func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0))
            .where(Order.session_id == other.id, Order.status.in_(SOLD_STATUSES))
        ).one()
        picked.append({"session_id": other.id, "started_at": other.started_at.isoformat(),
                       "duration_s": session_duration_s(other), "orders": int(count), "gmv_fen": int(gmv)})
        if len(picked) == PREVIOUS_LIMIT:
            break
    return picked


def session_report(session: Session, row: LiveSession, zone: ZoneInfo, now: datetime | None = None) -> dict[str, Any]:
    """The whole report of one session (shared/api.md), ``previous`` included. Raises nothing;
    a session with no orders and no segments gives zeros."""
    duration = session_duration_s(row, now)
    totals = minute_totals(session, row)
    segments = session.scalars(select(Segment).where(Segment.session_id == row.id)).all()
    stretches = [Stretch(s.product_id, s.start_s, s.end_s) for s in segments]
    product_ids = sorted({s.product_id for s in stretches} | {t.product_id for t in totals})
    names = {pid: name for pid, name in session.execute(select(Product.id, Product.name)
                                                         .where(Product.id.in_(product_ids)))}
    end = row.ended_at or now or utcnow()
    report = build_report(duration, totals, stretches, _sold_out_times(session, row, product_ids, end), names)
    report["session_id"] = row.id
    report["started_at"] = row.started_at.isoformat()
    report["ended_at"] = row.ended_at.isoformat() if row.ended_at else None
    report["previous"] = previous_sessions(session, row, zone)
    return report


def queue_session_clips(session: Session, row: LiveSession, limit_s: float) -> list[Clip]:
    """Queue the session's clips, long segments trimmed to the part with most orders (the orders
    live here, the cutting in :mod:`live.clip_jobs`). Raises :class:`live.clip_jobs.ClipsRefused`."""
    return queue_clips(session, row, session_duration_s(row), sold_order_times(session, row), limit_s)
