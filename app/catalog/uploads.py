"""Shared pieces of the catalog's HTTP layer: reading uploads, flags, errors → statuses, photo URLs."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, request, url_for
from werkzeug.datastructures import FileStorage

from catalog.errors import (
    CatalogError,
    DuplicateSku,
    NotAllowed,
    OutOfStock,
    ProductNotFound,
)
from catalog.models import Product
from catalog.photos import MAX_PHOTO_BYTES, photo_too_large
from catalog.spreadsheet import MAX_IMPORT_BYTES, file_too_large

# Domain error → HTTP status (shared/api.md: 404 unseen, 403 may see but not act, 409 conflicts).
STATUS_FOR: dict[type[CatalogError], int] = {
    ProductNotFound: 404,
    NotAllowed: 403,
    DuplicateSku: 409,
    OutOfStock: 409,
}
TRUE_WORDS = {"1", "true", "yes", "on"}


def status_for(exc: CatalogError) -> int:
    """The HTTP status of a catalog error (400 unless listed in :data:`STATUS_FOR`)."""
    return next((status for cls, status in STATUS_FOR.items() if isinstance(exc, cls)), 400)


def flag(name: str) -> bool:
    """A yes/no option given as a form field or a query parameter (``1``, ``true``, ``yes``, ``on``)."""
    value = request.form.get(name) or request.args.get(name) or ""
    return value.strip().lower() in TRUE_WORDS


def read_limited(upload: FileStorage, limit: int, too_big: CatalogError) -> bytes:
    """The bytes of an upload, reading no more than ``limit`` + 1; raises ``too_big`` beyond it."""
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise too_big
    return data


def read_spreadsheet(upload: FileStorage) -> bytes:
    """An uploaded CSV's bytes. Raises :class:`ImportFileRejected` when it is too large."""
    return read_limited(
        upload, MAX_IMPORT_BYTES,
        file_too_large(),
    )


def read_photo(upload: FileStorage) -> bytes:
    """An uploaded photo's bytes. Raises :class:`PhotoRejected` when it is too large."""
    return read_limited(
        upload, MAX_PHOTO_BYTES,
        photo_too_large(),
    )


def data_dir() -> Path:
    """The data dir (photos live under it)."""
    return Path(current_app.config["DATA_DIR"])


def village_zone() -> ZoneInfo:
    """The village's time zone, for promotion windows in CSV files and forms."""
    return ZoneInfo(current_app.config["VILLAGE_TIMEZONE"])


def photo_urls(product: Product) -> list[dict[str, str]]:
    """URLs of every photo of ``product``: full picture, list thumbnail, square card."""
    return [
        {kind: url_for("catalog.photo", stem=photo.stem, kind=kind) for kind in ("full", "thumb", "card")}
        for photo in product.photos
    ]
