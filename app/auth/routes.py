"""Login pages: password for everyone, a PIN for farmers on the village PC."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice

from accounts import services as accounts
from accounts.models import LoginFailure, User
from accounts.roles import FARMER
from app.auth import bp
from app.auth.forms import LoginForm, PinForm
from app.database import get_db
from app.security import client_address, csrf, is_local_request, signed_in_user


def _safe_next() -> str:
    """Where to go after login: only a path on this site, never another host."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return url_for("main.home")


def _pin_allowed() -> bool:
    return is_local_request() or not current_app.config["PIN_LOGIN_LOCAL_ONLY"]


def _attempt(username: str, authenticate: Callable[[Session, LoginFailure], User], refused: str) -> int | None:
    """Try a login; None when it worked (the person is logged in), else the status to answer.

    The attempt is committed before the secret is checked, and failures stay committed: they are
    what the throttle counts (accounts.services.start_attempt).
    """
    session = get_db()
    attempt = accounts.start_attempt(session, username, client_address())
    session.commit()
    try:
        user = authenticate(session, attempt)
    except accounts.TooManyAttempts as exc:
        session.commit()
        flash(ngettext("尝试次数过多，请 %(minutes)d 分钟后再试。", "尝试次数过多，请 %(minutes)d 分钟后再试。", exc.minutes,
                      minutes=exc.minutes), "error")
        return 429
    except accounts.LoginRefused:
        session.commit()
        flash(refused, "error")
        return 401
    session.commit()
    login_user(user)
    return None


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Password login."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if request.method == "POST":
        csrf.protect()
        if form.validate():
            failed = _attempt(form.username.data, lambda session, attempt: accounts.authenticate(
                session, form.username.data, form.password.data, client_address(), attempt),
                refused=_("用户名或密码不对，请再试一次。"))
            if failed is None:
                return redirect(_safe_next())
            status = failed
        else:
            status = 400
    return render_template("auth/login.html", form=form, pin_allowed=_pin_allowed()), status


@bp.route("/pin", methods=["GET", "POST"])
def pin_login() -> ResponseReturnValue:
    """PIN login for farmers, offered only on the village PC itself (unless the admin allows the LAN)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    if not _pin_allowed():
        flash(_("PIN 登录只能在村里的电脑上使用，请用密码登录。"), "error")
        return redirect(url_for("auth.login"))
    session = get_db()
    farmers = [u for u in accounts.users_by_role(session, FARMER) if u.pin_hash]
    form = PinForm()
    form.username.choices = [SelectChoice(u.username, u.name) for u in farmers]
    status = 200
    if request.method == "POST":
        csrf.protect()
        if form.validate():
            failed = _attempt(form.username.data, lambda session, attempt: accounts.authenticate_pin(
                session, form.username.data, form.pin.data, client_address(), attempt),
                refused=_("PIN 码不对，请再试一次。"))
            if failed is None:
                return redirect(url_for("main.home"))
            status = failed
        else:
            status = 400
    return render_template("auth/pin.html", form=form, farmers=farmers), status


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """Log out (POST, so that a link on another page cannot log a person out). Every session
    cookie of this user, on any device, stops working (a copied cookie cannot be replayed)."""
    session = get_db()
    accounts.end_sessions(session, signed_in_user())
    session.commit()
    logout_user()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.login"))
