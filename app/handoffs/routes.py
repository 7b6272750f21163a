"""Hand-off pages: the coordinator picks orders for a partner; the partner picks up and ships.

The partner sees only its own batches; another partner's batch is "not found" (404).
"""
from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from accounts import services as accounts
from accounts.roles import ADMIN, COORDINATOR, FARMER, MANAGERS, PARTNER
from app.database import get_db
from app.handoffs import bp
from app.home import HomeCard, register_card
from app.i18n import N_, localized, orders_count
from app.inputs import parse_id
from app.orders.common import act_and_return, finish_upload, order_filter_from_request, status_for, template_helpers
from app.security import role_required
from orders import importer, manifest
from orders import services as orders
from orders.errors import OrderError
from orders.models import STATUS_LABELS, Handoff

register_card(HomeCard(
    title=N_("交接给发货方"), hint=N_("选好订单，一次交给帮扶发货方，打印交接单"), endpoint="handoffs.new",
    roles=(COORDINATOR, ADMIN), order=25, count=lambda user: orders.count_waiting_for_handoff(get_db()),
    count_label=N_("单待交接"),
))
register_card(HomeCard(
    title=N_("待取件的交接单"), hint=N_("确认取件，填写快递单号"), endpoint="handoffs.index", roles=(PARTNER,),
    order=10, primary=True, count=lambda user: orders.count_waiting_for_pickup(get_db(), user),
    count_label=N_("个待取件"),
))

HANDOFF_ROLES = (*MANAGERS, PARTNER)

bp.context_processor(template_helpers)


def _load(handoff_id: int) -> Handoff:
    """The batch if this person may see it, else a 404 page."""
    try:
        return orders.get_handoff(get_db(), current_user, handoff_id)
    except OrderError:
        abort(404)


def _act(operation: Callable[[], object], handoff_id: int, done: str) -> ResponseReturnValue:
    return act_and_return(get_db(), operation, done, url_for("handoffs.show", handoff_id=handoff_id))


@bp.get("/")
@role_required(*HANDOFF_ROLES)
def index() -> ResponseReturnValue:
    """Batches: the partner's own (waiting for pick-up first); every batch for the coordinator."""
    return render_template("handoffs/index.html", handoffs=orders.list_handoffs(get_db(), current_user))


@bp.route("/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
def new() -> ResponseReturnValue:
    """Pick new orders (filter by farmer, date, channel) and hand them to one partner."""
    session = get_db()
    status = 200
    if request.method == "POST":
        ids = [i for i in map(parse_id, request.form.getlist("order_ids")) if i is not None]
        try:
            handoff = orders.hand_off(session, actor=current_user, order_ids=ids,
                                      partner=request.form.get("partner", ""), note=request.form.get("note", ""))
        except OrderError as exc:
            session.rollback()
            flash(localized(exc), "error")
            status = status_for(exc)
        else:
            session.commit()
            flash(_("已建交接单 #%(id)s：%(orders)s 交给 %(partner)s", id=handoff.id,
                    orders=orders_count(len(handoff.orders)), partner=handoff.partner.name), "success")
            return redirect(url_for("handoffs.show", handoff_id=handoff.id))
    filters, args = order_filter_from_request()
    waiting = orders.list_orders(session, current_user, orders.OrderFilter(
        status="new", unbatched=True, farmer=filters.farmer, channel=filters.channel,
        since=filters.since, before=filters.before))
    return render_template(
        "handoffs/new.html", orders=waiting, args=args, partners=orders.partners(session),
        farmers=accounts.users_by_role(session, FARMER), chosen=set(request.form.getlist("order_ids")),
    ), status


@bp.get("/<int:handoff_id>")
@role_required(*HANDOFF_ROLES)
def show(handoff_id: int) -> ResponseReturnValue:
    """One batch: its orders, pick-up, tracking numbers, and the manifest in three forms."""
    handoff = _load(handoff_id)
    return _show_page(handoff)


def _show_page(handoff: Handoff, status: int = 200, **extra: object) -> ResponseReturnValue:
    values: dict[str, object] = {"typed": {}, "ship_error": None, **extra}
    return render_template("handoffs/show.html", handoff=handoff, is_partner=current_user.id == handoff.partner_id,
                           pickups=manifest.pickup_points(handoff), **values), status


@bp.get("/<int:handoff_id>/manifest")
@role_required(*HANDOFF_ROLES)
def manifest_page(handoff_id: int) -> ResponseReturnValue:
    """The manifest as a page to print, with the package count and signature lines."""
    handoff = _load(handoff_id)
    lines = manifest.manifest_lines(handoff)
    return render_template("handoffs/manifest.html", handoff=handoff, lines=lines,
                           packages=sum(line.packages for line in lines))


@bp.post("/<int:handoff_id>/ack")
@role_required(PARTNER)
def ack(handoff_id: int) -> ResponseReturnValue:
    """The partner confirms it picked the batch up."""
    return _act(lambda: orders.ack_handoff(get_db(), actor=current_user, handoff_id=handoff_id),
                handoff_id, _("已确认取件"))


@bp.post("/<int:handoff_id>/orders/<int:order_id>/shipment")
@role_required(PARTNER)
def shipment(handoff_id: int, order_id: int) -> ResponseReturnValue:
    """One order's carrier and tracking number.

    The page saves it in place (fetch, answered with JSON); without JavaScript the browser comes
    back to the same row. A refused number keeps what was typed and marks the field at fault.
    """
    handoff = _load(handoff_id)
    if order_id not in {o.id for o in handoff.orders}:
        abort(404)
    session = get_db()
    typed = {"carrier": request.form.get("carrier", ""), "tracking_no": request.form.get("tracking_no", "")}
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        order = orders.add_shipment(session, actor=current_user, order_id=order_id, **typed)
    except OrderError as exc:
        session.rollback()
        status = status_for(exc)
        if status in (403, 404):
            abort(status)
        field = exc.field if exc.field in typed else None
        if wants_json:
            return jsonify({"error": localized(exc), "field": field}), status
        session.refresh(handoff)
        return _show_page(handoff, status, typed={order_id: typed},
                          ship_error={"order_id": order_id, "field": field, "message": localized(exc)})
    session.commit()
    done = _("订单 #%(id)s 已发货", id=order_id)
    if wants_json:
        return jsonify({"message": done, "carrier": order.carrier, "tracking_no": order.tracking_no,
                        "status": order.status, "status_label": _(STATUS_LABELS[order.status])})
    flash(done, "success")
    return redirect(url_for("handoffs.show", handoff_id=handoff_id) + f"#order-{order_id}")


@bp.post("/<int:handoff_id>/tracking")
@role_required(PARTNER)
def tracking(handoff_id: int) -> ResponseReturnValue:
    """Tracking numbers by CSV (the manifest CSV with 快递公司 and 运单号 filled in)."""
    session = get_db()
    handoff = _load(handoff_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("请选择要上传的表格文件"), "error")
        return redirect(url_for("handoffs.show", handoff_id=handoff_id))
    try:
        report = importer.import_tracking_numbers(session, actor=current_user, handoff_id=handoff_id,
                                                  data=upload.read())
    except OrderError as exc:
        session.rollback()
        flash(localized(exc), "error")
        return redirect(url_for("handoffs.show", handoff_id=handoff_id))
    partial = request.form.get("partial") == "y"
    status = finish_upload(session, report, dry_run=False, partial=partial)
    session.refresh(handoff)
    return _show_page(handoff, status, report=report, written=status == 200)
