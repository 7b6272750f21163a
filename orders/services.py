"""Operations on orders and hand-off batches.

Each takes a Session and the acting :class:`~accounts.models.User`, checks what that person may see
and do, changes rows, ``flush()``es and leaves the commit to the caller. Stock and order states
change only through conditional UPDATEs whose row count is checked, so two people (or two threads)
can never both take the last unit, or both cancel and hand off the same order.

Who may do what (shared/api.md): coordinators and admins manage every order and batch; a farmer
logs, edits and cancels orders of their own products and sees only those; the aid partner sees
only the orders of its own batches, confirms pick-up and adds shipments. Something a person may
not see raises :class:`NotFound` (the API answers 404 so that existence does not leak); something
they may see but not do raises :class:`NotAllowed` (403).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, Row, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from accounts.models import User
from accounts.roles import FARMER, MANAGERS, PARTNER
from catalog.changes import stock_written
from catalog.models import Product, ProductChange, price_in_force
from catalog.text import has_hidden_characters
from db import N_, utcnow
from db.notes import Note, split
from orders.errors import (
    Conflict,
    DuplicateOrder,
    NotAllowed,
    NotFound,
    OrderError,
    OrderFrozen,
    OutOfStock,
    WrongState,
)
from orders.models import CHANNEL_LABELS, STATUS_LABELS, Handoff, Order, OrderEvent
from orders.phones import normalise_phone
from live.models import LiveSession

MAX_QUANTITY = 100_000
# A quick order with neither phone nor name could never be completed or delivered.
MISSING_BUYER = N_("请填写手机号或买家姓名（填一个就行，其余可以以后补）")
T = TypeVar("T")
TRACKING_RE = re.compile(r"^[A-Za-z0-9\-]{4,64}$")

# The order life cycle: which status may follow which. Cancelling is possible only before hand-off.
NEXT_STATUSES: dict[str, frozenset[str]] = {
    "new": frozenset({"handed_off", "cancelled"}),
    "handed_off": frozenset({"shipped"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}
# Statuses that count as a sale (everything but a cancelled order).
SOLD_STATUSES: tuple[str, ...] = ("new", "handed_off", "shipped", "delivered")


# --- who sees what -------------------------------------------------------------------------------

def visible_orders(actor: User) -> Select[Order]:
    """A query of the orders ``actor`` may see. Raises :class:`NotAllowed` for roles that see none."""
    query = select(Order)
    if actor.role in MANAGERS:
        return query
    if actor.role == FARMER:
        return query.where(Order.farmer_id == actor.id)
    if actor.role == PARTNER:
        return query.join(Handoff, Order.handoff_id == Handoff.id).where(Handoff.partner_id == actor.id)
    raise NotAllowed(N_("您的账号不能查看订单"))


def visible_handoffs(actor: User) -> Select[Handoff]:
    """A query of the batches ``actor`` may see. Raises :class:`NotAllowed` for other roles."""
    query = select(Handoff)
    if actor.role in MANAGERS:
        return query
    if actor.role == PARTNER:
        return query.where(Handoff.partner_id == actor.id)
    raise NotAllowed(N_("您的账号不能查看交接单"))


def _one_visible(session: Session, query: Callable[[User], Select[T]], actor: User, key: Any,
                 wanted: Any, missing: NotFound) -> T:
    try:
        found = session.scalar(query(actor).where(key == wanted))
    except NotAllowed:
        found = None
    if found is None:
        raise missing
    return found


def get_order(session: Session, actor: User, order_id: int) -> Order:
    """The order, if ``actor`` may see it. Raises :class:`NotFound` otherwise."""
    return _one_visible(session, visible_orders, actor, Order.id, order_id,
                        NotFound(N_("没有找到订单 #%(id)s"), id=order_id))


def get_handoff(session: Session, actor: User, handoff_id: int) -> Handoff:
    """The batch, if ``actor`` may see it (another partner's batch is not found). Raises :class:`NotFound`."""
    return _one_visible(session, visible_handoffs, actor, Handoff.id, handoff_id,
                        NotFound(N_("没有找到交接单 #%(id)s"), id=handoff_id))


def visible_products(session: Session, actor: User) -> list[Product]:
    """Active products ``actor`` may log orders for, by name."""
    query = select(Product).where(Product.active.is_(True)).order_by(Product.name, Product.id)
    if actor.role == FARMER:
        query = query.where(Product.farmer_id == actor.id)
    elif actor.role not in MANAGERS:
        return []
    return list(session.scalars(query))


def _require_role(actor: User, roles: Iterable[str], doing: str) -> None:
    if actor.role not in roles:
        raise NotAllowed(N_("您的账号不能%(doing)s"), doing=doing)


# --- stock ----------------------------------------------------------------------------------------

# Logging an order is the hot path of a live broadcast, so its statements are Core statements built
# once, here, with bound parameters: building a statement per call (and its cache key) costs about
# four times what executing it does, and the ORM's unit of work about as much again
# (bench/orders.py). Everything that is not on that path uses the ORM as usual.
def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (every ``execute`` of an UPDATE answers a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount


_products = cast(Table, Product.__table__)
_changes = cast(Table, ProductChange.__table__)
_events = cast(Table, OrderEvent.__table__)
_orders = cast(Table, Order.__table__)
_users = cast(Table, User.__table__)
_sessions = cast(Table, LiveSession.__table__)

_stock = _products.c.stock
_TAKE_STOCK = (
    update(_products)
    .where(_products.c.id == bindparam("product_id"), _stock >= bindparam("quantity"))
    .values(stock=_stock - bindparam("quantity"))
    .returning(_stock)
)
_GIVE_STOCK = (
    update(_products)
    .where(_products.c.id == bindparam("product_id"))
    .values(stock=_stock + bindparam("quantity"))
    .returning(_stock)
)
# Taking the stock for a new order also reads, in the same statement, what the order freezes (unit,
# prices) and what the answer shows (names). A farmer's variant matches only their own products.
_TAKE_FOR_ORDER = _TAKE_STOCK.where(_products.c.active.is_(True)).returning(
    _products.c.name, _products.c.unit, _products.c.farmer_id, _products.c.price_fen,
    _products.c.promo_price_fen, _products.c.promo_starts_at, _products.c.promo_ends_at,
    select(_users.c.username).where(_users.c.id == _products.c.farmer_id).scalar_subquery(),
)
_TAKE_OWN_FOR_ORDER = _TAKE_FOR_ORDER.where(_products.c.farmer_id == bindparam("owner_id"))
_PRODUCT_STOCK = select(_products.c.name, _products.c.unit, _stock, _products.c.active, _products.c.farmer_id).where(
    _products.c.id == bindparam("product_id")
)
_INSERT_ORDER = insert(_orders).returning(_orders.c.id)
_INSERT_EVENT = insert(_events)
_INSERT_CHANGE = insert(_changes)
_SESSION_EXISTS = select(_sessions.c.id).where(_sessions.c.id == bindparam("session_id"))
_ORDER_BY_NUMBER = select(_orders.c.id).where(
    _orders.c.channel == bindparam("channel"), _orders.c.platform_order_no == bindparam("number")
)


def _product_stock(session: Session, product_id: int) -> Row[Any, Any, Any, Any, Any] | None:
    """The product's name, unit, stock, active flag and farmer, read as they are now."""
    return session.execute(_PRODUCT_STOCK, {"product_id": product_id}).one_or_none()


def _out_of_stock(product: Row[Any, Any, Any, Any, Any], quantity: int) -> OutOfStock:
    left, unit = product.stock, product.unit
    return OutOfStock(N_("库存不足：%(name)s 只剩 %(left)s %(unit)s，要 %(quantity)s %(unit)s"),
                      name=product.name, left=left, unit=unit, quantity=quantity)


def _take_stock(session: Session, product_id: int, quantity: int) -> int:
    """Take ``quantity`` atomically and return the stock left.

    Raises :class:`OutOfStock` (changing nothing) when fewer than ``quantity`` are left.
    """
    new_stock = session.execute(_TAKE_STOCK, {"product_id": product_id, "quantity": quantity}).scalar()
    if new_stock is None:
        product = _product_stock(session, product_id)
        assert product is not None, "an order's product is never deleted"
        raise _out_of_stock(product, quantity)
    stock_written(session, product_id, new_stock)
    return int(new_stock)


def _return_stock(session: Session, product_id: int, quantity: int) -> int:
    """Give ``quantity`` back atomically and return the new stock."""
    new_stock = int(session.execute(_GIVE_STOCK, {"product_id": product_id, "quantity": quantity}).scalar_one())
    stock_written(session, product_id, new_stock)
    return new_stock


def _record_stock_change(session: Session, product_id: int, old: int, new: int, actor: User, reason: Note) -> None:
    session.execute(_INSERT_CHANGE, {
        "product_id": product_id, "field": "stock", "old_value": old, "new_value": new, "reason": "",
        "reason_code": reason.code, "reason_args": reason.args, "changed_by_id": actor.id, "changed_at": utcnow(),
    })


# --- logging an order -----------------------------------------------------------------------------

def _clean_text(value: str | None, what: str, limit: int, *, required: bool = True,
                field: str | None = None) -> str:
    text = (value or "").strip()
    if has_hidden_characters(text):
        raise OrderError(N_("%(what)s里有看不见的字符（控制字符、文字方向或零宽字符），请重新输入"), field, what=what)
    if required and not text:
        raise OrderError(N_("请填写%(what)s"), field, what=what)
    if len(text) > limit:
        raise OrderError(N_("%(what)s太长了，最多 %(limit)d 个字"), field, what=what, limit=limit)
    return text


def _clean_buyer(buyer_name: str, buyer_phone: str, address: str, *,
                 complete_later: bool) -> tuple[str, str, str]:
    """Name, phone and address of a new order. With ``complete_later`` (an order taken by phone
    during a live) one of phone and name is enough: the coordinator completes the rest before the
    hand-off. Raises :class:`OrderError` naming the field."""
    if not complete_later:
        return (_clean_text(buyer_name, N_("收货人"), 40, field="buyer_name"), normalise_phone(buyer_phone),
                _clean_text(address, N_("地址"), 200, field="address"))
    name = _clean_text(buyer_name, N_("买家姓名"), 40, required=False, field="buyer_name")
    phone = normalise_phone(buyer_phone) if (buyer_phone or "").strip() else ""
    if not (name or phone):
        raise OrderError(MISSING_BUYER, "buyer_phone")
    return name, phone, _clean_text(address, N_("收货地址"), 200, required=False, field="address")


def clean_quantity(quantity: Any, what: str = N_("数量"), field: str = "quantity") -> int:
    """A whole number from 1 to :data:`MAX_QUANTITY` (text is parsed). Raises :class:`OrderError`."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        try:
            quantity = int(str(quantity).strip())
        except ValueError:
            raise OrderError(N_("%(what)s要填整数，如 2"), field, what=what) from None
    if not 0 < quantity <= MAX_QUANTITY:
        raise OrderError(N_("%(what)s要在 1 到 %(max)d 之间"), field, what=what, max=MAX_QUANTITY)
    return quantity


def _clean_channel(channel: str) -> str:
    if channel not in CHANNEL_LABELS:
        raise OrderError(N_("未知渠道 %(channel)s，可选：%(choices)s"), "channel", channel=repr(channel),
                         choices=", ".join(CHANNEL_LABELS))
    return channel


def _existing_order_id(session: Session, channel: str, platform_order_no: str) -> int | None:
    """The id of the order already logged with this channel and platform order number, if any."""
    found = session.execute(_ORDER_BY_NUMBER, {"channel": channel, "number": platform_order_no}).scalar()
    return None if found is None else int(found)


def _duplicate(channel: str, platform_order_no: str, existing_id: int) -> DuplicateOrder:
    return DuplicateOrder(N_("%(channel)s订单号 %(number)s 已经登记过，是订单 #%(id)s"), existing_id,
                          channel=CHANNEL_LABELS[channel], number=platform_order_no, id=existing_id)


def _not_taken(session: Session, actor: User, product_id: int, quantity: int) -> OrderError:
    """Why taking stock for a new order matched no row: not found, not on sale or out of stock."""
    row = _product_stock(session, product_id)
    if row is None or (actor.role == FARMER and row.farmer_id != actor.id):
        return NotFound(N_("没有找到商品 #%(id)s"), id=product_id)
    if not row.active:
        return OrderError(N_("%(name)s 已下架，不能下单"), name=row.name)
    return _out_of_stock(row, quantity)


def log_order(
    session: Session,
    *,
    actor: User,
    product_id: int,
    quantity: int,
    buyer_name: str = "",
    buyer_phone: str = "",
    address: str = "",
    channel: str,
    platform_order_no: str | None = None,
    session_id: int | None = None,
    now: datetime | None = None,
    packages: int = 1,
    complete_later: bool = False,
) -> dict[str, Any]:
    """Log one order: take the stock and freeze the price in force at ``now`` in one transaction.

    Returns the new order in its API form (as :func:`order_to_dict` gives it), built from what the
    statements wrote and returned, so that answering needs no further query; ``session.get(Order,
    result["id"])`` gives the ORM object. Raises :class:`OrderError` for bad input,
    :class:`NotAllowed` for a role that may not log orders, :class:`NotFound` for a product the
    actor may not sell, :class:`OutOfStock` when the stock is short and :class:`DuplicateOrder`
    (with ``existing_id``) when the channel and platform order number were logged before (also
    when another request wins that race; the stock taken is then given back and the rest of the
    caller's transaction is kept).

    With ``complete_later`` (the console and the API: an order taken by phone during a live)
    product, quantity and one of phone and name are enough; address and the other may stay empty
    for the coordinator to complete (:func:`update_order`) before the hand-off.
    """
    _require_role(actor, (*MANAGERS, FARMER), N_("登记订单"))
    quantity = clean_quantity(quantity)
    packages = clean_quantity(packages, N_("件数"), "packages")
    buyer_name, phone, address = _clean_buyer(buyer_name, buyer_phone, address, complete_later=complete_later)
    channel = _clean_channel(channel)
    number = _clean_text(platform_order_no, N_("平台订单号"), 64, required=False) or None
    if session_id is not None and session.execute(_SESSION_EXISTS, {"session_id": session_id}).scalar() is None:
        raise OrderError(N_("没有找到直播场次 #%(id)s"), id=session_id)
    if number is not None:
        existing_id = _existing_order_id(session, channel, number)
        if existing_id is not None:
            raise _duplicate(channel, number, existing_id)

    # The stock UPDATE is the transaction's first write (pysqlite runs the reads above outside any
    # transaction), so on SQLite it takes the write lock before the transaction reads anything and
    # concurrent orders queue for their turn instead of failing on a stale snapshot.
    # Core statements go straight to the session's connection: nothing here concerns ORM objects.
    conn = session.connection()
    params = {"product_id": product_id, "quantity": quantity}
    if actor.role == FARMER:
        taken = conn.execute(_TAKE_OWN_FOR_ORDER, {**params, "owner_id": actor.id}).one_or_none()
    else:
        taken = conn.execute(_TAKE_FOR_ORDER, params).one_or_none()
    if taken is None:
        raise _not_taken(session, actor, product_id, quantity)
    new_stock, product_name, unit, farmer_id, price, promo, promo_starts, promo_ends, farmer_name = taken
    stock_written(session, product_id, new_stock)

    now = now or utcnow()
    unit_price = price_in_force(price, promo, promo_starts, promo_ends, now)
    values: dict[str, Any] = {
        "product_id": product_id, "farmer_id": farmer_id, "quantity": quantity, "packages": packages, "unit": unit,
        "unit_price_fen": unit_price, "total_fen": unit_price * quantity, "buyer_name": buyer_name,
        "buyer_phone": phone, "address": address, "channel": channel, "platform_order_no": number,
        "status": "new", "session_id": session_id, "handoff_id": None, "logged_by_id": actor.id,
        "carrier": "", "tracking_no": "", "created_at": now, "updated_at": now,
    }
    if number is None:
        order_id = conn.execute(_INSERT_ORDER, values).scalar_one()
    else:
        try:
            # A savepoint, so that losing the race below undoes only the insert: the caller (an
            # import of many rows, say) keeps the rest of its transaction.
            with session.begin_nested():
                order_id = conn.execute(_INSERT_ORDER, values).scalar_one()
        except IntegrityError:
            # Another request logged the same platform number between our check and our insert.
            existing_id = _existing_order_id(session, channel, number)
            if existing_id is None:
                raise
            _return_stock(session, product_id, quantity)
            raise _duplicate(channel, number, existing_id) from None
    # The first audit event (None → new) and the stock history row (订单 #id) are written by the
    # database's orders_logged trigger inside the INSERT above (migration 0004), from the values
    # just stored: fewer statements while SQLite's write lock is held (bench/orders.py).
    return _api_form({**values, "id": order_id}, product_name=product_name, farmer=farmer_name,
                     logged_by=actor.username)


# --- changing an order before hand-off ------------------------------------------------------------

def _event(session: Session, order: Order, from_status: str | None, to_status: str, actor: User,
           note: Note | str = "", at: datetime | None = None) -> None:
    """One row of the order's trail: a system's note as its code and values, a person's as typed."""
    text, code, args = split(note, 200)
    session.execute(_INSERT_EVENT, {"order_id": order.id, "from_status": from_status, "to_status": to_status,
                                    "actor_id": actor.id, "at": at or utcnow(), "note": text,
                                    "note_code": code, "note_args": args})
    # The trail may have been read already in this session; let the next read see the new row.
    session.expire(order, ["events"])


def _frozen(order: Order) -> OrderFrozen:
    return OrderFrozen(N_("订单 #%(id)s 已在交接单 #%(handoff)s 中，不能再修改或取消"), order.handoff_id or 0,
                       id=order.id, handoff=order.handoff_id)


def _refuse_unless_new(session: Session, order: Order) -> None:
    """Raise the right error for an order that is no longer ``new`` (re-read from the database)."""
    session.refresh(order)
    if order.handoff_id is not None:
        raise _frozen(order)
    if order.status != "new":
        raise WrongState(N_("订单 #%(id)s 现在是“%(status)s”，不能再改"), id=order.id,
                         status=STATUS_LABELS[order.status])


def _set_if_new(session: Session, order: Order, **values: Any) -> None:
    """Write ``values`` only while the order is still new and in no batch (checked in the UPDATE).

    Raises :class:`OrderFrozen` or :class:`WrongState` when it is not.
    """
    changed = _rowcount(session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == "new", Order.handoff_id.is_(None))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ))
    if changed != 1:
        _refuse_unless_new(session, order)
    session.refresh(order)


def cancel_order(session: Session, *, actor: User, order_id: int, note: str = "") -> Order:
    """Cancel a new order and give its stock back.

    Raises :class:`NotFound`, :class:`NotAllowed` (only managers and the order's farmer cancel),
    :class:`OrderFrozen` (naming the batch) once handed off, :class:`WrongState` if already cancelled.
    """
    order = get_order(session, actor, order_id)
    _require_role(actor, (*MANAGERS, FARMER), N_("取消订单"))
    if order.handoff_id is not None:
        raise _frozen(order)
    _set_if_new(session, order, status="cancelled")
    new_stock = _return_stock(session, order.product_id, order.quantity)
    _record_stock_change(session, order.product_id, new_stock - order.quantity, new_stock, actor,
                         Note("order_cancelled", {"id": order.id}))
    _event(session, order, "new", "cancelled", actor, note)
    session.flush()
    return order


def update_order(
    session: Session,
    *,
    actor: User,
    order_id: int,
    buyer_name: str | None = None,
    buyer_phone: str | None = None,
    address: str | None = None,
    quantity: int | None = None,
    packages: int | None = None,
) -> Order:
    """Correct a new order's buyer, address, quantity or parcel count; the unit price stays frozen.

    A larger quantity takes the difference from stock atomically, a smaller one gives it back.
    Raises :class:`NotFound`, :class:`NotAllowed`, :class:`OrderError` for bad input,
    :class:`OutOfStock`, and :class:`OrderFrozen` (naming the batch) once handed off.
    """
    order = get_order(session, actor, order_id)
    _require_role(actor, (*MANAGERS, FARMER), N_("修改订单"))
    if order.handoff_id is not None:
        raise _frozen(order)
    values: dict[str, Any] = {}
    if buyer_name is not None:
        values["buyer_name"] = _clean_text(buyer_name, N_("收货人"), 40)
    if buyer_phone is not None:
        values["buyer_phone"] = normalise_phone(buyer_phone)
    if address is not None:
        values["address"] = _clean_text(address, N_("地址"), 200)
    if packages is not None:
        values["packages"] = clean_quantity(packages, N_("件数"), "packages")
    changes = [{"field": k, "old": str(getattr(order, k)), "new": str(v)}
               for k, v in values.items() if getattr(order, k) != v]
    delta = 0
    if quantity is not None:
        new_quantity = clean_quantity(quantity)
        delta = new_quantity - order.quantity
        if delta:
            values.update(quantity=new_quantity, total_fen=order.unit_price_fen * new_quantity)
            changes.append({"field": "quantity", "old": str(order.quantity), "new": str(new_quantity)})
    if not changes:
        return order
    # The state check comes first so that a frozen order never touches the stock.
    _set_if_new(session, order, **values)
    reason = Note("order_edited", {"id": order.id})
    if delta > 0:
        new_stock = _take_stock(session, order.product_id, delta)
        _record_stock_change(session, order.product_id, new_stock + delta, new_stock, actor, reason)
    elif delta < 0:
        new_stock = _return_stock(session, order.product_id, -delta)
        _record_stock_change(session, order.product_id, new_stock + delta, new_stock, actor, reason)
    _event(session, order, "new", "new", actor, Note("order_changed", {"changes": changes}))
    session.flush()
    return order


# --- hand-offs ------------------------------------------------------------------------------------

def partners(session: Session) -> list[User]:
    """Active aid partners, by user name."""
    return list(session.scalars(select(User).where(User.role == PARTNER, User.active).order_by(User.username)))


def hand_off(session: Session, *, actor: User, order_ids: Sequence[int], partner: str, note: str = "") -> Handoff:
    """Give new orders to the partner named ``partner`` (a user name) as one batch; they freeze.

    Raises :class:`NotAllowed` unless the actor is a coordinator or admin, :class:`OrderError`
    for no orders or an unknown partner, :class:`NotFound` for an unknown order,
    :class:`OrderFrozen` for an order already in a batch (naming it) and :class:`WrongState` for
    a cancelled one or one still without name, phone or address (a quick order from the console).
    Nothing is written when any order is refused.
    """
    _require_role(actor, MANAGERS, N_("交接订单"))
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    if not ids:
        raise OrderError(N_("请至少选一个订单"))
    partner_user = session.scalar(
        select(User).where(User.username == (partner or "").strip(), User.role == PARTNER, User.active)
    )
    if partner_user is None:
        raise OrderError(N_("没有这个发货方：%(name)s"), "partner", name=partner)
    found = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(N_("没有找到订单 #%(id)s"), id=missing[0])
    for order in found.values():
        if order.handoff_id is not None:
            raise _frozen(order)
        if order.status != "new":
            raise WrongState(N_("订单 #%(id)s 已取消，不能交接"), id=order.id)
        if not (order.buyer_name and order.buyer_phone and order.address):
            # A quick order from the console (complete_later) waits here until it is completed.
            raise WrongState(N_("订单 #%(id)s 还缺收货人、手机号或地址，请先补全再交接"), id=order.id)
    now = utcnow()
    handoff = Handoff(partner_id=partner_user.id, created_by_id=actor.id, created_at=now, note=note.strip()[:500])
    session.add(handoff)
    session.flush()
    moved = _rowcount(session.execute(
        update(Order)
        .where(Order.id.in_(ids), Order.status == "new", Order.handoff_id.is_(None))
        .values(status="handed_off", handoff_id=handoff.id, updated_at=now)
        .execution_options(synchronize_session=False)
    ))
    if moved != len(ids):
        # Someone cancelled or handed off one of them since we looked; the caller rolls back.
        raise Conflict(N_("有订单刚被别人改动了，没有交接任何订单，请刷新后再交接"))
    for order in found.values():
        session.refresh(order)
        _event(session, order, "new", "handed_off", actor,
               Note("handed_off", {"handoff": handoff.id, "partner": partner_user.name}), now)
    session.flush()
    session.refresh(handoff)
    return handoff


def ack_handoff(session: Session, *, actor: User, handoff_id: int) -> Handoff:
    """The partner confirms it picked the batch up (who, when). Confirming twice changes nothing.

    Raises :class:`NotFound` for a batch the actor may not see, :class:`NotAllowed` for anyone
    but the batch's partner.
    """
    handoff = get_handoff(session, actor, handoff_id)
    if actor.id != handoff.partner_id:
        raise NotAllowed(N_("只有发货方本人可以确认取件"))
    now = utcnow()
    acked = _rowcount(session.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.acked_at.is_(None))
        .values(acked_at=now, acked_by_id=actor.id)
        .execution_options(synchronize_session=False)
    ))
    session.refresh(handoff)
    if acked:
        for order in handoff.orders:
            _event(session, order, order.status, order.status, actor, Note("picked_up", {"handoff": handoff.id}), now)
        session.flush()
    return handoff


