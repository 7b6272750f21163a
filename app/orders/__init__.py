"""Order pages: the list with filters, a new order, one order's trail, platform CSV import, earnings."""
from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from app.orders import routes  # noqa: E402,F401
