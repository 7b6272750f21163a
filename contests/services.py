"""Operations on contests: create and edit them, enter views and likes, verify, decide.

Each takes a Session and the acting :class:`~accounts.models.User`, checks the role, changes rows,
``flush()``es and leaves the commit to the caller. Who may do what (shared/api.md: trainers manage
contests): the trainer who made a contest, and admins, manage it and see everything on its board;
everybody else who is signed in, except the aid partner, sees the public board (held during a
freeze). A participating farmer may enter their own views and likes, which count once a trainer
verifies them. Something a person may not see raises :class:`NotFound`, something they may see but
not do raises :class:`NotAllowed`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from accounts.models import User
from accounts.roles import ADMIN, FARMER, PARTNER, TRAINER
from contests.errors import N_, Conflict, ContestError, NotAllowed, NotFound
from contests.metrics import WEIGHTED_PARTS
from contests.models import METRIC_LABELS, Contest, Decision, Entry, Participant
from contests.standings import (
    Flag,
    Standing,
    compute_board,
    counted_entries,
    exception_orders,
    state_of,
    window_end,
    window_start,
)
from db import utcnow
from orders.errors import OrderError
from orders.models import Order
from orders.phones import normalise_phone
from live.models import LiveSession

MANAGING_ROLES = (TRAINER, ADMIN)
MAX_PARTICIPANTS = 500
MAX_MULTIPLIER = 5.0


@dataclass(frozen=True)
class Rules:
    """How a contest scores, as a trainer sets it. ``weights`` may name any of views, likes, orders, gmv."""

    metric: str = "gmv"
    weights: dict[str, float] | None = None
    rank_step: float = 0.5
    freeze_min: int | None = None
    poverty_counties: Sequence[str] = ()
    poverty_multiplier: float = 1.0
    rules_text: str = ""


# --- who sees what -------------------------------------------------------------------------------

def can_manage(actor: User, contest: Contest) -> bool:
    """True for the trainer who made the contest and for admins."""
    return actor.role == ADMIN or (actor.role == TRAINER and contest.created_by_id == actor.id)


def get_contest(session: Session, actor: User, contest_id: int) -> Contest:
    """The contest if ``actor`` may see it. Raises :class:`NotFound` otherwise (the aid partner sees none)."""
    contest = session.get(Contest, contest_id) if actor.role != PARTNER else None
    if contest is None:
        raise NotFound(N_("没有找到这场比赛 #%(id)s"), id=contest_id)
    return contest


def managed_contest(session: Session, actor: User, contest_id: int) -> Contest:
    """The contest if ``actor`` manages it. Raises :class:`NotFound` or :class:`NotAllowed`."""
    contest = get_contest(session, actor, contest_id)
    if not can_manage(actor, contest):
        raise NotAllowed(N_("只有办这场比赛的讲师可以这样做"))
    return contest


def list_contests(session: Session, actor: User) -> list[Contest]:
    """Contests for ``actor``: a trainer's own, a farmer's own, every contest for others; newest first."""
    query = select(Contest).options(selectinload(Contest.participants)).order_by(Contest.starts_at.desc(),
                                                                                 Contest.id.desc())
    if actor.role == PARTNER:
        return []
    if actor.role == TRAINER:
        query = query.where(Contest.created_by_id == actor.id)
    elif actor.role == FARMER:
        query = query.where(Contest.id.in_(select(Participant.contest_id).where(Participant.user_id == actor.id)))
    return list(session.scalars(query))


def group_by_state(contests: Sequence[Contest], now: datetime | None = None) -> dict[str, list[Contest]]:
    """``{"running": [...], "upcoming": [...], "finished": [...]}``."""
    now = now or utcnow()
    groups: dict[str, list[Contest]] = {"running": [], "upcoming": [], "finished": []}
    for contest in contests:
        groups[state_of(contest, now)].append(contest)
    return groups


# --- making and editing a contest ------------------------------------------------------------------

def _require_trainer(actor: User) -> None:
    if actor.role not in MANAGING_ROLES:
        raise NotAllowed(N_("只有培训讲师可以办比赛"))


def _check_rules(rules: Rules, starts_at: datetime, ends_at: datetime) -> None:
    if rules.metric not in METRIC_LABELS:
        raise ContestError(N_("不认识的计分方式：%(metric)s"), metric=rules.metric)
    unknown = set(rules.weights or {}) - set(WEIGHTED_PARTS)
    if unknown:
        raise ContestError(N_("不认识的权重项：%(names)s"), names="、".join(sorted(unknown)))
    if any(w < 0 or w > 1000 for w in (rules.weights or {}).values()):
        raise ContestError(N_("权重应在 0 到 1000 之间"))
    if not 0 <= rules.rank_step <= 100:
        raise ContestError(N_("每名次递减的分数应在 0 到 100 之间"))
    if rules.freeze_min is not None:
        if rules.freeze_min <= 0 or rules.freeze_min * 60 >= (ends_at - starts_at).total_seconds():
            raise ContestError(N_("封榜时间应大于 0，并短于比赛时长"))
    if not 1 <= rules.poverty_multiplier <= MAX_MULTIPLIER:
        raise ContestError(N_("脱贫县商品倍数应在 1 到 %(max)s 之间"), max=MAX_MULTIPLIER)


def _check_window(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ContestError(N_("开始和结束时间要带时区"))
    if ends_at <= starts_at:
        raise ContestError(N_("结束时间要晚于开始时间"))


def _apply_rules(contest: Contest, rules: Rules) -> None:
    weights = {**contest.weights, **(rules.weights or {})}
    contest.metric = rules.metric
    contest.weight_views, contest.weight_likes = weights["views"], weights["likes"]
    contest.weight_orders, contest.weight_gmv = weights["orders"], weights["gmv"]
    contest.rank_step = rules.rank_step
    contest.freeze_min = rules.freeze_min
    contest.poverty_counties = "\n".join(c.strip() for c in rules.poverty_counties if c.strip())
    contest.poverty_multiplier = rules.poverty_multiplier
    contest.rules = rules.rules_text.strip()[:2000]


def _clean_title(title: str) -> str:
    title = (title or "").strip()
    if not title or len(title) > 80:
        raise ContestError(N_("请填写比赛名称（最多 80 个字）"))
    return title


def _participant(session: Session, username: str, phone: str) -> Participant:
    farmer = session.scalar(select(User).where(User.username == username.strip()))
    if farmer is None or farmer.role != FARMER:
        raise ContestError(N_("参赛人 %(name)s 不是主播农户账号"), name=username)
    if phone.strip():
        try:
            phone = normalise_phone(phone)
        except OrderError:
            raise ContestError(N_("手机号码不对：%(phone)s"), phone=phone) from None
    return Participant(user_id=farmer.id, phone=phone.strip())


def create_contest(session: Session, *, actor: User, title: str, starts_at: datetime, ends_at: datetime,
                   participants: Sequence[tuple[str, str]], rules: Rules = Rules()) -> Contest:
    """Make a contest. ``participants`` are (farmer user name, their own phone or ""), in any order.

    Raises :class:`NotAllowed` unless a trainer or admin, :class:`ContestError` for bad input (an
    unknown or non-farmer participant, a window that ends before it starts, weights out of range).
    """
    _require_trainer(actor)
    _check_window(starts_at, ends_at)
    _check_rules(rules, starts_at, ends_at)
    if not participants:
        raise ContestError(N_("请至少选一位参赛人"))
    if len(participants) > MAX_PARTICIPANTS:
        raise ContestError(N_("参赛人太多（最多 %(max)s 位）"), max=MAX_PARTICIPANTS)
    contest = Contest(title=_clean_title(title), starts_at=starts_at, ends_at=ends_at, created_by_id=actor.id,
                      created_at=utcnow())
    _apply_rules(contest, rules)
    seen: set[int] = set()
    for username, phone in participants:
        participant = _participant(session, username, phone)
        if participant.user_id not in seen:
            seen.add(participant.user_id)
            contest.participants.append(participant)
    session.add(contest)
    session.flush()
    return contest


def rules_of(contest: Contest) -> Rules:
    """How ``contest`` scores now."""
    return Rules(metric=contest.metric, weights=contest.weights, rank_step=contest.rank_step,
                 freeze_min=contest.freeze_min, poverty_counties=contest.counties,
                 poverty_multiplier=contest.poverty_multiplier, rules_text=contest.rules)


def update_rules(session: Session, *, actor: User, contest_id: int, **changes: Any) -> Contest:
    """Change how a contest scores: any field of :class:`Rules` (weights, step, freeze, multiplier);
    the others stay. The board follows at once, since it is derived. Raises :class:`NotFound`,
    :class:`NotAllowed` or :class:`ContestError` (an unknown field or a bad value)."""
    contest = managed_contest(session, actor, contest_id)
    unknown = set(changes) - {f.name for f in fields(Rules)}
    if unknown:
        raise ContestError(N_("不认识的规则项：%(names)s"), names="、".join(sorted(unknown)))
    rules = replace(rules_of(contest), **changes)
    _check_rules(rules, contest.starts_at, contest.ends_at)
    _apply_rules(contest, rules)
    session.flush()
    return contest


# --- views and likes --------------------------------------------------------------------------------

def participant_of(session: Session, contest: Contest, username: str) -> Participant:
    """The contest's participant with this user name. Raises :class:`NotFound`."""
    found = session.scalar(
        select(Participant).join(User, User.id == Participant.user_id)
        .where(Participant.contest_id == contest.id, User.username == (username or "").strip())
    )
    if found is None:
        raise NotFound(N_("%(name)s 没有参加这场比赛"), name=username)
    return found


