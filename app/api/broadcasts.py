"""Broadcast plans API (shared/api.md): plan, list, edit, cancel, skip, runs, poster."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from flask import Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field

from accounts.models import User
from accounts.roles import ADMIN, COORDINATOR, FARMER
from accounts.services import find_user
from app.api import bp
from app.api.errors import ApiError, load_body
from app.broadcasts import plans_changed, station_id, zone
from app.database import get_db
from app.inputs import Day, Id, LocalMoment
from app.live import live_service
from app.security import role_required
from capture.devices import mask_url
from live.service import SourceRefused
from schedules import poster, services
from schedules.errors import PlanConflict, PlanError, PlanNotFound
from schedules.models import BroadcastPlan, PlanRun
from schedules.preflight import problems

HOSTS = (FARMER, COORDINATOR, ADMIN)
PLAN_ERROR_STATUS: dict[type[PlanError], int] = {PlanNotFound: 404, PlanConflict: 409}


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=120)
    host: str | None = None
    starts_at: LocalMoment
    duration_min: float = Field(gt=0, le=720)
    repeat: str | None = None
    lineup: list[Id] = Field(default_factory=list, max_length=50)
    video: str = Field("0", max_length=255)
    audio: str = Field("default", max_length=255)
    destinations: list[str] | None = Field(None, max_length=8)
    preset: Literal["720p30", "540p30", "480p30"] = "720p30"
    layout: Literal["landscape", "portrait"] = "landscape"
    qr_text: str = Field("", max_length=255)
    auto_start: bool = True


class PatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=120)
    host: str | None = None
    starts_at: LocalMoment | None = None
    duration_min: float | None = Field(None, gt=0, le=720)
    repeat: str | None = None
    lineup: list[Id] | None = Field(None, max_length=50)
    video: str | None = Field(None, max_length=255)
    audio: str | None = Field(None, max_length=255)
    destinations: list[str] | None = Field(None, max_length=8)
    preset: Literal["720p30", "540p30", "480p30"] | None = None
    layout: Literal["landscape", "portrait"] | None = None
    qr_text: str | None = Field(None, max_length=255)
    auto_start: bool | None = None


class SkipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Day


def plan_error(exc: PlanError) -> ApiError:
    status = next((code for cls, code in PLAN_ERROR_STATUS.items() if isinstance(exc, cls)), 400)
    params = {k: v for k, v in exc.params.items() if k != "other_id"}
    extra = {"other_id": exc.params["other_id"]} if "other_id" in exc.params else {}
    return ApiError(status, _(str(exc), **params), **extra)


def aware(value: datetime) -> datetime:
    """A time from a person or script; one without an offset is the village's wall clock."""
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone()))


def local_iso(value: datetime | None) -> str | None:
    return value.astimezone(ZoneInfo(zone())).isoformat() if value is not None else None


def host_for(name: str | None) -> User:
    """The plan's host: the named farmer, or the farmer asking. Raises 404 for an unknown name."""
    if name is None:
        return current_user  # type: ignore[return-value]
    host = find_user(get_db(), name)
    if host is None:
        raise ApiError(404, _("没有这个主播"))
    return host


def check_sources(video: str, audio: str) -> None:
    try:
        live_service().check_sources(video, audio)
    except SourceRefused as exc:
        raise ApiError(400, _(str(exc))) from exc


def run_dict(run: PlanRun) -> dict[str, Any]:
    starting = run.state == "starting"
    return {"planned_at": local_iso(run.planned_at), "state": "planned" if starting else run.state,
            "starting": starting, "started_at": None if starting else local_iso(run.started_at),
            "ended_at": local_iso(run.ended_at), "late_s": run.late_s, "reason": run.reason, "detail": run.detail,
            "session_id": run.session_id, "preflight_at": local_iso(run.preflight_at),
            "preflight_problems": [_(p["message"], **p.get("params", {})) for p in problems(run.preflight)]}


def plan_dict(plan: BroadcastPlan) -> dict[str, Any]:
    upcoming = services.next_occurrence(get_db(), plan, zone())
    return {
        "id": plan.id, "title": plan.title, "host": plan.host.username, "host_name": plan.host.name,
        "station_id": plan.station_id, "starts_at": local_iso(plan.starts_at),
        "duration_min": round(plan.duration_s / 60, 2), "repeat": plan.repeat or None, "lineup": plan.lineup,
        "video": plan.video, "audio": plan.audio,
        "destinations": [mask_url(u) for u in plan.destinations] if plan.destinations is not None else None,
        "preset": plan.preset, "layout": plan.layout, "qr_text": plan.qr_text, "auto_start": plan.auto_start,
        "cancelled": plan.cancelled_at is not None,
        "next_run": local_iso(upcoming.starts_at) if upcoming else None,
        "next_run_state": upcoming.state if upcoming else None,
    }