def _partner_order(session: Session, actor: User, order_id: int) -> Order:
    order = get_order(session, actor, order_id)
    if actor.role != PARTNER:
        raise NotAllowed(N_("只有发货方可以填写运单号"))
    return order


def add_shipment(session: Session, *, actor: User, order_id: int, carrier: str, tracking_no: str) -> Order:
    """Mark a picked-up order shipped with its carrier and tracking number (a shipped one is corrected).

    Raises :class:`NotFound` (not the actor's batch), :class:`NotAllowed` (not the partner),
    :class:`OrderError` for a blank carrier or malformed number, :class:`WrongState` before the
    pick-up is confirmed or after delivery.
    """
    order = _partner_order(session, actor, order_id)
    carrier = _clean_text(carrier, N_("快递公司"), 40, field="carrier")
    tracking_no = re.sub(r"\s", "", tracking_no or "")
    if not TRACKING_RE.match(tracking_no):
        raise OrderError(N_("运单号不对：%(number)s，应为 4–64 位字母或数字"), "tracking_no",
                         number=tracking_no or N_("（空）"))
    handoff = order.handoff
    if handoff is None or handoff.acked_at is None:
        raise WrongState(N_("交接单 #%(id)s 还没确认取件，请先确认取件再填运单号"), id=order.handoff_id)
    if order.status not in ("handed_off", "shipped"):
        raise WrongState(N_("订单 #%(id)s 现在是“%(status)s”，不能填运单号"), id=order.id,
                         status=STATUS_LABELS[order.status])
    if order.status == "shipped" and (order.carrier, order.tracking_no) == (carrier, tracking_no):
        return order
    before = order.status
    changed = _rowcount(session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == before)
        .values(status="shipped", carrier=carrier, tracking_no=tracking_no, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ))
    if changed != 1:
        raise Conflict(N_("订单刚被别人改动了，请刷新后再试"))
    note: Note | str = (f"{carrier} {tracking_no}" if before == "handed_off"
                        else Note("tracking_corrected", {"carrier": carrier, "tracking_no": tracking_no}))
    session.refresh(order)
    _event(session, order, before, "shipped", actor, note)
    session.flush()
    return order


