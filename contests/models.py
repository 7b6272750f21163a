"""Contests, their participants, the views/likes entered from platform dashboards, and decisions.

Nothing here stores a rank or a score: :mod:`contests.standings` derives both from orders, entries
and decisions each time the board is asked for (shared/style.md rule 13).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, column
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from db import Base, UTCDateTime, utcnow
from live.models import LiveSession

# The four ways a contest is scored (api.md); the Chinese labels are what pages show.
METRIC_LABELS: dict[str, str] = {
    "gmv": "销售额",
    "orders": "订单数",
    "fulfilled_gmv": "已发货销售额",
    "weighted": "综合评分（按名次计分）",
}
# What a decision does; the latest decision about the same order (or participant) is the one in force.
DECISION_LABELS: dict[str, str] = {
    "points": "加减分",
    "disqualify_order": "取消订单成绩",
    "accept_order": "计入订单",
    "disqualify": "取消参赛资格",
    "reinstate": "恢复参赛资格",
}


class Contest(Base):
    """A sales contest over a window whose both edges count (an order at the first or last second is in)."""

    __tablename__ = "contests"
    __table_args__ = (
        CheckConstraint(column("metric").in_(list(METRIC_LABELS)), name="metric"),
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("rank_step >= 0", name="rank_step_not_negative"),
        CheckConstraint("freeze_min IS NULL OR freeze_min > 0", name="freeze_positive"),
        CheckConstraint("poverty_multiplier >= 1", name="multiplier_at_least_one"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    rules: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    metric: Mapped[str] = mapped_column(String(16))
    # Points per metric for the weighted score, e.g. {"views": 20, "likes": 20, "orders": 20, "gmv": 40}.
    weight_views: Mapped[float] = mapped_column(Float, default=20)
    weight_likes: Mapped[float] = mapped_column(Float, default=20)
    weight_orders: Mapped[float] = mapped_column(Float, default=20)
    weight_gmv: Mapped[float] = mapped_column(Float, default=40)
    rank_step: Mapped[float] = mapped_column(Float, default=0.5)
    freeze_min: Mapped[int | None] = mapped_column(Integer, default=None)
    # Orders of products whose origin names one of these counties (one per line) count
    # ``poverty_multiplier`` times their sales; 1 means no multiplier.
    poverty_counties: Mapped[str] = mapped_column(Text, default="")
    poverty_multiplier: Mapped[float] = mapped_column(Float, default=1.0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User] = relationship()
    participants: Mapped[list["Participant"]] = relationship(
        back_populates="contest", order_by="Participant.id", cascade="all, delete-orphan"
    )

    @property
    def weights(self) -> dict[str, float]:
        """The weighted score's full marks per metric."""
        return {"views": self.weight_views, "likes": self.weight_likes, "orders": self.weight_orders,
                "gmv": self.weight_gmv}

    @property
    def counties(self) -> list[str]:
        """The listed poverty counties, one name each."""
        return [line.strip() for line in self.poverty_counties.splitlines() if line.strip()]


class Participant(Base):
    """A farmer taking part. ``phone`` is the farmer's own number: orders to it are flagged as self-orders."""

    __tablename__ = "contest_participants"
    __table_args__ = (UniqueConstraint("contest_id", "user_id", name="uq_contest_participants_contest_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    # A farmer's home asks "which contests am I in?"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20), default="")

    contest: Mapped[Contest] = relationship(back_populates="participants")
    user: Mapped[User] = relationship()


class Entry(Base):
    """Views and likes of one farmer (for one live session, if given) as a platform dashboard showed them.

    Counts once verified by a trainer (a trainer's own entry is verified when entered). A later entry
    for the same live session replaces the earlier one: dashboards show running totals.
    """

    __tablename__ = "contest_entries"
    __table_args__ = (
        CheckConstraint("views >= 0 AND likes >= 0", name="counts_not_negative"),
        Index("ix_contest_entries_contest_id_user_id", "contest_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"), default=None)
    views: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    live_session: Mapped[LiveSession | None] = relationship()
    entered_by: Mapped[User] = relationship(foreign_keys=[entered_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])


class Decision(Base):
    """A trainer's decision, kept as the audit row: ± points, an order disqualified or accepted, a
    participant disqualified or reinstated; who, when and why. Rows are only ever added."""

    __tablename__ = "contest_decisions"
    __table_args__ = (
        CheckConstraint(column("kind").in_(list(DECISION_LABELS)), name="kind"),
        Index("ix_contest_decisions_contest_id_at", "contest_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None)
    points: Mapped[float] = mapped_column(Float, default=0)
    reason: Mapped[str] = mapped_column(String(200))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    by: Mapped[User] = relationship(foreign_keys=[by_id])
