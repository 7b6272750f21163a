"""A contest's board, derived each time from orders, entries and decisions (nothing is stored).

What counts (issue 12, fairness rules):

- orders logged inside the window, both edges included to the second (an order at 20:00:00.7
  counts for a window ending 20:00:00), not cancelled, of the participant's own products
  (``orders.farmer_id`` is the product's farmer when the order was logged);
- not an order the trainer disqualified;
- a **self-order** (buyer phone = the participant's phone) or a **late order** (logged after the
  window closed, for a live session that started inside it) is flagged and counts only once the
  trainer accepts it: neither counted nor dropped silently;
- views and likes from verified entries; a later entry for the same live session replaces the
  earlier one;
- ± points and disqualified participants from the trainer's decisions (the latest decision about
  an order or a participant is the one in force).

Ties break by who reached the score first (the time of their last counted order, entry or
adjustment), then share a place. With a freeze, the public board is the board as it stood when
the freeze began, until the window ends.

Speed: the board is one aggregate over the participants' orders in the window, found through the
``ix_orders_farmer_id_created_at`` index (migration 0007), plus two small queries for the exceptions
(self-orders in the window, late orders through their live sessions). No tally is cached, so there
is no invalidation rule to keep: a cancelled or edited order is reflected at the next read.
bench/leaderboard.py measures it at 1,000,000 orders.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from accounts.models import User
from catalog.models import Product
from contests.metrics import Tally, get_metric
from contests.models import Contest, Decision, Entry, Participant
from db import epoch_ms, half_up, round_half_up, to_epoch_ms, utcnow
from orders.models import Order
from live.models import LiveSession

# Orders the aid partner has (the fulfilled_gmv metric counts only these).
FULFILLED_STATUSES: tuple[str, ...] = ("handed_off", "shipped", "delivered")
ORDER_DECISIONS = ("disqualify_order", "accept_order")
PARTICIPANT_DECISIONS = ("disqualify", "reinstate")

_orders = Order.__table__
_people = Participant.__table__


@dataclass(frozen=True)
class Flag:
    """Something the trainer should look at: ``kind`` is ``late``, ``self_order`` or ``unverified_entry``;
    ``state`` is ``pending``, ``accepted`` or ``disqualified``."""

    kind: str
    state: str
    order_id: int | None = None
    entry_id: int | None = None
    user_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The API form."""
        found: dict[str, Any] = {"kind": self.kind, "state": self.state}
        if self.order_id is not None:
            found["order_id"] = self.order_id
        if self.entry_id is not None:
            found["entry_id"] = self.entry_id
        return found


@dataclass
class Standing:
    """One participant's line on the board. ``rank`` is None for a disqualified participant."""

    user_id: int
    username: str
    name: str
    tally: Tally
    score: float = 0.0
    rank: int | None = None
    breakdown: dict[str, Any] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    adjustment: float = 0.0
    reached_at: datetime | None = None
    disqualified: bool = False
    disqualify_reason: str = ""

    def to_dict(self, *, public: bool = False) -> dict[str, Any]:
        """The API form (shared/api.md). The public form lists no flags: the projector shows no
        suspicion before the trainer has decided."""
        return {
            "rank": self.rank, "host": self.username, "name": self.name, "score": self.score,
            "gmv_fen": self.tally.gmv_fen, "orders": self.tally.orders,
            "fulfilled_gmv_fen": self.tally.fulfilled_gmv_fen, "views": self.tally.views,
            "likes": self.tally.likes, "reached_at": self.reached_at.isoformat() if self.reached_at else None,
            "disqualified": self.disqualified,
            "flags": [] if public else [flag.to_dict() for flag in self.flags],
            "breakdown": self.breakdown,
        }


@dataclass(frozen=True)
class Board:
    """The standings, best first, and how they were computed (``cutoff`` is set while frozen)."""

    contest: Contest
    rows: list[Standing]
    computed_at: datetime
    cutoff: datetime | None

    @property
    def frozen(self) -> bool:
        """True when this is the public board held at the start of the freeze."""
        return self.cutoff is not None


