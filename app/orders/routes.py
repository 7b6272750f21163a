"""Order pages. Each view parses, calls one operation from ``orders``, and renders or redirects."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from accounts import services as accounts
from accounts.roles import ADMIN, COORDINATOR, FARMER, MANAGERS
from app.database import get_db
from app.downloads import file_download
from app.home import HomeCard, register_card
from app.i18n import N_, localized
from app.inputs import parse_id
from app.orders import bp
from app.orders.common import (
    act_and_return,
    day_bounds,
    finish_upload,
    order_filter_from_request,
    parse_day,
    status_for,
    template_helpers,
    village_zone,
)
from app.orders.forms import EditOrderForm, ImportForm, OrderForm
from app.security import role_required
from catalog.money import format_yuan
from db import utcnow
from orders import earnings, importer
from orders import services as orders
from orders.errors import DuplicateOrder, OrderError
from orders.models import CHANNEL_LABELS

register_card(HomeCard(title=N_("订单"), hint=N_("登记、查找和导入订单，看农户收入"), endpoint="orders.index",
                       roles=(COORDINATOR, ADMIN), order=20))
register_card(HomeCard(title=N_("我的订单"), hint=N_("登记新订单，看订单到哪一步了"), endpoint="orders.index",
                       roles=(FARMER,), order=20))

LIST_LIMIT = 500
ORDER_ROLES = (*MANAGERS, FARMER)

bp.context_processor(template_helpers)


def _refuse(exc: OrderError) -> None:
    """A page for what the person may not see (404) or do (403); other errors are flashed."""
    status = status_for(exc)
    if status in (403, 404):
        abort(status)


def _channel_choices() -> list[SelectChoice]:
    return [SelectChoice(code, _(label)) for code, label in CHANNEL_LABELS.items()]


@bp.get("/")
@role_required(*ORDER_ROLES)
def index() -> ResponseReturnValue:
    """Orders newest first, filtered by farmer, date, channel and status."""
    filters, args = order_filter_from_request()
    found = orders.list_orders(get_db(), current_user, filters, limit=LIST_LIMIT + 1)
    farmers = accounts.users_by_role(get_db(), FARMER) if current_user.role in MANAGERS else []
    return render_template("orders/index.html", orders=found[:LIST_LIMIT], more=len(found) > LIST_LIMIT,
                           args=args, farmers=farmers, limit=LIST_LIMIT)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*ORDER_ROLES)
def new() -> ResponseReturnValue:
    """Log an order: product, quantity, buyer, phone, address, channel."""
    session = get_db()
    form = OrderForm()
    products = orders.visible_products(session, current_user)
    now = utcnow()  # the price in force, as the video and the saved order have it (issue 16, finding 5)
    form.product_id.choices = [SelectChoice(p.id, f"{p.name}{_('（')}{format_yuan(p.price_at(now))}/{p.unit} · "
                                                  + (f"{_('库存')} {p.stock}" if p.stock > 0 else _("已售罄")) + _("）"))
                               for p in products]
    form.channel.choices = _channel_choices()
    if request.method == "GET" and parse_id(request.args.get("product")) is not None:
        form.product_id.data = parse_id(request.args.get("product"))
    status = 200
    if form.validate_on_submit():
        try:
            order = orders.log_order(
                session, actor=current_user, product_id=form.product_id.data, quantity=form.quantity.data,
                buyer_name=form.buyer_name.data, buyer_phone=form.buyer_phone.data, address=form.address.data,
                channel=form.channel.data, platform_order_no=form.platform_order_no.data or None,
                packages=form.packages.data or 1,
            )
        except DuplicateOrder as exc:
            session.rollback()
            flash(localized(exc), "error")
            return redirect(url_for("orders.show", order_id=exc.existing_id))
        except OrderError as exc:
            session.rollback()
            _refuse(exc)
            flash(localized(exc), "error")
            status = status_for(exc)
        else:
            session.commit()
            flash(_("已登记订单 #%(id)s，合计 %(total)s", id=order["id"], total=format_yuan(order["total_fen"])),
                  "success")
            return redirect(url_for("orders.show", order_id=order["id"]))
    elif form.is_submitted():
        status = 400
    return render_template("orders/new.html", form=form, has_products=bool(products)), status


@bp.get("/<int:order_id>")
@role_required(*ORDER_ROLES)
def show(order_id: int) -> ResponseReturnValue:
    """One order with its audit trail, and what may still be done to it."""
    try:
        order = orders.get_order(get_db(), current_user, order_id)
    except OrderError as exc:
        _refuse(exc)
        raise
    form = EditOrderForm(obj=order)
    return render_template("orders/show.html", order=order, form=form)


@bp.post("/<int:order_id>/edit")
@role_required(*ORDER_ROLES)
def edit(order_id: int) -> ResponseReturnValue:
    """Correct a new order; refused (with the batch named) once handed off."""
    session = get_db()
    form = EditOrderForm()
    if not form.validate():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "error")
        return redirect(url_for("orders.show", order_id=order_id))
    return _act(lambda: orders.update_order(
        session, actor=current_user, order_id=order_id, quantity=form.quantity.data,
        buyer_name=form.buyer_name.data, buyer_phone=form.buyer_phone.data, address=form.address.data,
        packages=form.packages.data,
    ), order_id, _("已保存修改"))


@bp.post("/<int:order_id>/cancel")
@role_required(*ORDER_ROLES)
def cancel(order_id: int) -> ResponseReturnValue:
    """Cancel and give the stock back; refused (with the batch named) once handed off."""
    return _act(lambda: orders.cancel_order(get_db(), actor=current_user, order_id=order_id),
                order_id, _("订单已取消，库存已退回"))


@bp.post("/<int:order_id>/delivered")
@role_required(*MANAGERS)
def delivered(order_id: int) -> ResponseReturnValue:
    """The buyer signed for it."""
    return _act(lambda: orders.mark_delivered(get_db(), actor=current_user, order_id=order_id),
                order_id, _("已标记为签收"))


def _act(operation: Callable[[], object], order_id: int, done: str) -> ResponseReturnValue:
    return act_and_return(get_db(), operation, done, url_for("orders.show", order_id=order_id))


@bp.route("/import", methods=["GET", "POST"])
@role_required(*ORDER_ROLES)
def import_csv() -> ResponseReturnValue:
    """Upload a seller-centre export; every row is reported with its Excel row number."""
    session = get_db()
    form = ImportForm()
    form.channel.choices = _channel_choices()
    report, status, written = None, 200, False
    if form.validate_on_submit():
        try:
            report = importer.import_platform_orders(
                session, actor=current_user, channel=form.channel.data, data=form.file.data.read())
        except OrderError as exc:
            session.rollback()
            _refuse(exc)
            flash(localized(exc), "error")
            status = 400
        else:
            status = finish_upload(session, report, dry_run=form.dry_run.data, partial=form.partial.data)
            written = not form.dry_run.data and status == 200
    elif form.is_submitted():
        status = 400
    return render_template("orders/import.html", form=form, report=report, written=written), status


def _earnings_period() -> tuple[date, date]:
    today = datetime.now(village_zone()).date()
    first = parse_day(request.args.get("from")) or today.replace(day=1)
    last = parse_day(request.args.get("to")) or today
    return first, last


def _earnings(first: date, last: date) -> list[earnings.FarmerEarnings]:
    since, before = day_bounds(first, last)
    farmer = request.args.get("farmer", "").strip()
    farmer_id = None
    if farmer and current_user.role in MANAGERS:
        found = accounts.find_user(get_db(), farmer)
        farmer_id = found.id if found else -1
    return earnings.farmer_earnings(get_db(), actor=current_user, since=since, before=before, farmer_id=farmer_id)


@bp.get("/earnings")
@role_required(*ORDER_ROLES)
def earnings_page() -> ResponseReturnValue:
    """Per farmer and period: orders, quantity, sales, handed off, shipped, delivered."""
    first, last = _earnings_period()
    farmers = accounts.users_by_role(get_db(), FARMER) if current_user.role in MANAGERS else []
    return render_template("orders/earnings.html", rows=_earnings(first, last), first=first, last=last,
                           farmers=farmers, farmer=request.args.get("farmer", ""))


@bp.get("/earnings.csv")
@role_required(*ORDER_ROLES)
def earnings_csv() -> ResponseReturnValue:
    """The same figures as a CSV Excel opens."""
    first, last = _earnings_period()
    return file_download(earnings.earnings_csv(_earnings(first, last)), f"earnings-{first}-{last}.csv")