def _plan(plan_id: int) -> BroadcastPlan:
    try:
        return services.get_plan(get_db(), plan_id, current_user, station_id())  # type: ignore[arg-type]
    except PlanError as exc:
        raise plan_error(exc) from exc


@bp.post("/broadcasts")
@role_required(*HOSTS)
def broadcasts_create() -> ResponseReturnValue:
    """Plan a broadcast on this station → 201 {"id", "next_run", ...}; 409 naming an overlapping plan."""
    body = load_body(PlanBody)
    check_sources(body.video, body.audio)
    session = get_db()
    try:
        plan = services.create_plan(
            session, current_user, station_id=station_id(), zone=zone(), host=host_for(body.host),  # type: ignore[arg-type]
            title=body.title, starts_at=aware(body.starts_at), duration_s=round(body.duration_min * 60),
            repeat=body.repeat, lineup=body.lineup, video=body.video, audio=body.audio,
            destinations=body.destinations, preset=body.preset, layout=body.layout, qr_text=body.qr_text,
            auto_start=body.auto_start)
    except PlanError as exc:
        raise plan_error(exc) from exc
    session.commit()
    plans_changed()
    return jsonify(plan_dict(plan)), 201


@bp.get("/broadcasts")
@role_required(*HOSTS)
def broadcasts_list() -> ResponseReturnValue:
    """This station's plans the caller may see, each with ``next_run``."""
    plans = services.visible_plans(get_db(), current_user, station_id())  # type: ignore[arg-type]
    return jsonify([plan_dict(p) for p in plans])


@bp.get("/broadcasts/<int:plan_id>")
@role_required(*HOSTS)
def broadcasts_get(plan_id: int) -> ResponseReturnValue:
    return jsonify(plan_dict(_plan(plan_id)))


@bp.patch("/broadcasts/<int:plan_id>")
@role_required(*HOSTS)
def broadcasts_patch(plan_id: int) -> ResponseReturnValue:
    """Edit a plan: only the fields given change."""
    plan = _plan(plan_id)
    body = load_body(PatchBody)
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in given.items() if k not in ("host", "starts_at", "duration_min")}
    if "host" in given:
        changes["host"] = host_for(given["host"])
    if given.get("starts_at") is not None:
        changes["starts_at"] = aware(given["starts_at"])
    if given.get("duration_min") is not None:
        changes["duration_s"] = round(given["duration_min"] * 60)
    if "video" in changes or "audio" in changes:
        check_sources(changes.get("video") or plan.video, changes.get("audio") or plan.audio)
    session = get_db()
    try:
        services.update_plan(session, plan, current_user, zone(), changes)  # type: ignore[arg-type]
    except PlanError as exc:
        session.rollback()
        raise plan_error(exc) from exc
    session.commit()
    plans_changed()
    return jsonify(plan_dict(plan))


@bp.delete("/broadcasts/<int:plan_id>")
@role_required(*HOSTS)
def broadcasts_cancel(plan_id: int) -> ResponseReturnValue:
    """Cancel a plan (a slot already live carries on and still stops at its end)."""
    plan = _plan(plan_id)
    services.cancel_plan(get_db(), plan)
    get_db().commit()
    plans_changed()
    return jsonify(plan_dict(plan))


@bp.post("/broadcasts/<int:plan_id>/skip")
@role_required(*HOSTS)
def broadcasts_skip(plan_id: int) -> ResponseReturnValue:
    """Skip the occurrence on ``date`` (the village's calendar date) → the run record."""
    plan = _plan(plan_id)
    body = load_body(SkipBody)
    try:
        run = services.skip_occurrence(get_db(), plan, body.date, zone())
    except PlanError as exc:
        raise plan_error(exc) from exc
    get_db().commit()
    plans_changed()
    return jsonify(run_dict(run))


@bp.get("/broadcasts/<int:plan_id>/runs")
@role_required(*HOSTS)
def broadcasts_runs(plan_id: int) -> ResponseReturnValue:
    """What became of each occurrence so far."""
    plan = _plan(plan_id)
    return jsonify([run_dict(r) for r in services.runs_of(get_db(), plan)])


@bp.get("/broadcasts/<int:plan_id>/poster.png")
@role_required(*HOSTS)
def broadcasts_poster(plan_id: int) -> ResponseReturnValue:
    """The 直播预告 poster for WeChat groups (PNG)."""
    plan = _plan(plan_id)
    upcoming = services.next_occurrence(get_db(), plan, zone())
    png = poster.plan_poster(get_db(), plan, upcoming.starts_at if upcoming else plan.starts_at,
                             data_dir=current_app.config["DATA_DIR"], zone=zone())
    return Response(png, mimetype="image/png",
                    headers={"Content-Disposition": f'inline; filename="poster-{plan.id}.png"'})
