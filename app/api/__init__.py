"""The JSON API under /api (shared/api.md). Each area adds its routes to ``bp`` in its own module."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

# Route modules register on ``bp`` when imported.
from app.api import me  # noqa: E402,F401
from app.api import products  # noqa: E402,F401
from app.api import orders  # noqa: E402,F401
from app.api import handoffs  # noqa: E402,F401
from app.api import live  # noqa: E402,F401
from app.api import contests  # noqa: E402,F401
from app.api import broadcasts  # noqa: E402,F401
from app.api import sessions  # noqa: E402,F401
from app.api import openapi  # noqa: E402,F401
