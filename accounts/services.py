"""Operations on accounts. Each takes a session, flushes, and leaves the commit to the caller."""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from accounts.models import ApiToken, LoginFailure, User
from accounts.roles import ADMIN, FARMER, ROLES
from db import N_, utcnow

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,40}$")
PIN_RE = re.compile(r"^[0-9]{4,6}$")
MIN_PASSWORD = 8

# Wrong tries in ten minutes before a pause: five for one name from one address (a farmer's name
# locked on the village PC does not lock the coordinator out of it), twenty for all names from one
# address (guessing many names) and twenty for one name from all addresses (guessing from many).
MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
MAX_NAME_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=10)


class AccountError(ValueError):
    """Bad input for an account operation. ``msgid`` is Chinese and ``params`` fill its slots: the
    app shows it in the person's language (``str(exc)`` is the Chinese text); ``field`` names the
    input at fault, when there is one."""

    def __init__(self, msgid: str, field: str | None = None, **params: object) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params
        self.field = field


class LoginRefused(Exception):
    """Wrong user name, password or PIN (deliberately not saying which)."""


class TooManyAttempts(LoginRefused):
    """Too many failures recently; ``minutes`` says how long to wait."""

    def __init__(self, minutes: int) -> None:
        super().__init__(minutes)
        self.minutes = minutes


def needs_password(role: str, pin: str | None) -> bool:
    """Whether a new account of ``role`` must have a password: all but a farmer given a PIN."""
    return not (role == FARMER and pin)


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str | None,
    *,
    display_name: str = "",
    pin: str | None = None,
    village: str = "",
    phone: str = "",
    pickup_address: str = "",
) -> User:
    """Create a user. A farmer with a PIN may have no password (``None`` or empty).

    Raises :class:`AccountError` for a bad or taken name, role, password or PIN.
    """
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AccountError(N_("用户名需 2–40 个字母、数字、汉字或 _ . -"))
    if role not in ROLES:
        raise AccountError(N_("未知角色 %(role)s，可选：%(roles)s"), role=repr(role), roles=", ".join(ROLES))
    if not password and needs_password(role, pin):
        raise AccountError(N_("请填写密码（只用 PIN 登录的农户可以不填，但要填 PIN 码）"), "password")
    if password:
        _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(N_("用户名 %(name)s 已被使用"), name=username)
    user = User(
        username=username,
        role=role,
        password_hash=generate_password_hash(password) if password else None,
        display_name=display_name.strip()[:40],
        village=village.strip()[:60],
        phone=phone.strip()[:20],
        pickup_address=pickup_address.strip()[:200],
    )
    session.add(user)
    if pin is not None:
        set_pin(user, pin)
    session.flush()
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(N_("密码至少 %(n)d 位"), "password", n=MIN_PASSWORD)


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password. Raises :class:`AccountError` when it is too short."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)


def update_user(
    session: Session,
    user: User,
    *,
    display_name: str,
    role: str,
    village: str,
    phone: str,
    pickup_address: str,
    password: str | None = None,
) -> None:
    """Change a user's name, role and contact details (and password, when one is given).

    A user who is no longer a farmer loses their PIN (only farmers use one) and then needs a
    password. Raises :class:`AccountError` for an unknown role, a short password, a non-farmer
    left without a password, and for taking the admin role from the last active admin.
    """
    if role not in ROLES:
        raise AccountError(N_("未知角色 %(role)s"), "role", role=role)
    if user.role == ADMIN and role != ADMIN and user.active and count_admins(session) <= 1:
        raise AccountError(N_("这是最后一个管理员，不能改成别的角色"), "role")
    if password:
        set_password(user, password)
    if role != FARMER and user.password_hash is None:
        raise AccountError(N_("只有农户可以只用 PIN 登录：请给这个账号设一个密码"), "password")
    if role != FARMER:
        user.pin_hash = None
    user.role = role
    user.display_name = display_name.strip()[:40]
    user.village = village.strip()[:60]
    set_contact(session, user, phone=phone, pickup_address=pickup_address)


def set_contact(session: Session, user: User, *, phone: str, pickup_address: str) -> None:
    """Set where the aid partner picks this user's parcels up and whom it calls."""
    user.phone = phone.strip()[:20]
    user.pickup_address = pickup_address.strip()[:200]
    session.flush()


def set_active(session: Session, user: User, active: bool) -> None:
    """Enable or disable a user. A disabled user cannot log in by password, PIN or API token, and
    every session they had ends (re-enabling does not bring those back).

    Raises :class:`AccountError` for disabling the last active admin.
    """
    if not active and user.active and user.role == ADMIN and count_admins(session) <= 1:
        raise AccountError(N_("这是最后一个管理员，不能停用"))
    if user.active == active:
        return
    user.active = active
    session.flush()
    if not active:
        end_sessions(session, user)


