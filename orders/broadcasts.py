"""A host's past broadcasts (我的直播) with what each sold: the list on the farmer's home and console."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from accounts.models import User
from accounts.roles import FARMER
from live.models import LiveSession
from orders.models import Order
from orders.services import SOLD_STATUSES


@dataclass(frozen=True)
class PastBroadcast:
    """One ended broadcast as the host remembers it: when, how long, what it sold, how it ended."""

    session_id: int
    host_name: str
    started_at: datetime
    duration_s: float
    orders: int
    gmv_fen: int
    end_reason: str | None
    recordings: int


def past_broadcasts(session: Session, viewer: User, *, limit: int = 50) -> list[PastBroadcast]:
    """Ended broadcasts ``viewer`` may see, newest first: a farmer their own, managers all."""
    query = (select(LiveSession).where(LiveSession.ended_at.is_not(None))
             .options(selectinload(LiveSession.recordings), selectinload(LiveSession.host))
             .order_by(LiveSession.started_at.desc(), LiveSession.id.desc()).limit(limit))
    if viewer.role == FARMER:
        query = query.where(LiveSession.host_id == viewer.id)
    rows = list(session.scalars(query))
    totals = {
        sid: (int(n), int(gmv)) for sid, n, gmv in session.execute(
            select(Order.session_id, func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0))
            .where(Order.session_id.in_([r.id for r in rows]), Order.status.in_(SOLD_STATUSES))
            .group_by(Order.session_id)
        )
    } if rows else {}
    return [
        PastBroadcast(
            session_id=r.id, host_name=r.host.name, started_at=r.started_at,
            duration_s=max(0.0, (r.ended_at - r.started_at).total_seconds()) if r.ended_at else 0.0,
            orders=totals.get(r.id, (0, 0))[0], gmv_fen=totals.get(r.id, (0, 0))[1],
            end_reason=r.end_reason, recordings=len(r.recordings),
        )
        for r in rows
    ]
