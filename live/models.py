"""Live sessions (one broadcast as it happened) and their product timeline."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from db import Base, UTCDateTime, utcnow


# Why a session ended abnormally (异常结束), as codes; pages show their labels.
END_REASONS: dict[str, str] = {
    "worker_lost": "直播程序意外退出，电脑重启后没有找到它",
    "restart_failed": "直播程序多次重启都没有成功",
}


class LiveSession(Base):
    """One broadcast as it ran: who, when, on which station, its recordings and which products
    were shown. While it runs, this row is the truth about what is on screen (product, promo,
    QR code, countdown, layout); the worker shows what the row says."""

    __tablename__ = "live_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    station_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The last time the server saw the worker alive: where a crashed session is taken to have ended.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    video: Mapped[str] = mapped_column(String(255), default="")
    audio: Mapped[str] = mapped_column(String(255), default="")
    preset: Mapped[str] = mapped_column(String(16), default="720p30")
    layout: Mapped[str] = mapped_column(String(16), default="landscape")
    # Names the worker's files in the data dir (spec, channel, log) so a restarted server finds it.
    worker_key: Mapped[str] = mapped_column(String(64), default="")
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), default=None)
    show_promo: Mapped[bool] = mapped_column(Boolean, default=False)
    qr_on: Mapped[bool] = mapped_column(Boolean, default=False)
    qr_text: Mapped[str] = mapped_column(String(255), default="")
    countdown_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    host: Mapped[User] = relationship()
    segments: Mapped[list["Segment"]] = relationship(
        back_populates="session", order_by="Segment.start_s", cascade="all, delete-orphan"
    )
    recordings: Mapped[list["Recording"]] = relationship(
        back_populates="session", order_by="Recording.id", cascade="all, delete-orphan"
    )

    @property
    def recording_paths(self) -> list[str]:
        return [r.path for r in self.recordings]


class Recording(Base):
    """One recording file of a session, added when the worker opens it (a restart of the
    pipeline, a layout switch or a worker restart each open a new one)."""

    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("session_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[LiveSession] = relationship(back_populates="recordings")


class Segment(Base):
    """A stretch of a live session during which one product was on the video."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float, default=None)
    # Where recognition found the product: its box centre as shares of the frame (0–1), so that a
    # 9:16 clip of this stretch can be centred on it. None when nothing was recognised.
    position_x: Mapped[float | None] = mapped_column(Float, default=None)
    position_y: Mapped[float | None] = mapped_column(Float, default=None)

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
    # Product recognition off / suggest / follow: the mode the host's next live starts in.
    recognition: Mapped[str] = mapped_column(String(8), default="off", server_default="off")


# A clip's life: queued, being cut, made, given up, or stopped by a person. Only ``done`` rows
# have a file under their ``path``; a restart puts ``running`` rows back to ``pending``.
CLIP_STATES = ("pending", "running", "done", "failed", "cancelled")


class Clip(Base):
    """One clip to cut from a session's recording: one product segment in one shape (16:9 or 9:16).

    ``plan_start_s``/``plan_end_s`` are what was asked (the segment, or its best part when it was
    longer than the limit); ``start_s``/``end_s`` are what the file holds once done (a 16:9 copy
    starts on the keyframe at or before the plan, up to 2 s early).
    """

    __tablename__ = "clips"
    __table_args__ = (UniqueConstraint("session_id", "product_id", "seq", "aspect"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    seq: Mapped[int] = mapped_column(Integer, default=1)
    aspect: Mapped[str] = mapped_column(String(8))
    plan_start_s: Mapped[float] = mapped_column(Float)
    plan_end_s: Mapped[float] = mapped_column(Float)
    trimmed: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str] = mapped_column(String(1024), default="")
    start_s: Mapped[float | None] = mapped_column(Float, default=None)
    end_s: Mapped[float | None] = mapped_column(Float, default=None)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
