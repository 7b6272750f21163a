"""Hand-off pages: batches of orders for the aid partner, manifests, pick-up and tracking numbers."""
from flask import Blueprint

bp = Blueprint("handoffs", __name__, url_prefix="/handoffs")

from app.handoffs import routes  # noqa: E402,F401
