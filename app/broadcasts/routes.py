"""Broadcast pages: the week calendar (by day, by farmer), plan/edit, a plan with its runs and
poster, cancel and skip; and the home panels (the farmer's "today's broadcast", the coordinator's)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from accounts.models import User
from accounts.roles import ADMIN, COORDINATOR, FARMER
from accounts.services import users_by_role
from app.broadcasts import bp, plans_changed, station_id, zone
from app.broadcasts.forms import PlanForm, parse_plan_form
from app.database import get_db
from app.home import HomeCard, HomePanel, register_card, register_panel
from app.i18n import N_
from app.live import live_service
from catalog import services as catalog
from live.service import SourceRefused
from app.security import role_required
from schedules import services
from schedules.errors import PlanError
from schedules.models import RUN_REASONS, RUN_STATES
from schedules.preflight import problems

HOSTS = (FARMER, COORDINATOR, ADMIN)
MANAGERS = (COORDINATOR, ADMIN)
WEEKDAY_NAMES = (N_("周一"), N_("周二"), N_("周三"), N_("周四"), N_("周五"), N_("周六"), N_("周日"))

register_card(HomeCard(title=N_("直播计划"), hint=N_("排好一周的直播，到点自动开播"),
                       endpoint="broadcasts.week", roles=MANAGERS, order=5, primary=True))
register_card(HomeCard(title=N_("我的直播计划"), hint=N_("这周什么时候播、播什么"),
                       endpoint="broadcasts.week", roles=(FARMER,), order=2))


def error_text(exc: PlanError) -> str:
    params = {k: v for k, v in exc.params.items() if k != "other_id"}
    return _(str(exc), **params)


def local(value: datetime) -> datetime:
    return value.astimezone(ZoneInfo(zone()))


def _plan_or_404(plan_id: int) -> Any:
    try:
        return services.get_plan(get_db(), plan_id, current_user, station_id())  # type: ignore[arg-type]
    except PlanError:
        abort(404)


def _farmers() -> list[User]:
    if current_user.role == FARMER:
        return [current_user]  # type: ignore[list-item]
    return users_by_role(get_db(), FARMER)


def describe(occurrence: services.Occurrence | None) -> dict[str, Any] | None:
    """An occurrence as the pages show it: words for its state, reason and pre-flight."""
    if occurrence is None:
        return None
    run = occurrence.run
    state = occurrence.state
    reason = run.reason if run is not None else None
    return {
        "plan": occurrence.plan, "starts_at": local(occurrence.starts_at), "ends_at": local(occurrence.ends_at),
        "starts_ts": occurrence.starts_at.timestamp(), "state": state, "state_label": _(RUN_STATES[state]),
        "reason": _(RUN_REASONS[reason]) if reason in RUN_REASONS else "",
        # A camera or live error's detail is its message id (capture/): shown in the reader's language.
        "detail": _(run.detail) if run is not None and run.detail else "",
        "late_min": round((run.late_s or 0) / 60) if run is not None and run.late_s else 0,
        "problems": [_(p["message"], **p.get("params", {})) for p in problems(run.preflight if run else None)],
        "preflight_done": run is not None and run.preflight_at is not None,
    }


# -- home panels ----------------------------------------------------------------------------

# A slot starting this soon shows on the home panels even when it is already tomorrow: a 00:05
# broadcast, and what its pre-flight (15 minutes before) found, are seen the evening before.
COMING_UP = timedelta(hours=3)


def _now() -> datetime:
    """Now in the station's time zone (one place, so a test can set the clock)."""
    return datetime.now(ZoneInfo(zone()))


def _today(user: User) -> tuple[list[Any], datetime, datetime, datetime]:
    """This user's plans, and the panels' window: from today's midnight to the end of today or
    :data:`COMING_UP` from now, whichever is later; and now."""
    now = _now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    plans = services.visible_plans(get_db(), user, station_id())
    return plans, start, max(start + timedelta(days=1), now + COMING_UP), now


def _described(occurrence: services.Occurrence, now: datetime) -> dict[str, Any]:
    """:func:`describe`, and whether the slot starts on a later day than ``now`` (tomorrow)."""
    return {**(describe(occurrence) or {}), "tomorrow": local(occurrence.starts_at).date() > now.date()}


def farmer_panel(user: User) -> dict[str, Any] | None:
    """This farmer's next broadcast: the next slot still to come or running, today or coming up."""
    plans, start, end, now = _today(user)
    coming = [o for o in services.occurrences_between(get_db(), plans, start, end, zone())
              if o.ends_at > now and o.state in ("planned", "starting", "started")]
    if not coming:
        return None
    return {"today": _described(coming[0], now)}


def coordinator_panel(user: User) -> dict[str, Any] | None:
    """Today's broadcasts on this station (and those coming up tomorrow), each with its state and
    any pre-flight problem."""
    plans, start, end, now = _today(user)
    return {"today": [_described(o, now) for o in services.occurrences_between(get_db(), plans, start, end, zone())]}