def window_end(contest: Contest) -> datetime:
    """The first instant after the window: the end's whole second is still inside it."""
    return contest.ends_at.replace(microsecond=0) + timedelta(seconds=1)


def window_start(contest: Contest) -> datetime:
    """The first instant inside the window."""
    return contest.starts_at.replace(microsecond=0)


def freeze_starts(contest: Contest) -> datetime | None:
    """When the public board stops moving, or None without a freeze."""
    if not contest.freeze_min:
        return None
    return window_end(contest) - timedelta(minutes=contest.freeze_min)


def public_cutoff(contest: Contest, now: datetime) -> datetime | None:
    """The instant the public board is held at, while the freeze lasts; None otherwise (revealed at the end)."""
    start = freeze_starts(contest)
    if start is not None and start <= now < window_end(contest):
        return start
    return None


def state_of(contest: Contest, now: datetime) -> str:
    """``upcoming``, ``running`` or ``finished``."""
    if now < window_start(contest):
        return "upcoming"
    return "running" if now < window_end(contest) else "finished"


@dataclass(frozen=True)
class _Decisions:
    points: dict[int, float]
    points_at: dict[int, datetime]
    orders: dict[int, str]
    disqualified: dict[int, str]


def _decisions(session: Session, contest: Contest, cutoff: datetime | None) -> _Decisions:
    query = select(Decision).where(Decision.contest_id == contest.id).order_by(Decision.at, Decision.id)
    if cutoff is not None:
        query = query.where(Decision.at < cutoff)
    points: dict[int, float] = {}
    points_at: dict[int, datetime] = {}
    orders: dict[int, str] = {}
    disqualified: dict[int, str] = {}
    for decision in session.scalars(query):
        if decision.kind == "points":
            points[decision.user_id] = points.get(decision.user_id, 0.0) + decision.points
            points_at[decision.user_id] = decision.at
        elif decision.kind in ORDER_DECISIONS and decision.order_id is not None:
            orders[decision.order_id] = decision.kind
        elif decision.kind == "disqualify":
            disqualified[decision.user_id] = decision.reason
        elif decision.kind == "reinstate":
            disqualified.pop(decision.user_id, None)
    return _Decisions(points, points_at, orders, disqualified)


def boosted_products(session: Session, contest: Contest, user_ids: Sequence[int]) -> list[int]:
    """The participants' products whose origin names a listed poverty county (their sales are multiplied)."""
    counties = contest.counties
    if not counties or contest.poverty_multiplier == 1 or not user_ids:
        return []
    named = or_(*(Product.origin.contains(county, autoescape=True) for county in counties))
    return list(session.scalars(select(Product.id).where(Product.farmer_id.in_(user_ids), named)))


def _self_order() -> ColumnElement[bool]:
    return and_(_people.c.phone != "", _orders.c.buyer_phone == _people.c.phone)


def _in_window(contest: Contest, cutoff: datetime | None) -> list[ColumnElement[bool]]:
    end = window_end(contest) if cutoff is None else min(cutoff, window_end(contest))
    return [
        _people.c.contest_id == contest.id,
        _orders.c.created_at >= window_start(contest),
        _orders.c.created_at < end,
        _orders.c.status != "cancelled",
    ]


def _participants_orders() -> Any:
    return _people.join(_orders, _orders.c.farmer_id == _people.c.user_id)


@dataclass(frozen=True)
class ExceptionOrder:
    """A self-order in the window or a late order: counted only when the trainer accepts it."""

    id: int
    user_id: int
    product_id: int
    total_fen: int
    status: str
    created_at: datetime
    late: bool
    self_order: bool


