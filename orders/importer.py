"""Uploaded spreadsheets: orders from a platform's seller centre, tracking numbers from the partner.

Orders exported from a seller centre (淘宝, 抖音, 快手, 视频号) as CSV:

Each row is one order of one item: order number, item name or SKU (商家编码), quantity, receiver,
phone and address. Importing the same file twice changes nothing: a row whose channel and order
number are already logged counts as ``unchanged``. Every row is reported with its Excel row number.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.roles import FARMER, MANAGERS
from catalog.models import Product
from db import N_
from orders import services
from orders.csvfiles import RowReport, RowResult, read_rows
from orders.errors import DuplicateOrder, NotAllowed, NotFound, OrderError
from orders.models import CHANNEL_LABELS

# Header names seller centres use, most specific first (a sub-order number names one item line).
PLATFORM_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_no": ("订单号", "子订单编号", "订单编号", "主订单编号", "平台订单号", "订单ID", "order_no", "order number"),
    "sku": ("商家编码", "SKU", "商品编码", "商家SKU", "SKU编码", "外部编码", "货号", "sku_code"),
    "item": ("商品", "商品名称", "宝贝标题", "商品标题", "选购商品", "item", "product"),
    "quantity": ("数量", "购买数量", "商品数量", "宝贝总数量", "quantity", "qty"),
    "receiver": ("收货人", "收货人姓名", "收件人", "收件人姓名", "receiver", "buyer_name"),
    "phone": ("手机", "联系手机", "收货人手机", "收件人手机号", "收件人手机", "收件人电话", "手机号", "电话", "phone"),
    "address": ("收货地址", "地址", "详细地址", "收件地址", "收货人地址", "address"),
}
REQUIRED = ("order_no", "quantity", "receiver", "phone", "address")

# The partner fills the last two columns of the manifest CSV and uploads it back; a plain
# three-column list works too.
TRACKING_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("订单号", "订单ID", "order", "order_id", "id"),
    "carrier": ("快递公司", "快递", "物流公司", "carrier"),
    "tracking_no": ("运单号", "快递单号", "物流单号", "tracking_no", "tracking number"),
}


def _find_product(session: Session, actor: User, sku: str, item: str) -> Product:
    query = select(Product).where(Product.active.is_(True))
    if actor.role == FARMER:
        query = query.where(Product.farmer_id == actor.id)
    if sku:
        product = session.scalar(query.where(Product.sku == sku))
        if product is not None:
            return product
    if item:
        matches = list(session.scalars(query.where(Product.name == item).limit(2)))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise OrderError(N_("有几个商品都叫“%(name)s”，请在文件里填商家编码"), name=item)
    if not (sku or item):
        raise NotFound(N_("没有填商品：请填商家编码或商品名称"))
    raise NotFound(N_("目录里没有这个商品：%(product)s，请先在商品目录里添加，或填对商家编码"), product=sku or item)


def import_platform_orders(
    session: Session, *, actor: User, channel: str, data: bytes, now: datetime | None = None
) -> RowReport:
    """Log every new order in a seller-centre CSV export; report each row.

    Rows already logged (same channel and order number) are ``unchanged``; a bad row (unknown
    product, wrong phone, short stock, …) is an ``error`` and takes no stock. The caller commits
    when it accepts the report (all rows, or the good ones with ``partial``), else rolls back.
    Raises :class:`~orders.errors.NotAllowed` for roles that may not log orders and
    :class:`OrderError` for an unreadable file or a missing column.
    """
    if actor.role not in (*MANAGERS, FARMER):
        raise NotAllowed(N_("您的账号不能导入订单"))
    if channel not in CHANNEL_LABELS:
        raise OrderError(N_("未知渠道 %(channel)s"), "channel", channel=repr(channel))
    report = RowReport()
    seen: dict[str, int] = {}
    for row, cells in read_rows(data, PLATFORM_COLUMNS, REQUIRED):
        number = cells["order_no"]
        if not number:
            report.rows.append(RowResult(row, "error", N_("缺少订单号")))
            continue
        if number in seen:
            report.rows.append(RowResult(row, "error", N_("订单号 %(number)s 在第 %(first)d 行已出现过"),
                                         params={"number": number, "first": seen[number]}))
            continue
        seen[number] = row
        try:
            product = _find_product(session, actor, cells.get("sku", ""), cells.get("item", ""))
            order = services.log_order(
                session, actor=actor, product_id=product.id, quantity=services.clean_quantity(cells["quantity"]),
                buyer_name=cells["receiver"], buyer_phone=cells["phone"], address=cells["address"],
                channel=channel, platform_order_no=number, now=now,
            )
        except DuplicateOrder as exc:
            report.rows.append(RowResult(row, "unchanged", N_("已登记过，订单 #%(id)s"), exc.existing_id,
                                         {"id": exc.existing_id}))
        except OrderError as exc:
            report.rows.append(RowResult(row, "error", exc.msgid, params=exc.params))
        else:
            report.rows.append(RowResult(row, "created", N_("订单 #%(id)s"), order["id"], {"id": order["id"]}))
    if not report.rows:
        raise OrderError(N_("文件里没有订单"))
    return report


def import_tracking_numbers(session: Session, *, actor: User, handoff_id: int, data: bytes) -> RowReport:
    """Add the carrier and tracking number of each row to that order of the partner's batch.

    A row without a tracking number is skipped (``unchanged``); an order of another batch, a
    malformed number or an order not yet picked up is an ``error``. The caller commits or rolls
    back as for :func:`import_platform_orders`. Raises :class:`NotFound` for a batch the actor may
    not see, :class:`NotAllowed` for anyone but the batch's partner, :class:`OrderError` for an
    unreadable file.
    """
    handoff = services.get_handoff(session, actor, handoff_id)
    if actor.id != handoff.partner_id:
        raise NotAllowed(N_("只有发货方可以填写运单号"))
    in_batch = {o.id for o in handoff.orders}
    report = RowReport()
    for row, cells in read_rows(data, TRACKING_COLUMNS, tuple(TRACKING_COLUMNS)):
        if not cells["tracking_no"]:
            report.rows.append(RowResult(row, "unchanged", N_("没有运单号，跳过")))
            continue
        raw_id = cells["order_id"].lstrip("#")
        if not raw_id.isdigit() or int(raw_id) not in in_batch:
            report.rows.append(RowResult(row, "error", N_("订单 %(order)s 不在交接单 #%(id)s 里"),
                                         params={"order": cells["order_id"], "id": handoff.id}))
            continue
        order_id = int(raw_id)
        try:
            order = services.get_order(session, actor, order_id)
            before = (order.status, order.carrier, order.tracking_no)
            services.add_shipment(session, actor=actor, order_id=order_id,
                                  carrier=cells["carrier"], tracking_no=cells["tracking_no"])
        except OrderError as exc:
            report.rows.append(RowResult(row, "error", exc.msgid, order_id, exc.params))
            continue
        after = (order.status, order.carrier, order.tracking_no)
        outcome = "unchanged" if after == before else ("created" if before[0] == "handed_off" else "updated")
        report.rows.append(RowResult(row, outcome, f"{order.carrier} {order.tracking_no}", order_id))
    return report
