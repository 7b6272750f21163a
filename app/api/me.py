"""Who am I: the smallest authenticated API call, used by scripts to test a token."""
from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.api import bp


@bp.get("/me")
def me() -> ResponseReturnValue:
    """The logged-in user's name, role and display name."""
    return jsonify(
        {"username": current_user.username, "role": current_user.role, "display_name": current_user.name}
    )