def _count(value: int | None, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**10:
        raise ContestError(N_("%(what)s 应为 0 或正整数"), what=what)
    return value


def add_entry(session: Session, *, actor: User, contest_id: int, host: str, views: int | None = None,
              likes: int | None = None, session_id: int | None = None) -> Entry:
    """Enter views and likes from a platform dashboard for ``host`` (and one of their live sessions).

    A trainer's entry is verified at once; a participant's own entry waits for a trainer.
    Raises :class:`NotFound` (contest, participant, live session), :class:`NotAllowed` (someone
    entering for another person) and :class:`ContestError` (negative or missing numbers).
    """
    contest = get_contest(session, actor, contest_id)
    participant = participant_of(session, contest, host)
    manager = can_manage(actor, contest)
    if not manager and actor.id != participant.user_id:
        raise NotAllowed(N_("只能登记自己的观看和点赞数"))
    if views is None and likes is None:
        raise ContestError(N_("请填写观看数或点赞数"))
    if session_id is not None:
        live = session.get(LiveSession, session_id)
        if live is None or live.host_id != participant.user_id:
            raise NotFound(N_("没有找到 %(name)s 的直播场次 #%(id)s"), name=host, id=session_id)
    now = utcnow()
    entry = Entry(contest_id=contest.id, user_id=participant.user_id, session_id=session_id,
                  views=_count(views, N_("观看数")), likes=_count(likes, N_("点赞数")), entered_by_id=actor.id, entered_at=now,
                  verified_by_id=actor.id if manager else None, verified_at=now if manager else None)
    session.add(entry)
    session.flush()
    return entry


def entries_of(session: Session, contest: Contest) -> list[Entry]:
    """Every views/likes entry of a contest, oldest first, with who entered and verified it."""
    return list(session.scalars(
        select(Entry).where(Entry.contest_id == contest.id).order_by(Entry.entered_at, Entry.id)
        .options(selectinload(Entry.user), selectinload(Entry.entered_by), selectinload(Entry.verified_by))
    ))


def broadcasts_of(session: Session, contest: Contest, participant: Participant) -> list[LiveSession]:
    """The participant's live sessions that started inside the window, oldest first (what entries name)."""
    return list(session.scalars(
        select(LiveSession).where(LiveSession.host_id == participant.user_id,
                                  LiveSession.started_at >= window_start(contest),
                                  LiveSession.started_at < window_end(contest))
        .order_by(LiveSession.started_at)
    ))


def verify_entry(session: Session, *, actor: User, contest_id: int, entry_id: int) -> Entry:
    """Mark an entry checked against the platform dashboard; it counts from now. Verifying again
    changes nothing. Raises :class:`NotFound` or :class:`NotAllowed`."""
    contest = managed_contest(session, actor, contest_id)
    entry = session.get(Entry, entry_id)
    if entry is None or entry.contest_id != contest.id:
        raise NotFound(N_("没有找到这条登记 #%(id)s"), id=entry_id)
    if entry.verified_at is None:
        entry.verified_by_id, entry.verified_at = actor.id, utcnow()
        session.flush()
    return entry


# --- the trainer's decisions --------------------------------------------------------------------------

def decide(session: Session, *, actor: User, contest_id: int, host: str, reason: str, points: float | None = None,
           order_id: int | None = None, disqualify: bool = False, accept: bool = False,
           reinstate: bool = False) -> Decision:
    """Record one decision with its reason (the row is the audit trail):

    ``points`` ± points; ``order_id`` with ``disqualify`` takes an order out, with ``accept`` counts
    a flagged (late or self-) order; ``disqualify`` alone takes the participant out, ``reinstate``
    puts them back. Raises :class:`NotFound` (contest, participant, or an order not theirs),
    :class:`NotAllowed` (not the contest's trainer) and :class:`ContestError` (no reason, or not
    exactly one thing decided).
    """
    contest = managed_contest(session, actor, contest_id)
    participant = participant_of(session, contest, host)
    reason = (reason or "").strip()
    if not reason:
        raise ContestError(N_("请写明原因"))
    if order_id is not None:
        order = session.get(Order, order_id)
        if order is None or order.farmer_id != participant.user_id:
            raise NotFound(N_("没有找到 %(name)s 的订单 #%(id)s"), name=host, id=order_id)
        if disqualify == accept:
            raise ContestError(N_("对这笔订单，请选择“计入”或“取消成绩”其中一项"))
        kind = "disqualify_order" if disqualify else "accept_order"
    elif points is not None:
        if disqualify or reinstate or accept or not -10**9 <= points <= 10**9 or points == 0:
            raise ContestError(N_("加减分要填一个不为 0 的数"))
        kind = "points"
    elif disqualify != reinstate:
        kind = "disqualify" if disqualify else "reinstate"
    else:
        raise ContestError(N_("请选择要做的决定：加减分、订单或参赛资格"))
    decision = Decision(contest_id=contest.id, user_id=participant.user_id, kind=kind, order_id=order_id,
                        points=points if kind == "points" else 0.0, reason=reason[:200], by_id=actor.id,
                        at=utcnow())
    session.add(decision)
    session.flush()
    return decision


def decisions_of(session: Session, contest: Contest) -> list[Decision]:
    """Every decision of a contest, newest first (the audit trail)."""
    return list(session.scalars(
        select(Decision).where(Decision.contest_id == contest.id).order_by(Decision.at.desc(), Decision.id.desc())
        .options(selectinload(Decision.user), selectinload(Decision.by))
    ))


@dataclass(frozen=True)
class Waiting:
    """What a trainer still has to decide in one contest."""

    contest: Contest
    flags: list[Flag]

    @property
    def count(self) -> int:
        """How many things wait."""
        return len(self.flags)


def waiting_decisions(session: Session, contest: Contest) -> Waiting:
    """Flagged orders nobody decided on and entries nobody verified (without computing the board)."""
    decided = set(session.scalars(select(Decision.order_id).where(
        Decision.contest_id == contest.id, Decision.order_id.is_not(None))))
    flags = [Flag("late" if o.late else "self_order", "pending", order_id=o.id, user_id=o.user_id)
             for o in exception_orders(session, contest, None) if o.id not in decided]
    entries = session.scalars(select(Entry).where(Entry.contest_id == contest.id, Entry.verified_at.is_(None)))
    _counted, waiting = counted_entries(entries, None)
    flags += [Flag("unverified_entry", "pending", entry_id=e.id, user_id=e.user_id) for e in waiting]
    return Waiting(contest, flags)


def count_waiting(session: Session, actor: User) -> int:
    """Everything waiting for a decision in the contests ``actor`` manages (the trainer's home card)."""
    if actor.role not in MANAGING_ROLES:
        return 0
    return sum(waiting_decisions(session, c).count for c in list_contests(session, actor)
               if can_manage(actor, c) and state_of(c, utcnow()) != "upcoming")


def require_finished(contest: Contest) -> None:
    """Raises :class:`Conflict` while the contest is not over (certificates are for final places)."""
    if state_of(contest, utcnow()) != "finished":
        raise Conflict(N_("比赛结束后才能打印奖状"))


def my_standings(session: Session, farmer: User, now: datetime | None = None) -> list[tuple[Contest, Standing]]:
    """A farmer's line on the public board of each running or finished contest they are in."""
    now = now or utcnow()
    found = []
    for contest in list_contests(session, farmer):
        if state_of(contest, now) == "upcoming" or farmer.role != FARMER:
            continue
        board = compute_board(session, contest, public=True, now=now)
        found += [(contest, row) for row in board.rows if row.user_id == farmer.id]
    return found


def running_rank(session: Session, farmer: User) -> int | None:
    """The farmer's place in their running contest that ends soonest (their home card), else None."""
    now = utcnow()
    running = [(c, row) for c, row in my_standings(session, farmer, now) if state_of(c, now) == "running"]
    running.sort(key=lambda pair: window_end(pair[0]))
    return running[0][1].rank if running else None

