"""Catalog pages: the list, product forms, photos, bulk stock and the spreadsheet import."""
from flask import Blueprint

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

from app.catalog import routes  # noqa: E402,F401
