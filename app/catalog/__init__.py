"""Catalog pages: the list, product forms, photos, bulk stock and the spreadsheet import."""
import logging

from flask import Blueprint, Flask

bp = Blueprint("catalog", __name__, url_prefix="/catalog")
log = logging.getLogger(__name__)


def sweep_photo_files(app: Flask) -> int:
    """Delete photo files left by uploads that were rolled back (the server runs it at start)."""
    from app.database import session_factory
    from catalog import photos

    with app.app_context(), session_factory()() as session:
        removed = photos.remove_orphans(session, app.config["DATA_DIR"])
    if removed:
        log.info("removed the files of %d photos no product refers to", removed)
    return removed

from app.catalog import routes  # noqa: E402,F401
