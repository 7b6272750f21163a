"""Login (Flask-Login), API tokens, CSRF (Flask-WTF) and role checks.

Every route needs a logged-in user unless its endpoint is in ``PUBLIC_ENDPOINTS``: the rule is
enforced once, before each request, so a new view cannot forget it (tests sweep ``app.url_map``).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, abort, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from accounts import services as accounts
from accounts.models import User
from app.database import get_db
from app.inputs import parse_id

login_manager = LoginManager()
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = frozenset({"static", "main.healthz", "auth.login", "auth.pin_login", "main.set_language"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Wire Flask-Login and CSRF, and require login on every non-public endpoint."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    app.session_interface = _SessionCookies()
    app.before_request(_guard)
    app.after_request(_security_headers)


class _SessionCookies(SecureCookieSessionInterface):
    """The session cookie: HttpOnly and SameSite=Lax (config), and Secure whenever the page was
    served over https (a county server behind TLS), where a browser would otherwise send it over
    plain http too. The village PC serves http on 127.0.0.1, where Secure would drop it."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


# Every answer: no guessing a type from the content (an uploaded file served as HTML), no framing
# by another site (clickjacking the 开始直播 button), no full URLs leaked to other sites.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The user of a session cookie (``"<id>:<version>"``, see ``User.get_id``), if still valid:
    a cookie from before the user's last logout carries an older version and is refused."""
    user_id, _, version = session_id.partition(":")
    number = parse_id(user_id)
    user = get_db().get(User, number) if number is not None else None
    if user is None or not user.active or version != str(user.session_version):
        return None
    return user


@login_manager.request_loader
def _load_user_from_token(req: Any) -> User | None:
    token = bearer_token()
    if not token:
        return None
    session = get_db()
    user = accounts.user_for_token(session, token)
    if user is not None:
        if session.dirty:
            session.commit()  # keep last_used_at
        g.token_auth = True
    return user


def signed_in_user() -> User:
    """The signed-in user itself rather than Flask-Login's ``current_user`` proxy.

    Each attribute read through the proxy looks the user up again; hand this to domain code that
    reads ``actor.role`` and ``actor.id`` many times (logging an order, say).
    """
    return current_user._get_current_object()  # type: ignore[no-any-return]


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def is_api_request() -> bool:
    """True for JSON API paths, whose errors are JSON rather than pages."""
    return request.path.startswith("/api/")


def _guard() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint is None:
        return None  # a 404 or 405 follows; nothing to protect
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method in UNSAFE_METHODS and not g.get("token_auth"):
        # Browser sessions must prove the form or fetch came from our pages; tokens cannot be
        # sent by a foreign page, so Bearer calls need no CSRF token.
        csrf.protect()
    return None


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    from flask import redirect, url_for

    from flask_babel import gettext

    from app.api.errors import json_error

    if is_api_request():
        return json_error(401, gettext("请先登录"))
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def role_required(*roles: str) -> Callable[[F], F]:
    """Allow only these roles; others get 403 (page or JSON)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def client_address() -> str:
    """The requesting address (Cunbo is served directly by waitress, not behind a proxy)."""
    return request.remote_addr or "unknown"


def is_local_request() -> bool:
    """True when the request comes from this PC itself."""
    return client_address() in {"127.0.0.1", "::1"}
