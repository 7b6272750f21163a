"""Operations on broadcast plans: plan, edit, cancel, skip one occurrence, and read them back.

Operations take typed values and ``flush()``; the caller commits. Plans belong to a station: every
query here is filtered by it, so a county database shared by many stations never mixes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.roles import FARMER, MANAGERS
from catalog import services as catalog
from catalog.errors import ProductNotFound
from db import N_, utcnow
from schedules import occurrences
from schedules.errors import PlanConflict, PlanInvalid, PlanNotFound
from schedules.models import BroadcastPlan, PlanRun

MIN_DURATION_S = 5  # short plans exist for tests and trials; a real one is rarely under 30 min
MAX_DURATION_S = 12 * 3600
FIELDS = ("title", "host", "starts_at", "duration_s", "repeat", "lineup", "video", "audio", "destinations",
          "preset", "layout", "qr_text", "auto_start")


@dataclass(frozen=True)
class Occurrence:
    """One slot of a plan, with its run record if it has one."""

    plan: BroadcastPlan
    starts_at: datetime
    run: PlanRun | None

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(seconds=self.plan.duration_s)

    @property
    def state(self) -> str:
        return self.run.state if self.run is not None else "planned"


def rule_of(plan: BroadcastPlan, zone: str) -> occurrences.Rule:
    """The plan's timing for :mod:`schedules.occurrences`."""
    return occurrences.Rule(plan.starts_at, plan.duration_s, plan.repeat, zone)


def _may_plan_for(actor: User, host: User) -> bool:
    return actor.role in MANAGERS or (actor.role == FARMER and actor.id == host.id)


def _check(session: Session, plan: BroadcastPlan, zone: str) -> None:
    """Validate a plan about to be saved. Raises :class:`PlanInvalid` or :class:`PlanConflict`."""
    if not plan.title.strip():
        raise PlanInvalid(N_("请填写直播标题"))
    if not MIN_DURATION_S <= plan.duration_s <= MAX_DURATION_S:
        raise PlanInvalid(N_("直播时长不对：最长 12 小时"))
    if plan.starts_at.tzinfo is None:
        raise PlanInvalid(N_("开播时间要带时区"))
    plan.repeat = occurrences.parse_repeat(plan.repeat)
    host = session.get(User, plan.host_id)
    if host is None or not host.active or host.role != FARMER:
        raise PlanInvalid(N_("主播要是一位农户账号"))
    for product_id in plan.lineup:
        try:
            product = catalog.get_product(session, product_id)
        except ProductNotFound:
            raise PlanInvalid(N_("商品 %(id)s 不存在"), id=product_id) from None
        if product.farmer_id != plan.host_id:
            raise PlanInvalid(N_("商品“%(name)s”不是这位主播的"), name=product.name)
    others = session.scalars(select(BroadcastPlan).where(
        BroadcastPlan.station_id == plan.station_id, BroadcastPlan.cancelled_at.is_(None),
        BroadcastPlan.id != (plan.id or 0)))
    mine = rule_of(plan, zone)
    for other in others:
        at = occurrences.overlap(mine, rule_of(other, zone))
        if at is not None and _slot_is_live(session, other, zone, after=utcnow()):
            local = at.astimezone(ZoneInfo(zone))
            raise PlanConflict(N_("和“%(other)s”（%(host)s）的时间重叠了（%(when)s）：同一台电脑一次只能播一场"),
                               other=other.title, host=other.host.name, when=local.strftime("%m-%d %H:%M"),
                               other_id=other.id)


def _slot_is_live(session: Session, plan: BroadcastPlan, zone: str, *, after: datetime) -> bool:
    """Whether a plan still has a slot to come (a finished one-off plan blocks nothing)."""
    rule = rule_of(plan, zone)
    return bool(rule.repeat) or plan.starts_at + timedelta(seconds=plan.duration_s) > after


def create_plan(session: Session, actor: User, *, station_id: str, zone: str, host: User, title: str,
                starts_at: datetime, duration_s: int, repeat: str | None = None, lineup: list[int] | None = None,
                video: str = "0", audio: str = "default", destinations: list[str] | None = None,
                preset: str = "720p30", layout: str = "landscape", qr_text: str = "",
                auto_start: bool = True) -> BroadcastPlan:
    """Plan a broadcast on this station. A farmer plans only their own; managers plan anyone's.

    Raises :class:`PlanNotFound` (a farmer planning for another), :class:`PlanInvalid`,
    :class:`PlanConflict` (it overlaps another plan of this station, which the message names).
    """
    if not _may_plan_for(actor, host):
        raise PlanNotFound(N_("没有这个主播"))
    plan = BroadcastPlan(station_id=station_id, title=title.strip()[:120], host_id=host.id, created_by_id=actor.id,
                         starts_at=starts_at.astimezone(timezone.utc), duration_s=int(duration_s),
                         repeat=repeat or "", lineup=list(lineup or []), video=video, audio=audio,
                         destinations=destinations, preset=preset, layout=layout, qr_text=qr_text.strip()[:255],
                         auto_start=auto_start)
    plan.host = host
    _check(session, plan, zone)
    if not plan.repeat and plan.starts_at + timedelta(seconds=plan.duration_s) <= utcnow():
        raise PlanInvalid(N_("这个时间已经过去了，请选以后的时间"))
    session.add(plan)
    session.flush()
    return plan


