"""Contest pages: livestream sales contests, their live board, the projector, results."""
from flask import Blueprint

bp = Blueprint("contests", __name__, url_prefix="/contests")

from app.contests import routes  # noqa: E402,F401