register_panel(HomePanel("broadcasts/_today_farmer.html", (FARMER,), farmer_panel, order=1))
register_panel(HomePanel("broadcasts/_today_station.html", MANAGERS, coordinator_panel, order=1))


# -- pages ----------------------------------------------------------------------------------

@bp.get("/")
@role_required(*HOSTS)
def week() -> ResponseReturnValue:
    """This week's broadcasts as a calendar: by day (columns) or by farmer (rows × days)."""
    tz = ZoneInfo(zone())
    try:
        day = date.fromisoformat(request.args.get("week", "")) if request.args.get("week") else datetime.now(tz).date()
    except ValueError:
        abort(400)
    monday = services.week_start(day)
    start = datetime.combine(monday, datetime.min.time(), tz)
    plans = services.visible_plans(get_db(), current_user, station_id())  # type: ignore[arg-type]
    found = [describe(o) for o in services.occurrences_between(get_db(), plans, start, start + timedelta(days=7), zone())]
    days = [monday + timedelta(days=n) for n in range(7)]
    by = "farmer" if request.args.get("by") == "farmer" else "day"
    hosts = sorted({o["plan"].host for o in found if o}, key=lambda u: u.name)  # type: ignore[index]
    return render_template("broadcasts/week.html", days=days, occurrences=found, by=by, hosts=hosts,
                           weekday_names=WEEKDAY_NAMES, today=datetime.now(tz).date(),
                           prev_week=(monday - timedelta(days=7)).isoformat(),
                           next_week=(monday + timedelta(days=7)).isoformat())


def _save(plan_id: int | None) -> ResponseReturnValue:
    plan = _plan_or_404(plan_id) if plan_id is not None else None
    session = get_db()
    products = catalog.list_products(session, viewer=current_user, active=True, sort="name", limit=300)  # type: ignore[arg-type]
    form = PlanForm.from_plan(plan, zone()) if plan is not None else PlanForm.blank(current_user)  # type: ignore[arg-type]
    error = ""
    if request.method == "POST":
        form, values, error = parse_plan_form(request.form, zone(), _farmers())
        if not error:
            try:
                live_service().check_sources(values["video"], values["audio"])
                if plan is None:
                    plan = services.create_plan(session, current_user, station_id=station_id(), zone=zone(),  # type: ignore[arg-type]
                                                **values)
                else:
                    services.update_plan(session, plan, current_user, zone(), values)  # type: ignore[arg-type]
                session.commit()
                plans_changed()
                flash(_("已保存直播计划"), "success")
                return redirect(url_for("broadcasts.detail", plan_id=plan.id))
            except PlanError as exc:
                session.rollback()
                error = error_text(exc)
            except SourceRefused as exc:
                error = _(str(exc))
    return render_template("broadcasts/form.html", form=form, plan=plan, farmers=_farmers(), products=products,
                           error=error, weekday_names=WEEKDAY_NAMES), (400 if error else 200)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*HOSTS)
def new() -> ResponseReturnValue:
    return _save(None)


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@role_required(*HOSTS)
def edit(plan_id: int) -> ResponseReturnValue:
    return _save(plan_id)


@bp.get("/<int:plan_id>")
@role_required(*HOSTS)
def detail(plan_id: int) -> ResponseReturnValue:
    """One plan: when, who, what; its next slots (to skip one), its runs, its poster."""
    plan = _plan_or_404(plan_id)
    session = get_db()
    now = datetime.now(ZoneInfo(zone()))
    coming = [describe(o) for o in services.occurrences_between(session, [plan], now, now + timedelta(days=14), zone())
              if o.state == "planned"][:7]
    runs = [describe(services.Occurrence(plan, r.planned_at, r)) for r in reversed(services.runs_of(session, plan))]
    return render_template("broadcasts/detail.html", plan=plan, coming=coming, runs=runs,
                           starts_at=local(plan.starts_at), next=describe(services.next_occurrence(session, plan, zone())))


@bp.post("/<int:plan_id>/cancel")
@role_required(*HOSTS)
def cancel(plan_id: int) -> ResponseReturnValue:
    plan = _plan_or_404(plan_id)
    services.cancel_plan(get_db(), plan)
    get_db().commit()
    plans_changed()
    flash(_("已取消这个直播计划"), "success")
    return redirect(url_for("broadcasts.week"))


@bp.post("/<int:plan_id>/skip")
@role_required(*HOSTS)
def skip(plan_id: int) -> ResponseReturnValue:
    plan = _plan_or_404(plan_id)
    try:
        day = date.fromisoformat(request.form.get("date", ""))
        services.skip_occurrence(get_db(), plan, day, zone())
        get_db().commit()
        plans_changed()
        flash(_("这一场已跳过"), "success")
    except ValueError:
        flash(_("日期不对"), "error")
    except PlanError as exc:
        flash(error_text(exc), "error")
    return redirect(url_for("broadcasts.detail", plan_id=plan.id))
