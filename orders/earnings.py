"""What each farmer sold in a period, and how far it has travelled (handed off, shipped, delivered).

Amounts are cumulative along the way: a delivered order counts in 已交接, 已发货 and 已签收, so
"handed off" reads as "has left the village". Cancelled orders count only in ``cancelled``.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.roles import FARMER, MANAGERS
from catalog.models import Product
from catalog.money import yuan_text
from catalog.text import write_csv
from db import N_
from orders.errors import NotAllowed
from orders.models import Order

HANDED_OFF = ("handed_off", "shipped", "delivered")
SHIPPED = ("shipped", "delivered")
DELIVERED = ("delivered",)
SOLD = ("new", *HANDED_OFF)


@dataclass
class ProductEarnings:
    """One product's figures in the period."""

    product_id: int
    product: str
    unit: str
    orders: int
    quantity: int
    sales_fen: int
    handed_off_fen: int
    shipped_fen: int
    delivered_fen: int
    cancelled: int


@dataclass
class FarmerEarnings:
    """One farmer's figures in the period, with a line per product (quantities have units)."""

    farmer_id: int
    username: str
    name: str
    products: list[ProductEarnings] = field(default_factory=list)

    def total(self, attribute: str) -> int:
        """The sum of one figure over the farmer's products."""
        return sum(getattr(p, attribute) for p in self.products)


def _sum_if(statuses: tuple[str, ...], value) -> object:  # type: ignore[no-untyped-def]
    return func.coalesce(func.sum(case((Order.status.in_(statuses), value), else_=0)), 0)


def farmer_earnings(
    session: Session, *, actor: User, since: datetime | None = None, before: datetime | None = None,
    farmer_id: int | None = None,
) -> list[FarmerEarnings]:
    """Figures per farmer and product for orders logged in ``[since, before)`` (aware UTC times).

    A farmer sees only their own; coordinators and admins everyone's (or ``farmer_id``'s).
    Raises :class:`NotAllowed` for other roles.
    """
    if actor.role == FARMER:
        farmer_id = actor.id
    elif actor.role not in MANAGERS:
        raise NotAllowed(N_("您的账号不能查看收入"))
    columns: tuple[Any, ...] = (
        User.id, User.username, User.display_name, Product.id, Product.name, Order.unit,
        func.count(case((Order.status.in_(SOLD), Order.id))),
        _sum_if(SOLD, Order.quantity),
        _sum_if(SOLD, Order.total_fen),
        _sum_if(HANDED_OFF, Order.total_fen),
        _sum_if(SHIPPED, Order.total_fen),
        _sum_if(DELIVERED, Order.total_fen),
        func.count(case((Order.status == "cancelled", Order.id))),
    )
    query = (
        select(*columns)
        .join(User, Order.farmer_id == User.id)
        .join(Product, Order.product_id == Product.id)
        .group_by(User.id, User.username, User.display_name, Product.id, Product.name, Order.unit)
        .order_by(User.username, Product.name, Product.id)
    )
    if since is not None:
        query = query.where(Order.created_at >= since)
    if before is not None:
        query = query.where(Order.created_at < before)
    if farmer_id is not None:
        query = query.where(Order.farmer_id == farmer_id)
    farmers: dict[int, FarmerEarnings] = {}
    for uid, username, display, pid, pname, unit, *figures in session.execute(query):
        farmer = farmers.setdefault(uid, FarmerEarnings(uid, username, display or username))
        farmer.products.append(ProductEarnings(pid, pname, unit, *(int(f) for f in figures)))
    return list(farmers.values())


EARNINGS_HEADER = ("农户", "用户名", "商品", "单位", "订单数", "数量", "销售额(元)", "已交接(元)",
                   "已发货(元)", "已签收(元)", "已取消(单)")


def earnings_csv(rows: list[FarmerEarnings]) -> bytes:
    """The figures as a CSV Excel opens (UTF-8 with BOM), money in yuan, one line per product."""

    def lines() -> Iterator[tuple[object, ...]]:
        for farmer in rows:
            for p in farmer.products:
                yield (farmer.name, farmer.username, p.product, p.unit, p.orders, p.quantity,
                       yuan_text(p.sales_fen), yuan_text(p.handed_off_fen), yuan_text(p.shipped_fen),
                       yuan_text(p.delivered_fen), p.cancelled)

    return write_csv(lines(), EARNINGS_HEADER)
