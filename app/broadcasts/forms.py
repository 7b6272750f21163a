"""The plan form: what a person types (village-local date and time, minutes, weekdays), parsed
into the typed values :func:`schedules.services.create_plan` takes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from accounts.models import User
from schedules.models import BroadcastPlan


@dataclass
class PlanForm:
    """The form's fields as strings and lists, to re-show what was typed."""

    title: str = ""
    host: str = ""
    day: str = ""
    at: str = "06:00"
    duration_min: str = "60"
    repeat: str = ""
    weekdays: list[int] = field(default_factory=list)
    lineup: list[int] = field(default_factory=list)
    video: str = "0"
    audio: str = "default"
    auto_start: bool = True

    @classmethod
    def blank(cls, user: User) -> "PlanForm":
        return cls(host=user.username if user.role == "farmer" else "",
                   day=(date.today() + timedelta(days=1)).isoformat())

    @classmethod
    def from_plan(cls, plan: BroadcastPlan, zone: str) -> "PlanForm":
        start = plan.starts_at.astimezone(ZoneInfo(zone))
        weekly = plan.repeat.startswith("weekly:")
        return cls(title=plan.title, host=plan.host.username, day=start.date().isoformat(), at=start.strftime("%H:%M"),
                   duration_min=str(round(plan.duration_s / 60)), repeat="weekly" if weekly else plan.repeat,
                   weekdays=[int(d) for d in plan.repeat.removeprefix("weekly:").split(",")] if weekly else [],
                   lineup=list(plan.lineup), video=plan.video, audio=plan.audio, auto_start=plan.auto_start)


def parse_plan_form(data: MultiDict[str, str], zone: str, farmers: list[User]) -> tuple[PlanForm, dict[str, Any], str]:
    """(the form as typed, the plan's values, an error message or "")."""
    form = PlanForm(
        title=data.get("title", "").strip(), host=data.get("host", ""), day=data.get("day", ""),
        at=data.get("at", ""), duration_min=data.get("duration_min", ""), repeat=data.get("repeat", ""),
        weekdays=[int(d) for d in data.getlist("weekday") if d.isdigit()],
        lineup=[int(p) for p in data.getlist("lineup") if p.isdigit()],
        video=data.get("video", "0").strip() or "0", audio=data.get("audio", "default").strip() or "default",
        auto_start=data.get("auto_start") == "1")
    host = next((f for f in farmers if f.username == form.host), None)
    if host is None:
        return form, {}, _("请选择主播")
    try:
        starts = datetime.combine(date.fromisoformat(form.day), time.fromisoformat(form.at), ZoneInfo(zone))
        minutes = float(form.duration_min)
    except ValueError:
        return form, {}, _("请填写开播日期、时间和时长")
    if form.repeat == "weekly":
        if not form.weekdays:
            return form, {}, _("每周重复时，请至少选一天")
        repeat = "weekly:" + ",".join(str(d) for d in sorted(set(form.weekdays)))
    else:
        repeat = "daily" if form.repeat == "daily" else ""
    values = {"host": host, "title": form.title, "starts_at": starts, "duration_s": round(minutes * 60),
              "repeat": repeat, "lineup": form.lineup, "video": form.video, "audio": form.audio,
              "auto_start": form.auto_start}
    return form, values, ""