def mark_delivered(session: Session, *, actor: User, order_id: int) -> Order:
    """Mark a shipped order delivered (the partner of its batch, or a coordinator or admin).

    Raises :class:`NotFound`, :class:`NotAllowed` for other roles, :class:`WrongState` unless shipped.
    """
    order = get_order(session, actor, order_id)
    _require_role(actor, (*MANAGERS, PARTNER), N_("确认签收"))
    changed = _rowcount(session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == "shipped")
        .values(status="delivered", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ))
    session.refresh(order)
    if changed != 1:
        raise WrongState(N_("订单 #%(id)s 现在是“%(status)s”，发货后才能签收"), id=order.id,
                         status=STATUS_LABELS[order.status])
    _event(session, order, "shipped", "delivered", actor)
    session.flush()
    return order


# --- reading --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderFilter:
    """What a list of orders may be narrowed by; ``None`` means any. Times are aware UTC bounds."""

    status: str | None = None
    channel: str | None = None
    farmer: str | None = None  # user name
    session_id: int | None = None
    handoff_id: int | None = None
    since: datetime | None = None
    before: datetime | None = None
    unbatched: bool = False


def list_orders(session: Session, actor: User, filters: OrderFilter = OrderFilter(), *,
                limit: int | None = None) -> list[Order]:
    """The orders ``actor`` may see that match ``filters``, newest first.

    Raises :class:`NotAllowed` for a role that sees no orders, :class:`OrderError` for an unknown
    status or channel.
    """
    query = visible_orders(actor)
    if filters.status:
        if filters.status not in STATUS_LABELS:
            raise OrderError(N_("未知状态 %(status)s"), "status", status=repr(filters.status))
        query = query.where(Order.status == filters.status)
    if filters.channel:
        query = query.where(Order.channel == _clean_channel(filters.channel))
    if filters.farmer:
        query = query.where(Order.farmer_id == select(User.id).where(User.username == filters.farmer).scalar_subquery())
    if filters.session_id is not None:
        query = query.where(Order.session_id == filters.session_id)
    if filters.handoff_id is not None:
        query = query.where(Order.handoff_id == filters.handoff_id)
    if filters.since is not None:
        query = query.where(Order.created_at >= filters.since)
    if filters.before is not None:
        query = query.where(Order.created_at < filters.before)
    if filters.unbatched:
        query = query.where(Order.handoff_id.is_(None))
    query = query.options(selectinload(Order.product), selectinload(Order.farmer)).order_by(Order.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_waiting_for_handoff(session: Session) -> int:
    """New orders not yet in a batch (the coordinator's to-do)."""
    return session.scalar(select(func.count()).select_from(Order).where(Order.status == "new")) or 0


def count_waiting_for_pickup(session: Session, partner: User) -> int:
    """This partner's batches not yet picked up."""
    return session.scalar(
        select(func.count()).select_from(Handoff).where(Handoff.partner_id == partner.id, Handoff.acked_at.is_(None))
    ) or 0


def list_handoffs(session: Session, actor: User) -> list[Handoff]:
    """The batches ``actor`` may see, those waiting for pick-up first, then newest first.

    Raises :class:`NotAllowed` for roles that see no batches.
    """
    query = visible_handoffs(actor).options(selectinload(Handoff.orders), selectinload(Handoff.partner))
    query = query.order_by(Handoff.acked_at.is_not(None), Handoff.id.desc())
    return list(session.scalars(query))


def session_totals(session: Session, live_session_id: int) -> tuple[int, int]:
    """(orders, GMV in fen) logged during one live session, cancelled orders left out."""
    count, gmv = session.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0)).where(
            Order.session_id == live_session_id, Order.status.in_(SOLD_STATUSES)
        )
    ).one()
    return int(count), int(gmv)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# The columns the API form of an order shows as they are stored; times and names are added below.
