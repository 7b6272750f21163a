"""Live sessions (one broadcast as it happened) and their product timeline."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
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


class StreamDestination(Base):
    """Where a host pushes the stream: a platform's RTMP server and the host's stream key.

    The key is a secret: it is stored as given (ffmpeg needs it) but never shown whole on pages,
    in status or in logs.
    """

    __tablename__ = "stream_destinations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(24))
    server_url: Mapped[str] = mapped_column(String(255))
    stream_key: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()

    @property
    def push_url(self) -> str:
        """The full URL ffmpeg publishes to: server URL and key joined as OBS does."""
        if not self.stream_key:
            return self.server_url
        return self.server_url.rstrip("/") + "/" + self.stream_key


class HostProfile(Base):
    """A host's console preferences, remembered between broadcasts."""

    __tablename__ = "host_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    video: Mapped[str] = mapped_column(String(255), default="0")
    audio: Mapped[str] = mapped_column(String(255), default="default")
    preset: Mapped[str] = mapped_column(String(16), default="720p30")
    layout: Mapped[str] = mapped_column(String(16), default="landscape")
    qr_text: Mapped[str] = mapped_column(String(255), default="")
