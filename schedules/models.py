"""Broadcast plans (what should go live, when, on which station) and one run record per occurrence."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from db import N_, Base, UTCDateTime, utcnow

# A run record's state, as codes (api.md); pages show the labels. "starting" is a slot claimed by
# the scheduler while the camera opens; the API reports it as planned (with "starting": true).
RUN_STATES: dict[str, str] = {
    "planned": N_("待开播"),
    "starting": N_("正在开播"),
    "started": N_("直播中"),
    "ran": N_("已播完"),
    "missed": N_("错过"),
    "cancelled": N_("已取消"),
    "skipped": N_("跳过"),
}

# Why an occurrence was missed or is waiting, as codes; pages show these words.
RUN_REASONS: dict[str, str] = {
    "pc_off": N_("到点时电脑没开或村播没有运行"),
    "another_live": N_("到点时另一场直播正在进行，没有打断它"),
    "camera": N_("摄像头或麦克风打不开"),
    "push_refused": N_("推流被平台拒绝，请检查推流码"),
    "start_failed": N_("直播没能启动"),
    "reminder_only": N_("这个计划只提醒，主播没有开播"),
    "host_missing": N_("主播账号不存在或已停用"),
    "stopped_early": N_("直播提前结束了"),
}


class BroadcastPlan(Base):
    """A broadcast someone planned: the truth the scheduler works from. Times are UTC; the
    time of day of a repeating plan is ``starts_at``'s in the village's zone."""

    __tablename__ = "broadcast_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(120))
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    # "" once, "daily", or "weekly:1,3,5" (ISO weekdays, Monday = 1).
    repeat: Mapped[str] = mapped_column(String(32), default="")
    lineup: Mapped[list[int]] = mapped_column(JSON, default=list)
    video: Mapped[str] = mapped_column(String(255), default="0")
    audio: Mapped[str] = mapped_column(String(255), default="default")
    # None: the host's enabled push destinations at the time it fires.
    destinations: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    preset: Mapped[str] = mapped_column(String(16), default="720p30")
    layout: Mapped[str] = mapped_column(String(16), default="landscape")
    qr_text: Mapped[str] = mapped_column(String(255), default="")
    auto_start: Mapped[bool] = mapped_column(Boolean, default=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    host: Mapped[User] = relationship(foreign_keys=[host_id])
    runs: Mapped[list["PlanRun"]] = relationship(back_populates="plan", order_by="PlanRun.planned_at",
                                                 cascade="all, delete-orphan")


class PlanRun(Base):
    """What became of one occurrence of a plan. One row per (plan, slot), enforced by the
    database, so a repeating plan can never run twice for one slot whatever wakes it."""

    __tablename__ = "plan_runs"
    __table_args__ = (UniqueConstraint("plan_id", "planned_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("broadcast_plans.id", ondelete="CASCADE"), index=True)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="planned")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    late_s: Mapped[int | None] = mapped_column(Integer, default=None)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    detail: Mapped[str] = mapped_column(String(500), default="")
    session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"), default=None)
    preflight: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    preflight_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    plan: Mapped[BroadcastPlan] = relationship(back_populates="runs")
