"""When a plan's occurrences fall: pure functions of the plan's start, duration and repeat rule.

A repeating plan keeps its time of day in the village's zone (Asia/Shanghai has no DST, but the
arithmetic is done on local dates so that a zone with DST would keep the wall-clock time).
Everything in and out is an aware UTC datetime.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from db import N_
from schedules.errors import PlanInvalid


@dataclass(frozen=True)
class Rule:
    """A plan's timing, as the occurrence arithmetic needs it."""

    starts_at: datetime
    duration_s: int
    repeat: str
    zone: str = "Asia/Shanghai"


def parse_repeat(repeat: str | None) -> str:
    """The canonical repeat code ("", "daily" or "weekly:1,3,5"). Raises :class:`PlanInvalid`."""
    text = (repeat or "").strip().lower()
    if text in ("", "once", "none"):
        return ""
    if text == "daily":
        return "daily"
    if text.startswith("weekly:"):
        try:
            days = sorted({int(d) for d in text.removeprefix("weekly:").split(",") if d.strip()})
        except ValueError:
            days = []
        if days and all(1 <= d <= 7 for d in days):
            return "weekly:" + ",".join(str(d) for d in days)
    raise PlanInvalid(N_("重复方式不对：只能是一次、每天，或每周的某几天（如 weekly:1,3,5）"))


def weekdays(repeat: str) -> frozenset[int]:
    """ISO weekdays a rule runs on (all seven for daily, none for once)."""
    if repeat == "daily":
        return frozenset(range(1, 8))
    if repeat.startswith("weekly:"):
        return frozenset(int(d) for d in repeat.removeprefix("weekly:").split(","))
    return frozenset()


def _starts_from(rule: Rule, first_day: date) -> Iterator[datetime]:
    """Occurrence starts on or after local date ``first_day``, in order (endless for repeats)."""
    zone = ZoneInfo(rule.zone)
    local = rule.starts_at.astimezone(zone)
    if not rule.repeat:
        if local.date() >= first_day:
            yield rule.starts_at.astimezone(timezone.utc)
        return
    days = weekdays(rule.repeat)
    day = max(first_day, local.date())
    while True:
        if day.isoweekday() in days:
            yield datetime.combine(day, local.timetz().replace(tzinfo=None), zone).astimezone(timezone.utc)
        day += timedelta(days=1)


def between(rule: Rule, start: datetime, end: datetime) -> list[datetime]:
    """Starts of the occurrences whose window [s, s + duration) meets [start, end)."""
    zone = ZoneInfo(rule.zone)
    length = timedelta(seconds=rule.duration_s)
    first_day = (start - length).astimezone(zone).date() - timedelta(days=1)
    found = []
    for s in _starts_from(rule, first_day):
        if s >= end:
            break
        if s + length > start:
            found.append(s)
    return found


def current(rule: Rule, now: datetime) -> datetime | None:
    """The occurrence whose window is open at ``now`` (start ≤ now < end), if any."""
    open_ = between(rule, now, now + timedelta(microseconds=1))
    return open_[0] if open_ else None


def upcoming(rule: Rule, after: datetime, limit: int = 1) -> list[datetime]:
    """The next ``limit`` occurrence starts at or after ``after``."""
    zone = ZoneInfo(rule.zone)
    found: list[datetime] = []
    for s in _starts_from(rule, after.astimezone(zone).date() - timedelta(days=1)):
        if s >= after:
            found.append(s)
            if len(found) >= limit:
                break
    return found


def overlap(a: Rule, b: Rule) -> datetime | None:
    """The start of an occurrence of ``a`` that overlaps one of ``b``, or None.

    Both rules repeat with a period of at most a week, so once both have begun, eight days show
    every overlap there will ever be.
    """
    begin = min(a.starts_at, b.starts_at)
    end = max(a.starts_at, b.starts_at) + timedelta(days=8, seconds=max(a.duration_s, b.duration_s))
    b_windows = [(s, s + timedelta(seconds=b.duration_s)) for s in between(b, begin, end)]
    for s in between(a, begin, end):
        e = s + timedelta(seconds=a.duration_s)
        if any(bs < e and s < be for bs, be in b_windows):
            return s
    return None
