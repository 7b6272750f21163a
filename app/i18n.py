"""Chinese first, English on request: Flask-Babel with the locale kept in a cookie."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale, gettext, ngettext

from app.config import BASE_DIR
from db import N_
from db.notes import CHANGE, NOTES, ORDER_FIELDS

__all__ = ["N_", "cli_locale", "init_app", "localized", "note_text", "select_locale", "translated"]  # N_: the domain packages' marker

LANG_COOKIE = "cunbo_lang"
babel = Babel()


def translated(msgid: str, params: Mapping[str, Any] | None = None) -> str:
    """A message id in the person's language, filled with ``params``. Text values are msgids too
    where they are labels (an order status, 观看数); anything else (a name, a number) has no entry
    and stays as it is (see :func:`_value`)."""
    return gettext(msgid, **{k: _value(v) for k, v in (params or {}).items()})


def _value(value: Any) -> Any:
    """One message value in the person's language: a label translated, another error (a cell's
    reason inside a row's) localized, a list of labels joined with the language's separator."""
    if isinstance(value, str):
        return gettext(value) if value else value
    if isinstance(value, (list, tuple)):
        return gettext("、").join(str(_value(v)) for v in value)
    if getattr(value, "msgid", None):
        return localized(value)
    return value


def localized(exc: Exception) -> str:
    """A domain error's message in the person's language: its ``msgid`` translated, then filled
    with its ``params``; errors without a msgid are shown as they are."""
    msgid = getattr(exc, "msgid", None)
    if not msgid:
        return str(exc)
    return translated(msgid, getattr(exc, "params", {}))


def note_text(text: str | None, code: str | None = None, args: Mapping[str, Any] | None = None) -> str:
    """A history note in the person's language: a system's (``code`` and ``args``, see
    :mod:`db.notes`) rendered, a person's ``text`` as typed."""
    if not code or code not in NOTES:
        return text or ""
    params = dict(args or {})
    if code == "order_changed":
        params["changes"] = gettext("；").join(
            gettext(CHANGE, field=gettext(ORDER_FIELDS.get(c.get("field", ""), c.get("field", ""))),
                    old=c.get("old", ""), new=c.get("new", ""))
            for c in params.get("changes") or [] if isinstance(c, Mapping)
        )
    # Values are names and numbers a person or the system gave, not message ids: never translated.
    message = gettext(NOTES[code])
    try:
        return message % params if "%(" in NOTES[code] else message
    except (KeyError, TypeError, ValueError):  # a row whose values do not fit its message
        return text or ""


def cli_locale() -> str:
    """The command line's language: ``CUNBO_LANG`` (``en`` or ``zh_CN``), else Chinese."""
    wanted = os.environ.get("CUNBO_LANG", "").replace("-", "_")
    languages = current_app.config["LANGUAGES"]
    return wanted if wanted in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def select_locale() -> str:
    """The language the person chose (cookie), else Chinese; outside a request (the command
    line) the one ``CUNBO_LANG`` names (``LANGUAGE`` in the config), else Chinese."""
    if not has_request_context():
        return cli_locale()
    wanted = request.cookies.get(LANG_COOKIE, "")
    languages = current_app.config["LANGUAGES"]
    return wanted if wanted in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def orders_count(n: int) -> str:
    """"3 单" / "1 order", "3 orders": one phrase for a count of orders on every page."""
    return ngettext("%(n)s 单", "%(n)s 单", n, n=n)


def parcels_count(n: int) -> str:
    """"3 件包裹" / "1 parcel", "3 parcels"."""
    return ngettext("%(n)s 件包裹", "%(n)s 件包裹", n, n=n)


def init_app(app: Flask) -> None:
    """Attach Flask-Babel; translations live in app/translations."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(BASE_DIR / "app" / "translations"))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: app.config["VILLAGE_TIMEZONE"])
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["translated"] = translated
    app.jinja_env.globals["note_text"] = note_text
    app.jinja_env.globals["orders_count"] = orders_count
    app.jinja_env.globals["parcels_count"] = parcels_count
