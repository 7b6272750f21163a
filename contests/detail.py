"""One participant's score opened up: which orders and entries make it, and which do not and why.

The states follow the same rules as :mod:`contests.standings` (a test checks that the counted
orders here add up to the board's numbers).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import Product
from contests.models import Contest, Decision, Entry, Participant
from contests.standings import (
    FULFILLED_STATUSES,
    ORDER_DECISIONS,
    boosted_products,
    counted_entries,
    counted_fen,
    exception_orders,
    window_end,
    window_start,
)
from orders.models import Order

# Why an order counts or not; Chinese msgids (pages translate them).
ORDER_STATES: dict[str, str] = {
    "counted": "计入",
    "accepted": "讲师确认计入",
    "cancelled": "已取消，不计",
    "disqualified": "讲师取消成绩",
    "self_order": "买家电话是本人，待讲师确认",
    "late": "比赛结束后补登，待讲师确认",
}
ENTRY_STATES: dict[str, str] = {
    "counted": "计入",
    "waiting": "待讲师核对",
    "replaced": "已被同一场直播的新登记替代",
}


@dataclass(frozen=True)
class OrderLine:
    """One order of the participant and what it does to the score."""

    id: int
    created_at: datetime
    product: str
    quantity: int
    unit: str
    total_fen: int
    counted_fen: int
    status: str
    state: str
    fulfilled: bool

    @property
    def counts(self) -> bool:
        """True when the order is in the score."""
        return self.state in ("counted", "accepted")


@dataclass(frozen=True)
class EntryLine:
    """One views/likes entry and whether it counts."""

    entry: Entry
    state: str


@dataclass(frozen=True)
class Detail:
    """Everything behind one participant's score."""

    participant: Participant
    orders: list[OrderLine]
    entries: list[EntryLine]
    decisions: list[Decision]


def _order_decisions(decisions: list[Decision]) -> dict[int, str]:
    found: dict[int, str] = {}
    for decision in decisions:
        if decision.kind in ORDER_DECISIONS and decision.order_id is not None:
            found[decision.order_id] = decision.kind
    return found


def score_detail(session: Session, contest: Contest, participant: Participant,
                 cutoff: datetime | None = None) -> Detail:
    """The orders (in the window, and late ones) and entries behind ``participant``'s score, as the
    board at ``cutoff`` (the public board during a freeze) or now sees them."""
    query = select(Decision).where(Decision.contest_id == contest.id, Decision.user_id == participant.user_id)
    if cutoff is not None:
        query = query.where(Decision.at < cutoff)
    decisions = list(session.scalars(query.order_by(Decision.at, Decision.id)))
    decided = _order_decisions(decisions)
    boosted = set(boosted_products(session, contest, [participant.user_id]))
    end = window_end(contest) if cutoff is None else min(cutoff, window_end(contest))
    exceptions = {o.id: o for o in exception_orders(session, contest, cutoff) if o.user_id == participant.user_id}
    rows = session.execute(
        select(Order.id, Order.created_at, Product.name, Order.quantity, Order.unit, Order.total_fen, Order.status,
               Order.product_id)
        .join(Product, Product.id == Order.product_id)
        .where(Order.farmer_id == participant.user_id,
               ((Order.created_at >= window_start(contest)) & (Order.created_at < end))
               | Order.id.in_(list(exceptions)))
        .order_by(Order.created_at, Order.id)
    ).all()
    lines = []
    for order_id, created_at, product, quantity, unit, total, status, product_id in rows:
        exception = exceptions.get(order_id)
        kind = decided.get(order_id)
        if status == "cancelled":
            state = "cancelled"
        elif kind == "disqualify_order":
            state = "disqualified"
        elif exception is not None:
            state = "accepted" if kind == "accept_order" else ("late" if exception.late else "self_order")
        else:
            state = "counted"
        counted = counted_fen(total, contest.poverty_multiplier) if product_id in boosted else total
        lines.append(OrderLine(order_id, created_at, product, quantity, unit, total, counted, status, state,
                               status in FULFILLED_STATUSES))
    entry_query = select(Entry).where(Entry.contest_id == contest.id, Entry.user_id == participant.user_id)
    if cutoff is not None:
        entry_query = entry_query.where(Entry.entered_at < cutoff)
    entries = list(session.scalars(entry_query.order_by(Entry.entered_at, Entry.id)))
    counted_list, waiting = counted_entries(entries, cutoff)
    counted_ids = {e.id for e in counted_list}
    waiting_ids = {e.id for e in waiting}
    entry_lines = [EntryLine(e, "counted" if e.id in counted_ids else "waiting" if e.id in waiting_ids
                             else "replaced") for e in entries]
    return Detail(participant, lines, entry_lines, decisions)