_API_COLUMNS: tuple[str, ...] = (
    "id", "product_id", "quantity", "unit", "packages", "unit_price_fen", "total_fen", "status", "channel",
    "platform_order_no", "buyer_name", "buyer_phone", "address", "session_id", "handoff_id", "carrier",
    "tracking_no",
)


def _api_form(columns: dict[str, Any], *, product_name: str, farmer: str, logged_by: str) -> dict[str, Any]:
    """The API form of an order (shared/api.md) from its column values and the names it shows."""
    data = {name: columns[name] for name in _API_COLUMNS}
    data.update(product_name=product_name, farmer=farmer, logged_by=logged_by,
                created_at=_iso(columns["created_at"]), updated_at=_iso(columns["updated_at"]))
    return data


def order_to_dict(order: Order) -> dict[str, Any]:
    """The API form of an order: codes, fen and ISO times (shared/api.md)."""
    columns = {name: getattr(order, name) for name in (*_API_COLUMNS, "created_at", "updated_at")}
    return _api_form(columns, product_name=order.product.name, farmer=order.farmer.username,
                     logged_by=order.logged_by.username)


def handoff_to_dict(handoff: Handoff, *, with_orders: bool = False) -> dict[str, Any]:
    """The API form of a batch."""
    data: dict[str, Any] = {
        "id": handoff.id,
        "partner": handoff.partner.username,
        "created_by": handoff.created_by.username,
        "created_at": _iso(handoff.created_at),
        "acked_at": _iso(handoff.acked_at),
        "acked_by": handoff.acked_by.username if handoff.acked_by else None,
        "orders": len(handoff.orders),
        "packages": sum(o.packages for o in handoff.orders),
        "shipped": sum(1 for o in handoff.orders if o.status in ("shipped", "delivered")),
        "note": handoff.note,
    }
    if with_orders:
        data["order_list"] = [order_to_dict(o) for o in handoff.orders]
    return data