def exception_orders(session: Session, contest: Contest, cutoff: datetime | None) -> list[ExceptionOrder]:
    """Self-orders logged in the window and late orders (after the window, for a live session of the
    participant that started inside it), oldest first. While the board is held at ``cutoff`` there
    are no late orders yet."""
    columns = (_orders.c.id, _orders.c.farmer_id, _orders.c.product_id, _orders.c.total_fen, _orders.c.status,
               _orders.c.created_at, _self_order().label("self_order"))
    in_window = select(*columns).select_from(_participants_orders()).where(*_in_window(contest, cutoff),
                                                                           _self_order())
    found = [ExceptionOrder(r.id, r.farmer_id, r.product_id, r.total_fen, r.status, r.created_at, False, True)
             for r in session.execute(in_window)]
    if cutoff is None:
        sessions = LiveSession.__table__
        late = (
            select(*columns)
            .select_from(_participants_orders().join(sessions, sessions.c.id == _orders.c.session_id))
            .where(_people.c.contest_id == contest.id, sessions.c.host_id == _people.c.user_id,
                   sessions.c.started_at >= window_start(contest),
                   sessions.c.started_at < window_end(contest), _orders.c.created_at >= window_end(contest),
                   _orders.c.status != "cancelled")
        )
        found += [ExceptionOrder(r.id, r.farmer_id, r.product_id, r.total_fen, r.status, r.created_at, True,
                                 bool(r.self_order)) for r in session.execute(late)]
    return sorted(found, key=lambda o: (o.created_at, o.id))


def counted_fen(total_fen: int, multiplier: float) -> int:
    """What one order counts for on the board: its total times the multiplier, to the fen, halves
    up (one order at a time, so the opened score's lines add up to the board's figure)."""
    return total_fen if multiplier == 1 else half_up(total_fen * multiplier)


def _boost_fen(multiplier: float) -> Any:
    """:func:`counted_fen` minus the total, for each order in SQL (to add to a boosted product's sum)."""
    return round_half_up(_orders.c.total_fen * literal(multiplier, Float())) - _orders.c.total_fen


def _add_order(tally: Tally, total_fen: int, status: str, created_at: datetime, multiplier: float) -> None:
    amount = counted_fen(total_fen, multiplier)
    tally.orders += 1
    tally.gmv_fen += amount
    if status in FULFILLED_STATUSES:
        tally.fulfilled_gmv_fen += amount
    if tally.last_order_at is None or created_at > tally.last_order_at:
        tally.last_order_at = created_at


def _counted_in_window(contest: Contest, decided: _Decisions, cutoff: datetime | None) -> list[ColumnElement[bool]]:
    """The orders that count without the trainer's word: in the window, not cancelled, not a
    self-order, not disqualified."""
    excluded = [order_id for order_id, kind in decided.orders.items() if kind == "disqualify_order"]
    conditions = [*_in_window(contest, cutoff), ~_self_order()]
    if excluded:
        conditions.append(_orders.c.id.not_in(excluded))
    return conditions


def _exception_state(decided: _Decisions, order: ExceptionOrder) -> str:
    """``accepted`` (it counts), ``disqualified`` or ``pending``, by the trainer's latest word."""
    kind = decided.orders.get(order.id)
    return {"accept_order": "accepted", "disqualify_order": "disqualified"}.get(kind or "", "pending")


def _total(when: ColumnElement[bool], column: Any = _orders.c.total_fen) -> Any:
    return func.coalesce(func.sum(case((when, column), else_=0)), 0)


def _tally_orders(session: Session, contest: Contest, tallies: dict[int, Tally], decided: _Decisions,
                  cutoff: datetime | None) -> tuple[dict[int, list[Flag]], list[int]]:
    """Fill the tallies from orders; returns each participant's order flags and the boosted products."""
    boosted = boosted_products(session, contest, list(tallies))
    boost = contest.poverty_multiplier
    fulfilled = _orders.c.status.in_(FULFILLED_STATUSES)
    conditions = _counted_in_window(contest, decided, cutoff)

    # Index-only, in the index's order (no sort). Every expression is evaluated for each order in
    # the window, so the multiplier's sums are asked for only when some product has one
    # (bench/leaderboard.py: SQLite's per-row work is most of the board's time).
    sums = [func.count(), func.coalesce(func.sum(_orders.c.total_fen), 0), _total(fulfilled)]
    if boosted:
        is_boosted = _orders.c.product_id.in_(boosted)
        sums += [_total(is_boosted, _boost_fen(boost)), _total(and_(is_boosted, fulfilled), _boost_fen(boost))]
    aggregate = (
        select(_orders.c.farmer_id, func.max(_orders.c.created_at), *sums)
        .select_from(_participants_orders())
        .where(*conditions)
        .group_by(_orders.c.farmer_id)
    )
    for user_id, last_at, count, gmv, done, *boosts in session.execute(aggregate):
        gmv_boost, done_boost = boosts or (0, 0)
        tally = tallies[user_id]
        tally.orders += count
        tally.gmv_fen += int(gmv) + int(gmv_boost)
        tally.fulfilled_gmv_fen += int(done) + int(done_boost)
        tally.last_order_at = last_at

    flags: dict[int, list[Flag]] = {}
    boosted_set = set(boosted)
    for order in exception_orders(session, contest, cutoff):
        state = _exception_state(decided, order)
        for flag_kind, applies in (("late", order.late), ("self_order", order.self_order)):
            if applies:
                flags.setdefault(order.user_id, []).append(Flag(flag_kind, state, order_id=order.id))
        if state == "accepted":
            product_boost = boost if order.product_id in boosted_set else 1.0
            _add_order(tallies[order.user_id], order.total_fen, order.status, order.created_at, product_boost)
    return flags, boosted


