"""File downloads (CSV and PDF exports): one place sets their headers."""
from __future__ import annotations

from flask import Response

# Werkzeug adds "; charset=utf-8" to text types itself: naming it here too sent it twice.
MIMETYPES = {"csv": "text/csv", "pdf": "application/pdf"}


def file_download(content: bytes, filename: str) -> Response:
    """``content`` as an attachment named ``filename`` (its extension picks the type).

    Exports carry buyers' phones and addresses, so no cache keeps a copy.
    """
    kind = filename.rsplit(".", 1)[-1]
    response = Response(content, mimetype=MIMETYPES[kind])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
