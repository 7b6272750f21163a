"""Hand-off batches in the JSON API: create, list, manifests, pick-up, tracking numbers by CSV.

The aid partner sees only its own batches: another partner's batch answers 404, as for any role
that may not see batches at all.
"""
from __future__ import annotations

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import Field

from app.api import bp
from app.api.errors import ApiError, load_body
from app.api.orders import order_errors
from app.downloads import file_download
from app.i18n import translated
from app.inputs import Body, Id
from app.database import get_db
from app.orders.common import finish_upload, flag, village_zone
from orders import importer, manifest
from orders import services as orders


class NewHandoff(Body):
    """The body of POST /api/handoffs."""

    order_ids: list[Id] = Field(min_length=1, max_length=10_000)
    partner: str
    note: str = Field(default="", max_length=500)


@bp.post("/handoffs")
def create_handoff() -> ResponseReturnValue:
    """Hand new orders to a partner (user name) → 201 ``{"id", "orders": n, ...}``.

    409 naming the batch for an order already handed off, 409 for a cancelled one; nothing is
    written then.
    """
    body = load_body(NewHandoff)
    session = get_db()
    with order_errors():
        handoff = orders.hand_off(session, actor=current_user, **body.model_dump())
    session.commit()
    return jsonify(orders.handoff_to_dict(handoff)), 201


@bp.get("/handoffs")
def list_handoffs() -> ResponseReturnValue:
    """The caller's batches (the partner's own; every batch for coordinators and admins)."""
    with order_errors():
        found = orders.list_handoffs(get_db(), current_user)
    return jsonify([orders.handoff_to_dict(h) for h in found])


@bp.get("/handoffs/<int:handoff_id>")
def show_handoff(handoff_id: int) -> ResponseReturnValue:
    """One batch with its orders (``order_list``)."""
    with order_errors():
        handoff = orders.get_handoff(get_db(), current_user, handoff_id)
    return jsonify(orders.handoff_to_dict(handoff, with_orders=True))


def manifest_download(handoff_id: int, kind: str) -> Response:
    """The manifest of a batch the caller may see, as a file download (``csv`` or ``pdf``)."""
    with order_errors():
        handoff = orders.get_handoff(get_db(), current_user, handoff_id)
        if kind == "pdf":
            content = manifest.manifest_pdf(handoff, zone=village_zone())
        else:
            content = manifest.manifest_csv(handoff)
    return file_download(content, f"handoff-{handoff.id}.{kind}")


@bp.get("/handoffs/<int:handoff_id>/manifest.csv")
def manifest_csv(handoff_id: int) -> ResponseReturnValue:
    """The manifest as CSV (UTF-8 with BOM); the partner may fill 快递公司/运单号 and upload it back."""
    return manifest_download(handoff_id, "csv")


@bp.get("/handoffs/<int:handoff_id>/manifest.pdf")
def manifest_pdf(handoff_id: int) -> ResponseReturnValue:
    """The printable manifest as PDF with Chinese text and signature lines."""
    return manifest_download(handoff_id, "pdf")


@bp.post("/handoffs/<int:handoff_id>/ack")
def ack_handoff(handoff_id: int) -> ResponseReturnValue:
    """The partner confirms pick-up (who, when) → the batch. Again changes nothing; others 403/404."""
    session = get_db()
    with order_errors():
        handoff = orders.ack_handoff(session, actor=current_user, handoff_id=handoff_id)
    session.commit()
    return jsonify(orders.handoff_to_dict(handoff))


@bp.post("/handoffs/<int:handoff_id>/tracking")
def upload_tracking(handoff_id: int) -> ResponseReturnValue:
    """Multipart ``file``: CSV with 订单号, 快递公司, 运单号; the manifest CSV, filled in, works.

    → the row report like other imports; ``dry_run``/``partial`` as for them.
    """
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, _("请选择要上传的表格文件"), field="file")
    session = get_db()
    with order_errors():
        report = importer.import_tracking_numbers(session, actor=current_user, handoff_id=handoff_id,
                                                  data=upload.read())
    status = finish_upload(session, report, dry_run=flag("dry_run"), partial=flag("partial"))
    return jsonify(report.to_dict(translated)), status