def set_pin(user: User, pin: str) -> None:
    """Give a farmer a short PIN for the village PC. Raises :class:`AccountError`."""
    if user.role != FARMER:
        raise AccountError(N_("只有主播农户可以使用 PIN 登录"), "pin")
    if not PIN_RE.match(pin):
        raise AccountError(N_("PIN 需 4–6 位数字"), "pin")
    user.pin_hash = generate_password_hash(pin)


def find_user(session: Session, username: str) -> User | None:
    """The active user with this name, or None."""
    return session.scalar(select(User).where(User.username == username.strip(), User.active))


def start_attempt(session: Session, username: str, address: str) -> LoginFailure:
    """Count a login attempt *before* its password is checked; the caller commits it at once.

    Counting first is what makes the throttle hold under a burst: the n-th attempt committed sees
    at least n attempts, so no more than the limit ever reach a password check, on SQLite and
    PostgreSQL alike. The row stays as a failure unless :func:`authenticate` forgets it.
    """
    attempt = LoginFailure(username=username.strip()[:40], address=address[:64], at=utcnow())
    session.add(attempt)
    session.flush()
    return attempt


def _check_throttle(session: Session, attempt: LoginFailure) -> None:
    """Raise :class:`TooManyAttempts` when ``attempt`` (already counted) is past a limit; the
    refused attempt itself is not kept, so a pause does not grow while someone keeps trying."""
    now = utcnow()
    same_name = LoginFailure.username == attempt.username
    same_address = LoginFailure.address == attempt.address

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    pair, by_address, by_name, oldest = session.execute(
        select(count(and_(same_name, same_address)), count(same_address), count(same_name), func.min(LoginFailure.at))
        .where(LoginFailure.at >= now - FAILURE_WINDOW, or_(same_name, same_address))
    ).one()
    if pair > MAX_FAILURES or by_address > MAX_ADDRESS_FAILURES or by_name > MAX_NAME_FAILURES:
        session.delete(attempt)
        session.flush()
        wait = (oldest + FAILURE_WINDOW - now).total_seconds() if oldest else 60
        raise TooManyAttempts(max(1, int(wait // 60) + 1))


def _checked(session: Session, username: str, address: str, attempt: LoginFailure | None,
             secret_matches: Callable[[User], bool]) -> User:
    """The user if the throttle lets this attempt through and the secret matches."""
    username = username.strip()
    if attempt is None:
        attempt = start_attempt(session, username, address)
    _check_throttle(session, attempt)
    user = find_user(session, username)
    if user is None or not secret_matches(user):
        raise LoginRefused()
    _forget_failures(session, username, attempt.address)
    return user


def authenticate(session: Session, username: str, password: str, address: str,
                 attempt: LoginFailure | None = None) -> User:
    """The user whose password matches.

    ``attempt`` is the row :func:`start_attempt` committed for this try (without one, it is
    counted here, which is not safe against a burst). Raises :class:`TooManyAttempts` while
    throttled and :class:`LoginRefused` otherwise; the caller commits either way.
    """
    return _checked(session, username, address, attempt,
                    lambda user: user.password_hash is not None and check_password_hash(user.password_hash, password))


def authenticate_pin(session: Session, username: str, pin: str, address: str,
                     attempt: LoginFailure | None = None) -> User:
    """The farmer whose PIN matches. Raises like :func:`authenticate`."""
    return _checked(session, username, address, attempt,
                    lambda user: user.pin_hash is not None and check_password_hash(user.pin_hash, pin))


def _forget_failures(session: Session, username: str, address: str) -> None:
    """A login that worked clears this name's failures from this address (not those of someone
    guessing the name elsewhere)."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.address == address))


def end_sessions(session: Session, user: User) -> None:
    """Invalidate every login session of ``user`` (their cookies carry the old version)."""
    session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
    session.expire(user, ["session_version"])


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, label: str = "") -> str:
    """Create an API token for ``user`` and return it; only its hash is stored."""
    token = "cb_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), label=label[:60]))
    session.flush()
    return token


# How stale "last used" may get: writing it on every call would double the write transactions of
# a busy script (measured by bench/orders.py), and a minute is precise enough to spot a dead token.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# Every API call runs this: the user comes in the same query (one round trip), and the statement
# is built once rather than per call (a third of the lookup's CPU went into building it).
_TOKEN_WITH_USER = (
    select(ApiToken).options(joinedload(ApiToken.user))
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked.is_(False))
)


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning this unrevoked token, or None.

    Records when it was used, to the minute; returns with the session dirty only when it did.
    """
    row = session.scalar(_TOKEN_WITH_USER, {"token_hash": _hash_token(token)})
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row.user


def users_by_role(session: Session, role: str) -> list[User]:
    """Active users of one role, by name."""
    return list(session.scalars(select(User).where(User.role == role, User.active).order_by(User.username)))


def count_admins(session: Session) -> int:
    """How many active admins there are."""
    return session.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active)) or 0
