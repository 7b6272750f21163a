"""The home page per role, /healthz and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import text

from accounts.roles import ROLE_LABELS
from app.database import get_db
from app.home import cards_for, panels_for
from app.i18n import LANG_COOKIE
from app.main import bp


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness and database reachability; no login needed."""
    get_db().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.get("/")
def home() -> ResponseReturnValue:
    """What this person does next, as big buttons for their role."""
    endpoints = set(current_app.view_functions)
    cards = []
    for card in cards_for(current_user, endpoints):
        count = card.count(current_user) if card.count else None
        cards.append((card, count))
    return render_template(
        "main/home.html", cards=cards, panels=panels_for(current_user),
        role_label=_(ROLE_LABELS[current_user.role])
    )


@bp.get("/lang/<code>")
def set_language(code: str) -> ResponseReturnValue:
    """Switch between 中文 and English; remembered for a year in a cookie."""
    target = request.referrer or url_for("main.home")
    parts = urlsplit(target)
    if parts.netloc and parts.netloc != request.host:
        target = url_for("main.home")
    response = make_response(redirect(target))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
