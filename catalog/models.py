"""Products, their photos and the history of every price and stock change."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from accounts.models import User
from catalog.pinyin import name_keys
from db import Base, UTCDateTime, utcnow

# Units people sell by; any other short text is allowed too.
COMMON_UNITS: tuple[str, ...] = ("斤", "公斤", "箱", "袋", "瓶", "盒", "个")
# A host reads 3–5 short lines while talking; more than that is a description, not a hand card.
MAX_SELLING_POINTS = 5


def price_in_force(price_fen: int, promo_price_fen: int | None, promo_starts_at: datetime | None,
                   promo_ends_at: datetime | None, when: datetime) -> int:
    """The promotional price inside its window (start included, end excluded), else the list price.

    A function of the columns, so that code reading them with Core (logging an order) applies the
    same rule as :meth:`Product.price_at`.
    """
    if promo_price_fen is None:
        return price_fen
    if promo_starts_at is not None and when < promo_starts_at:
        return price_fen
    if promo_ends_at is not None and when >= promo_ends_at:
        return price_fen
    return promo_price_fen


class Product(Base):
    """One thing a farmer sells. Money is integer fen; ``stock`` counts ``unit``s and is never negative."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("promo_price_fen IS NULL OR promo_price_fen >= 0", name="promo_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(80), default="")
    # Kept from ``name`` by catalog.services so that 小米 is found by "xm" or "xiaomi" and sorts
    # the same on SQLite and PostgreSQL (no collation needed).
    name_pinyin: Mapped[str] = mapped_column(String(240), default="", server_default="", index=True)
    name_initials: Mapped[str] = mapped_column(String(40), default="", server_default="")
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    unit: Mapped[str] = mapped_column(String(8))
    price_fen: Mapped[int] = mapped_column(Integer)
    promo_price_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    promo_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    promo_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    link_no: Mapped[int | None] = mapped_column(Integer, default=None)
    origin: Mapped[str] = mapped_column(String(60), default="")
    produced_on: Mapped[date | None] = mapped_column(Date, default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    # 卖点: short lines the host reads beside the preview while the product is on screen (never
    # on the video), one per line; printable as 手卡 cards.
    selling_points: Mapped[str] = mapped_column(Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    farmer: Mapped[User] = relationship()
    photos: Mapped[list["ProductPhoto"]] = relationship(
        back_populates="product", order_by="ProductPhoto.position", cascade="all, delete-orphan"
    )

    @validates("name")
    def _keep_search_keys(self, key: str, name: str) -> str:
        # Whoever sets a name (services, factories, other areas) keeps the pinyin keys in step.
        self.name_pinyin, self.name_initials = name_keys(name or "")
        return name

    def price_at(self, when: datetime) -> int:
        """The price in force at ``when``: the promotional price inside its window, else the list price."""
        return price_in_force(self.price_fen, self.promo_price_fen, self.promo_starts_at, self.promo_ends_at, when)

    @property
    def selling_point_lines(self) -> list[str]:
        """The selling points as lines, blank lines left out (at most :data:`MAX_SELLING_POINTS`)."""
        return [line.strip() for line in (self.selling_points or "").splitlines() if line.strip()][:MAX_SELLING_POINTS]

    def __repr__(self) -> str:
        return f"<Product {self.sku} {self.name}>"


class ProductPhoto(Base):
    """A decoded, re-encoded photo: the original, a thumbnail and a square card, under the data dir."""

    __tablename__ = "product_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    # Generated file stems, never a name a person supplied.
    stem: Mapped[str] = mapped_column(String(64), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="photos")


class ProductChange(Base):
    """One change of a price or of stock: which field, from what to what, who, when and why."""

    __tablename__ = "product_changes"
    # A product's history, newest first, is the one query; it is also the one index each order's
    # stock row adds to (migration 0005).
    __table_args__ = (Index("ix_product_changes_product_id_changed_at", "product_id", "changed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(24))
    old_value: Mapped[int | None] = mapped_column(Integer, default=None)
    new_value: Mapped[int | None] = mapped_column(Integer, default=None)
    reason: Mapped[str] = mapped_column(String(120), default="")  # as a person typed it
    # A reason the system wrote: a code of db.notes.NOTES and its values (then ``reason`` is empty).
    reason_code: Mapped[str | None] = mapped_column(String(32), default=None)
    reason_args: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    changed_by: Mapped[User | None] = relationship()
