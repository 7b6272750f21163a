"""Live sessions (one broadcast as it happened) and their product timeline."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from db import Base, UTCDateTime, utcnow


class LiveSession(Base):
    """One broadcast as it ran: who, when, where it was recorded, which products were shown."""

    __tablename__ = "live_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    video: Mapped[str] = mapped_column(String(255), default="")
    audio: Mapped[str] = mapped_column(String(255), default="")
    # Newline-separated recording files (a restart of the encoder opens a new segment file).
    recordings: Mapped[str] = mapped_column(Text, default="")

    host: Mapped[User] = relationship()
    segments: Mapped[list["Segment"]] = relationship(
        back_populates="session", order_by="Segment.start_s", cascade="all, delete-orphan"
    )


class Segment(Base):
    """A stretch of a live session during which one product was on the video."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float, default=None)

    session: Mapped[LiveSession] = relationship(back_populates="segments")
