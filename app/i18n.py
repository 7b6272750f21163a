"""Chinese first, English on request: Flask-Babel with the locale kept in a cookie."""
from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale, gettext

from app.config import BASE_DIR

LANG_COOKIE = "cunbo_lang"
babel = Babel()


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where it is shown."""
    return message


def localized(exc: Exception) -> str:
    """A domain error's message in the person's language: its ``msgid`` translated, then filled
    with its ``params``; errors without a msgid are shown as they are."""
    msgid = getattr(exc, "msgid", None)
    if not msgid:
        return str(exc)
    return gettext(msgid, **getattr(exc, "params", {}))


def select_locale() -> str:
    """The language the person chose (cookie), else Chinese."""
    wanted = request.cookies.get(LANG_COOKIE, "")
    languages = current_app.config["LANGUAGES"]
    return wanted if wanted in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    """Attach Flask-Babel; translations live in app/translations."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(BASE_DIR / "app" / "translations"))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: app.config["VILLAGE_TIMEZONE"])
    app.jinja_env.globals["get_locale"] = get_locale