def visible_plans(session: Session, viewer: User, station_id: str, *, include_cancelled: bool = False) -> list[BroadcastPlan]:
    """This station's plans that ``viewer`` may see (a farmer: their own), earliest first."""
    query = select(BroadcastPlan).where(BroadcastPlan.station_id == station_id)
    if not include_cancelled:
        query = query.where(BroadcastPlan.cancelled_at.is_(None))
    if viewer.role == FARMER:
        query = query.where(BroadcastPlan.host_id == viewer.id)
    elif viewer.role not in MANAGERS:
        return []
    return list(session.scalars(query.order_by(BroadcastPlan.starts_at, BroadcastPlan.id)))


def get_plan(session: Session, plan_id: int, viewer: User, station_id: str) -> BroadcastPlan:
    """One plan of this station. Raises :class:`PlanNotFound` when it does not exist or is not
    ``viewer``'s to see."""
    plan = session.get(BroadcastPlan, plan_id)
    if (plan is None or plan.station_id != station_id
            or not (viewer.role in MANAGERS or (viewer.role == FARMER and plan.host_id == viewer.id))):
        raise PlanNotFound(N_("没有这个直播计划"))
    return plan


def update_plan(session: Session, plan: BroadcastPlan, actor: User, zone: str, changes: dict[str, Any]) -> BroadcastPlan:
    """Edit a plan; only the given fields change. Occurrences already run keep their records.
    Raises :class:`PlanInvalid`, :class:`PlanConflict`, :class:`PlanNotFound`."""
    if plan.cancelled_at is not None:
        raise PlanInvalid(N_("这个计划已经取消了"))
    for name, value in changes.items():
        if name not in FIELDS:
            raise PlanInvalid(N_("不能修改 %(field)s"), field=name)
        if name == "host":
            if not isinstance(value, User) or not _may_plan_for(actor, value):
                raise PlanNotFound(N_("没有这个主播"))
            plan.host, plan.host_id = value, value.id
        elif name == "starts_at":
            plan.starts_at = value.astimezone(timezone.utc)
        else:
            setattr(plan, name, value)
    with session.no_autoflush:
        _check(session, plan, zone)
    session.flush()
    return plan


def cancel_plan(session: Session, plan: BroadcastPlan, at: datetime | None = None) -> BroadcastPlan:
    """Cancel a plan: no further occurrence fires. One already live carries on and is still
    stopped at its end by the scheduler. Idempotent."""
    now = at or utcnow()
    if plan.cancelled_at is None:
        plan.cancelled_at = now
        for run in plan.runs:
            if run.state == "planned" and run.planned_at > now:
                run.state = "cancelled"
    session.flush()
    return plan


def skip_occurrence(session: Session, plan: BroadcastPlan, day: date, zone: str) -> PlanRun:
    """Skip the plan's occurrence on local date ``day``. Raises :class:`PlanInvalid` when the
    plan has none that day or it already started."""
    tz = ZoneInfo(zone)
    begin = datetime.combine(day, datetime.min.time(), tz)
    slots = [s for s in occurrences.between(rule_of(plan, zone), begin, begin + timedelta(days=1))
             if s.astimezone(tz).date() == day]
    if not slots:
        raise PlanInvalid(N_("这一天没有这个直播"))
    run = run_for(session, plan, slots[0])
    if run.state not in ("planned", "skipped"):
        raise PlanInvalid(N_("这一场已经开始或结束了，不能跳过"))
    run.state = "skipped"
    session.flush()
    return run


def run_for(session: Session, plan: BroadcastPlan, slot: datetime) -> PlanRun:
    """The run record of one slot, created (state planned) if it has none yet."""
    run = session.scalar(select(PlanRun).where(PlanRun.plan_id == plan.id, PlanRun.planned_at == slot))
    if run is None:
        run = PlanRun(plan_id=plan.id, planned_at=slot, state="planned", detail="")
        session.add(run)
        session.flush()
    return run


def runs_of(session: Session, plan: BroadcastPlan) -> list[PlanRun]:
    """The plan's run records, oldest first."""
    return list(session.scalars(select(PlanRun).where(PlanRun.plan_id == plan.id).order_by(PlanRun.planned_at)))


def _runs_by_slot(session: Session, plans: list[BroadcastPlan]) -> dict[tuple[int, datetime], PlanRun]:
    if not plans:
        return {}
    runs = session.scalars(select(PlanRun).where(PlanRun.plan_id.in_([p.id for p in plans])))
    return {(r.plan_id, r.planned_at): r for r in runs}


def next_occurrence(session: Session, plan: BroadcastPlan, zone: str, now: datetime | None = None) -> Occurrence | None:
    """The plan's next slot that is still to come or running now (skipped and finished ones
    passed over), or None when a one-off plan is done or the plan is cancelled."""
    if plan.cancelled_at is not None:
        return None
    at = now or utcnow()
    runs = _runs_by_slot(session, [plan])
    rule = rule_of(plan, zone)
    after = at - timedelta(seconds=plan.duration_s)
    for slot in occurrences.upcoming(rule, after, limit=14):
        run = runs.get((plan.id, slot))
        if slot + timedelta(seconds=plan.duration_s) <= at:
            continue
        if run is not None and run.state in ("skipped", "cancelled", "ran", "missed"):
            continue
        return Occurrence(plan, slot, run)
    return None


def occurrences_between(session: Session, plans: list[BroadcastPlan], start: datetime, end: datetime,
                        zone: str) -> list[Occurrence]:
    """Every slot of ``plans`` meeting [start, end), with run records, in time order."""
    runs = _runs_by_slot(session, plans)
    found = [Occurrence(p, s, runs.get((p.id, s)))
             for p in plans for s in occurrences.between(rule_of(p, zone), start, end)]
    return sorted(found, key=lambda o: (o.starts_at, o.plan.id))


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.isoweekday() - 1)
