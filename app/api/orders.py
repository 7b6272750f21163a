"""Orders in the JSON API (shared/api.md).

A duplicate platform order number (same ``channel`` and ``platform_order_no``) is one order: the
second POST answers **409** ``{"error": "...", "id": <the existing order's id>}`` and changes nothing,
so a script that retries after a timeout can read the id from the 409.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import Field

from app.api import bp
from app.api.errors import ApiError, error_code, load_body
from app.database import get_db
from app.inputs import Body, Id, Int, parse_id
from app.i18n import localized, note_text, translated
from app.orders.common import finish_upload, flag, status_for
from app.security import signed_in_user
from orders import importer
from orders import services as orders
from orders.errors import DuplicateOrder, OrderError, OrderFrozen


@contextmanager
def order_errors() -> Iterator[None]:
    """Turn a domain error into a JSON error with its status; the session is rolled back."""
    try:
        yield
    except OrderError as exc:
        get_db().rollback()
        extra: dict[str, int | str] = {"code": error_code(exc)}
        if isinstance(exc, DuplicateOrder):
            extra["id"] = exc.existing_id
        if isinstance(exc, OrderFrozen):
            extra["handoff_id"] = exc.handoff_id
        if exc.field:
            extra["field"] = exc.field  # so that a form marks the field the message is about
        raise ApiError(status_for(exc), localized(exc), **extra) from exc


class NewOrder(Body):
    """The body of POST /api/orders. Buyer name, phone and address are optional (one of phone and
    name is needed): a phone order during a live is completed later by the coordinator."""

    product_id: Id
    quantity: Int
    buyer_name: str = Field("", max_length=40)
    buyer_phone: str = Field("", max_length=40)
    address: str = Field("", max_length=200)
    channel: str
    platform_order_no: str | None = Field(default=None, max_length=64)
    session_id: Id | None = None
    packages: Int = 1


class OrderChange(Body):
    """The body of PATCH /api/orders/<id>: any of these."""

    buyer_name: str | None = None
    buyer_phone: str | None = None
    address: str | None = None
    quantity: Int | None = None
    packages: Int | None = None


class Shipment(Body):
    """The body of POST /api/orders/<id>/shipment."""

    carrier: str
    tracking_no: str


@bp.post("/orders")
def create_order() -> ResponseReturnValue:
    """Log an order → 201 the order (``id``, ``status``, ``total_fen``, …).

    409 ``库存不足 …`` when stock is short; 409 with ``id`` of the existing order for a duplicate
    platform order number; 404 for a product the caller may not sell; 403 for partners and trainers.
    """
    body = load_body(NewOrder)
    session = get_db()
    with order_errors():
        order = orders.log_order(session, actor=signed_in_user(), complete_later=True, **body.model_dump())
    session.commit()
    return jsonify(order), 201


@bp.get("/orders")
def list_orders() -> ResponseReturnValue:
    """The orders the caller may see, newest first; ``?status=&session_id=&farmer=&channel=&handoff_id=``."""
    args = request.args
    ids = {name: parse_id(args.get(name)) if args.get(name) else None for name in ("session_id", "handoff_id")}
    if any(args.get(name) and ids[name] is None for name in ids):
        raise ApiError(400, _("session_id 和 handoff_id 要是整数"))
    filters = orders.OrderFilter(
        status=args.get("status") or None,
        channel=args.get("channel") or None,
        farmer=args.get("farmer") or None,
        session_id=ids["session_id"],
        handoff_id=ids["handoff_id"],
    )
    with order_errors():
        found = orders.list_orders(get_db(), current_user, filters)
    return jsonify([orders.order_to_dict(o) for o in found])


@bp.get("/orders/<int:order_id>")
def show_order(order_id: int) -> ResponseReturnValue:
    """One order with its audit trail (``events``: from, to, who, when, and the note in the
    reader's language with, for a note the system wrote, its ``note_code`` and ``note_args``)."""
    with order_errors():
        order = orders.get_order(get_db(), current_user, order_id)
    data = orders.order_to_dict(order)
    data["events"] = [
        {"from": e.from_status, "to": e.to_status, "by": e.actor.username, "at": e.at.isoformat(),
         "note": note_text(e.note, e.note_code, e.note_args), "note_code": e.note_code, "note_args": e.note_args}
        for e in order.events
    ]
    return jsonify(data)


@bp.patch("/orders/<int:order_id>")
def change_order(order_id: int) -> ResponseReturnValue:
    """Correct buyer, phone, address, quantity or parcels of a new order; 409 once handed off."""
    body = load_body(OrderChange)
    session = get_db()
    with order_errors():
        order = orders.update_order(session, actor=current_user, order_id=order_id, **body.model_dump())
    session.commit()
    return jsonify(orders.order_to_dict(order))


@bp.post("/orders/<int:order_id>/cancel")
def cancel_order(order_id: int) -> ResponseReturnValue:
    """Cancel a new order and give its stock back → the order; 409 naming the batch once handed off."""
    session = get_db()
    with order_errors():
        order = orders.cancel_order(session, actor=current_user, order_id=order_id)
    session.commit()
    return jsonify(orders.order_to_dict(order))


@bp.post("/orders/<int:order_id>/shipment")
def add_shipment(order_id: int) -> ResponseReturnValue:
    """The partner adds ``carrier`` and ``tracking_no`` → the order; 409 before pick-up is confirmed."""
    body = load_body(Shipment)
    session = get_db()
    with order_errors():
        order = orders.add_shipment(session, actor=current_user, order_id=order_id, **body.model_dump())
    session.commit()
    return jsonify(orders.order_to_dict(order))


@bp.post("/orders/<int:order_id>/delivered")
def mark_delivered(order_id: int) -> ResponseReturnValue:
    """The buyer signed for it → the order; 409 unless shipped."""
    session = get_db()
    with order_errors():
        order = orders.mark_delivered(session, actor=current_user, order_id=order_id)
    session.commit()
    return jsonify(orders.order_to_dict(order))


@bp.post("/orders/import")
def import_orders() -> ResponseReturnValue:
    """Multipart ``file`` (a seller-centre CSV export) and ``channel``; ``dry_run``/``partial`` flags.

    → ``{"created", "updated", "unchanged", "errors": [{"row", "error"}], "rows": [...]}``; with any
    error nothing is written unless ``partial=1`` (then 200), else 400.
    """
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, _("请选择要导入的表格文件"), field="file")
    session = get_db()
    with order_errors():
        report = importer.import_platform_orders(
            session, actor=current_user, channel=request.form.get("channel", request.args.get("channel", "")),
            data=upload.read(),
        )
    status = finish_upload(session, report, dry_run=flag("dry_run"), partial=flag("partial"))
    return jsonify(report.to_dict(translated)), status
