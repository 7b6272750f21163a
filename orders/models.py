"""Orders, their audited state changes, and hand-off batches to the aid partner."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from catalog.models import Product
from db import Base, UTCDateTime, utcnow

# Codes are the API values (shared/api.md); the Chinese labels are what pages show.
STATUS_LABELS: dict[str, str] = {
    "new": "待交接",
    "handed_off": "已交接",
    "shipped": "已发货",
    "delivered": "已签收",
    "cancelled": "已取消",
}
CHANNEL_LABELS: dict[str, str] = {
    "taobao": "淘宝",
    "douyin": "抖音",
    "kuaishou": "快手",
    "channels": "视频号",
    "wechat": "微信",
    "phone": "电话",
    "other": "其他",
}


# What a contest's board reads of each order, in the order its index keeps them.
BOARD_COLUMNS: tuple[str, ...] = ("farmer_id", "created_at", "status", "total_fen", "product_id", "buyer_phone")


def _in(column: str, values: dict[str, str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Handoff(Base):
    """A batch of orders given to one aid partner. Its orders are frozen once it exists."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    note: Mapped[str] = mapped_column(Text, default="")

    partner: Mapped[User] = relationship(foreign_keys=[partner_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    acked_by: Mapped[User | None] = relationship(foreign_keys=[acked_by_id])
    orders: Mapped[list["Order"]] = relationship(back_populates="handoff", order_by="Order.id")


def _set_only_index(column: str, *more: str) -> Index:
    """An index of ``column`` (then ``more``) over the rows where it is set (both databases support the WHERE)."""
    where = text(f"{column} IS NOT NULL")
    return Index(f"ix_orders_{column}", column, *more, sqlite_where=where, postgresql_where=where)


class Order(Base):
    """One buyer's order of one product. The unit price is frozen when it is logged.

    Insert orders only through :func:`orders.services.log_order`: it takes the stock first, and the
    database's ``orders_logged`` trigger (migration 0004) then writes the order's first audit event
    and its stock history row from the new row and that stock.
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("packages > 0", name="packages_positive"),
        CheckConstraint(_in("status", STATUS_LABELS), name="status"),
        CheckConstraint(_in("channel", CHANNEL_LABELS), name="channel"),
        # The same platform order number on the same channel is one order, not two.
        UniqueConstraint("channel", "platform_order_no", name="uq_orders_channel_platform_no"),
        # Every index is one more page each new order writes (bench/orders.py), so there is one
        # per query that needs it: orders by batch and by live session are looked up only once
        # they have one, so new orders without are left out (partial indexes, migration 0005). A
        # session's orders are also read by time: those logged after a contest closed (0007).
        # No query selects orders by product; products are deactivated, never deleted.
        _set_only_index("session_id", "created_at"),
        _set_only_index("handoff_id"),
        # A farmer's orders in a time range, for a contest's board (migration 0007). The trailing
        # columns are all the board reads, so it never visits the table (bench/leaderboard.py);
        # PostgreSQL also needs the id in it (SQLite's indexes carry the rowid anyway). It serves
        # lookups by farmer alone too, so it replaces the index on farmer_id.
        Index("ix_orders_farmer_id_created_at", *BOARD_COLUMNS, postgresql_include=["id"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    # Parcels the partner packs for this order (a 10-box order may be several parcels); the
    # manifest counts them.
    packages: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    unit: Mapped[str] = mapped_column(String(8))
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)
    buyer_name: Mapped[str] = mapped_column(String(40))
    buyer_phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    platform_order_no: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"), default=None)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), default=None)
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    carrier: Mapped[str] = mapped_column(String(40), default="")
    tracking_no: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship()
    farmer: Mapped[User] = relationship(foreign_keys=[farmer_id])
    logged_by: Mapped[User] = relationship(foreign_keys=[logged_by_id])
    handoff: Mapped[Handoff | None] = relationship(back_populates="orders")
    events: Mapped[list["OrderEvent"]] = relationship(back_populates="order", order_by="OrderEvent.id")


class OrderEvent(Base):
    """One audited transition of an order: from, to, who, when."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")  # as a person typed it
    # A note the system wrote: a code of db.notes.NOTES and its values (then ``note`` is empty).
    note_code: Mapped[str | None] = mapped_column(String(32), default=None)
    note_args: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)

    order: Mapped[Order] = relationship(back_populates="events")
    actor: Mapped[User] = relationship()
