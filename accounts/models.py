"""User accounts, API tokens and failed-login records."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.roles import ROLES
from db import Base, UTCDateTime, utcnow


class User(Base):
    """A person: farmer, coordinator, trainer, aid partner or admin."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN (%s)" % ", ".join(f"'{r}'" for r in ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(40), default="")
    role: Mapped[str] = mapped_column(String(16))
    # None for a farmer who logs in only with a PIN on the village PC: no password matches it.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    pin_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    village: Mapped[str] = mapped_column(String(60), default="")
    # Where the aid partner picks this farmer's (or station's) parcels up, and whom it calls.
    phone: Mapped[str] = mapped_column(String(20), default="", server_default="")
    pickup_address: Mapped[str] = mapped_column(String(200), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of the id a session cookie carries; logging out bumps it, so every earlier cookie of
    # this user (a copy, a replay) stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")

    # The four members Flask-Login expects, written here so that accounts/ stays free of Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What the session cookie keeps: ``"<id>:<session_version>"``."""
        return f"{self.id}:{self.session_version}"

    @property
    def name(self) -> str:
        """What pages show: the display name, else the user name."""
        return self.display_name or self.username

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(Base):
    """A token for scripts and the aid partner. Only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginFailure(Base):
    """One failed login, kept to throttle guessing (by user name and by address)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
