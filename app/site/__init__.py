"""This PC's own settings (kept in the data dir, not the database: a county's stations may share
one database but each PC decides for itself), starting with LAN access for helpers' phones."""
from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from flask_babel import gettext

from app.api.errors import json_error
from app.security import client_address, is_local_request

bp = Blueprint("site", __name__, url_prefix="/settings")

SETTINGS_FILE = "settings.json"
DEFAULTS: dict[str, Any] = {"lan_access": False}
ALWAYS_REACHABLE = frozenset({"main.healthz", "static"})


def _path() -> Path:
    return Path(current_app.config["DATA_DIR"]) / SETTINGS_FILE


def load() -> dict[str, Any]:
    """This PC's settings, with defaults for anything not saved yet."""
    try:
        saved = json.loads(_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        saved = {}
    return {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS}}


def save(**changes: Any) -> dict[str, Any]:
    """Save changed settings atomically (a crash never leaves half a file)."""
    settings = {**load(), **changes}
    path = _path()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(settings, fh, ensure_ascii=False)
    os.replace(tmp, path)
    return settings


def lan_addresses() -> list[str]:
    """This PC's IPv4 addresses other than loopback, for a helper to type into a phone."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos if not str(info[4][0]).startswith("127.")})


def _lan_guard() -> Any:
    """Refuse requests from other devices unless the admin has turned LAN access on."""
    if is_local_request() or request.endpoint in ALWAYS_REACHABLE or load()["lan_access"]:
        return None
    current_app.logger.info("refused a LAN request from %s: LAN access is off", client_address())
    if request.path.startswith("/api/"):
        return json_error(403, gettext("这台电脑没有开启局域网访问"))
    return render_template("site/lan_off.html"), 403


def init_app(app: Flask) -> None:
    """Install the LAN guard before every other check."""
    app.before_request_funcs.setdefault(None, []).insert(0, _lan_guard)


from app.site import routes  # noqa: E402,F401