def sales_steps(session: Session, contest: Contest, user_ids: Sequence[int], buckets: int,
                cutoff: datetime | None = None) -> dict[int, list[tuple[datetime, int]]]:
    """Each participant's sales so far (fen, as the board counts ``gmv_fen``: boosts, accepted
    self-orders and late orders included), for drawing a line: one point at the last counted order
    of each of ``buckets`` equal spans of the window, plus one at each accepted exception order,
    oldest first. The last point is the board's ``gmv_fen``; a participant who sold nothing has no
    points.

    The spans are summed in the database (a chart one pixel column per span), so a busy day's
    orders are not loaded to draw a line (bench/soak.py reloads the contest page all day).
    """
    if not user_ids:
        return {}
    decided = _decisions(session, contest, cutoff)
    boosted = boosted_products(session, contest, user_ids)
    start_ms = to_epoch_ms(window_start(contest))
    span_ms = max(1, to_epoch_ms(window_end(contest)) - start_ms)
    bucket = ((epoch_ms(_orders.c.created_at) - start_ms) * buckets // span_ms).label("bucket")
    extra_fen = case((_orders.c.product_id.in_(boosted), _boost_fen(contest.poverty_multiplier)), else_=0) \
        if boosted else 0
    counted = (
        select(_orders.c.farmer_id, _orders.c.created_at, (_orders.c.total_fen + extra_fen).label("fen"), bucket)
        .select_from(_participants_orders())
        .where(*_counted_in_window(contest, decided, cutoff), _orders.c.farmer_id.in_(list(user_ids)))
        .subquery()  # grouped outside: PostgreSQL matches no bound parameter between SELECT and GROUP BY
    )
    spans = (
        select(counted.c.farmer_id, func.max(counted.c.created_at), func.sum(counted.c.fen))
        .group_by(counted.c.farmer_id, counted.c.bucket)
    )
    # (time, fen counted): one move per span, one per accepted exception order
    moves: dict[int, list[tuple[datetime, int]]] = {user_id: [] for user_id in user_ids}
    for user_id, last_at, fen in session.execute(spans):
        moves[user_id].append((last_at, int(fen)))
    boosted_set = set(boosted)
    for order in exception_orders(session, contest, cutoff):
        if order.user_id in moves and _exception_state(decided, order) == "accepted":
            product_boost = contest.poverty_multiplier if order.product_id in boosted_set else 1.0
            moves[order.user_id].append((order.created_at, counted_fen(order.total_fen, product_boost)))
    steps: dict[int, list[tuple[datetime, int]]] = {}
    for user_id, found in moves.items():
        total = 0
        points = []
        for when, fen in sorted(found, key=lambda move: move[0]):
            total += fen
            points.append((when, total))
        steps[user_id] = points
    return steps


def counted_entries(entries: Iterable[Entry], cutoff: datetime | None) -> tuple[list[Entry], list[Entry]]:
    """(entries that count, entries waiting for verification), given entries oldest first.

    An entry counts once verified (before ``cutoff``, if given); the latest verified entry for a
    live session replaces earlier ones for it; entries without a session each count.
    """
    latest: dict[tuple[int, int], Entry] = {}
    counted: list[Entry] = []
    waiting: list[Entry] = []
    for entry in entries:
        verified = entry.verified_at is not None and (cutoff is None or entry.verified_at < cutoff)
        if not verified:
            waiting.append(entry)
        elif entry.session_id is None:
            counted.append(entry)
        else:
            latest[(entry.user_id, entry.session_id)] = entry
    return counted + list(latest.values()), waiting


def _tally_entries(session: Session, contest: Contest, tallies: dict[int, Tally],
                   cutoff: datetime | None) -> dict[int, list[Flag]]:
    query = select(Entry).where(Entry.contest_id == contest.id).order_by(Entry.entered_at, Entry.id)
    if cutoff is not None:
        query = query.where(Entry.entered_at < cutoff)
    counted, waiting = counted_entries(session.scalars(query), cutoff)
    for entry in counted:
        tally = tallies.get(entry.user_id)
        if tally is None:
            continue
        tally.views += entry.views
        tally.likes += entry.likes
        if tally.last_entry_at is None or entry.entered_at > tally.last_entry_at:
            tally.last_entry_at = entry.entered_at
    flags: dict[int, list[Flag]] = {}
    for entry in waiting:
        flags.setdefault(entry.user_id, []).append(Flag("unverified_entry", "pending", entry_id=entry.id))
    return flags


def _latest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def _place(rows: list[Standing]) -> None:
    """Sort best first and give places: higher score, then earlier ``reached_at``; still equal → shared."""
    far_future = datetime.max.replace(tzinfo=utcnow().tzinfo)

    def key(row: Standing) -> tuple[float, datetime]:
        return (-round(row.score, 6), row.reached_at or far_future)

    eligible = sorted((r for r in rows if not r.disqualified), key=lambda r: (*key(r), r.name))
    previous: tuple[float, datetime] | None = None
    for position, row in enumerate(eligible, start=1):
        row.rank = eligible[position - 2].rank if previous == key(row) else position
        previous = key(row)
    out = sorted((r for r in rows if r.disqualified), key=lambda r: r.name)
    rows[:] = [*eligible, *out]


def compute_board(session: Session, contest: Contest, *, public: bool = False,
                  now: datetime | None = None) -> Board:
    """The board now; with ``public``, held at the start of the freeze while it lasts.

    Raises nothing: a contest without participants or orders gives an empty or all-zero board.
    """
    now = now or utcnow()
    cutoff = public_cutoff(contest, now) if public else None
    people = session.execute(
        select(Participant.user_id, User.username, User.display_name)
        .join(User, User.id == Participant.user_id)
        .where(Participant.contest_id == contest.id)
    ).all()
    tallies = {user_id: Tally(user_id) for user_id, _name, _display in people}
    decided = _decisions(session, contest, cutoff)
    order_flags, _boosted = _tally_orders(session, contest, tallies, decided, cutoff)
    metric = get_metric(contest.metric)
    entry_flags = _tally_entries(session, contest, tallies, cutoff) if metric.uses_entries else {}

    eligible = [t for t in tallies.values() if t.user_id not in decided.disqualified]
    scored = metric.score(eligible, weights=contest.weights, rank_step=contest.rank_step)
    rows = []
    for user_id, username, display_name in people:
        tally = tallies[user_id]
        result = scored.get(user_id)
        adjustment = decided.points.get(user_id, 0.0)
        entry_at = tally.last_entry_at if metric.uses_entries else None
        rows.append(Standing(
            user_id=user_id, username=username, name=display_name or username, tally=tally,
            score=round((result.score if result else 0.0) + adjustment, 2),
            breakdown={**(result.breakdown if result else {}), "adjustment": adjustment},
            flags=order_flags.get(user_id, []) + entry_flags.get(user_id, []),
            adjustment=adjustment,
            reached_at=_latest(tally.last_order_at, entry_at, decided.points_at.get(user_id)),
            disqualified=user_id in decided.disqualified,
            disqualify_reason=decided.disqualified.get(user_id, ""),
        ))
    _place(rows)
    return Board(contest=contest, rows=rows, computed_at=now, cutoff=cutoff)
