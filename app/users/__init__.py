"""Managing people: the admin creates accounts and farmer PINs."""
from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/users")

from app.users import routes  # noqa: E402,F401
