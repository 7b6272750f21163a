"""Operations on the catalog. Each takes a session and typed values, flushes, and never commits.

Stock changes only through atomic SQL (``UPDATE … WHERE stock + :delta >= 0``, rowcount checked):
an ORM read-modify-write loses decrements under concurrent orders (shared/notes/web-facts.md).
Every price and stock change is written to ``product_changes`` with who, when and why.
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from accounts.models import User
from accounts.roles import ADMIN, COORDINATOR, FARMER, MANAGERS
from catalog.errors import (
    DuplicateSku,
    InvalidProduct,
    NotAllowed,
    OutOfStock,
    ProductNotFound,
    UnknownFarmer,
)
from catalog.changes import stock_written
from catalog.models import MAX_SELLING_POINTS, Product, ProductChange
from db.notes import Note, split
from catalog.text import has_hidden_characters
from catalog.money import MAX_FEN, format_yuan
from db import N_, utcnow

# Roles that may own products: farmers, and the service station for the village's own goods
# (a product a manager adds without naming a farmer). Only a farmer may be *named* as one: naming
# a coordinator or an admin is refused (issue 15 #8), so a farmer's name always means a farmer.
OWNER_ROLES: tuple[str, ...] = (FARMER, COORDINATOR, ADMIN)
NAMED_OWNER_ROLES: tuple[str, ...] = (FARMER,)
# Roles that may see the catalog (farmers only their own products).
VIEWER_ROLES: tuple[str, ...] = (FARMER, *MANAGERS)
# Fields whose every change is kept in the history.
TRACKED_FIELDS: tuple[str, ...] = ("price_fen", "promo_price_fen", "stock")
# Every field a person may set, in the order forms and CSV files show them.
EDITABLE_FIELDS: tuple[str, ...] = (
    "sku", "name", "name_en", "unit", "price_fen", "promo_price_fen", "promo_starts_at",
    "promo_ends_at", "stock", "link_no", "origin", "produced_on", "description", "active",
)
# Fields kept on the product page and in the API but not (yet) in spreadsheets, whose columns are
# EDITABLE_FIELDS exactly.
PAGE_ONLY_FIELDS: tuple[str, ...] = ("selling_points",)
MAX_STOCK = 1_000_000_000
MAX_LINK_NO = 99_999
NAME_MAX = 40
# What the overlay shows well (catalog pages warn beyond it).
NAME_SHOWN_ON_VIDEO = 16
# A selling point is read at a glance mid-sentence: one short line.
SELLING_POINT_MAX = 40
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
# name → (SQL order clauses); "-" reverses. Ties are broken by id so pages are stable.
SORTS: dict[str, tuple[Any, ...]] = {
    "name": (Product.name_pinyin.asc(), Product.name.asc()),
    "-name": (Product.name_pinyin.desc(), Product.name.desc()),
    "price": (Product.price_fen.asc(),),
    "-price": (Product.price_fen.desc(),),
    "stock": (Product.stock.asc(),),
    "-stock": (Product.stock.desc(),),
    "sku": (Product.sku.asc(),),
    "link_no": (Product.link_no.asc().nulls_last(),),
    "newest": (Product.created_at.desc(),),
    "updated": (Product.updated_at.desc(),),
}


# ---------------------------------------------------------------------------------------------
# Validation: one place for every field, used by create, update and CSV import alike.


def _text(field: str, value: Any, label: str, *, max_len: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidProduct(N_("%(label)s必须是文字"), field, label=label)
    cleaned = " ".join(unicodedata.normalize("NFC", value).split())
    if has_hidden_characters(cleaned):
        raise InvalidProduct(N_("%(label)s含有不可见的控制字符"), field, label=label)
    if required and not cleaned:
        raise InvalidProduct(N_("%(label)s不能为空"), field, label=label)
    if len(cleaned) > max_len:
        raise InvalidProduct(N_("%(label)s最多 %(max)d 个字，现在 %(count)d 个"), field, label=label, max=max_len,
                             count=len(cleaned))
    return cleaned


def _whole(field: str, value: Any, label: str, *, low: int, high: int, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProduct(N_("%(label)s必须是整数"), field, label=label)
    if value < low:
        if low == 0:
            raise InvalidProduct(N_("%(label)s不能是负数"), field, label=label)
        raise InvalidProduct(N_("%(label)s最小是 %(low)d"), field, label=label, low=low)
    if value > high:
        raise InvalidProduct(N_("%(label)s太大（最多 %(high)d）"), field, label=label, high=high)
    return value


def _when(field: str, value: Any, label: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidProduct(N_("%(label)s必须是带时区的时间"), field, label=label)
    return value


def _day(field: str, value: Any, label: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidProduct(N_("%(label)s必须是日期"), field, label=label)
    return value


def _sku(value: Any) -> str:
    sku = _text("sku", value, N_("商品编号"), max_len=64, required=True)
    if not SKU_RE.match(sku):
        raise InvalidProduct(
            N_("商品编号只能用字母、数字和 - _ .：%(sku)s"), "sku", sku=sku
        )
    return sku


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidProduct(N_("上架必须是 是/否"), "active")
    return value


# field → cleaner(value) returning the stored value or raising InvalidProduct.
_CLEANERS: dict[str, Any] = {
    "sku": _sku,
    "name": lambda v: _text("name", v, N_("名称"), max_len=NAME_MAX, required=True),
    "name_en": lambda v: _text("name_en", v, N_("英文名"), max_len=80),
    "unit": lambda v: _text("unit", v, N_("单位"), max_len=8, required=True),
    "price_fen": lambda v: _whole("price_fen", v, N_("单价"), low=0, high=MAX_FEN),
    "promo_price_fen": lambda v: _whole("promo_price_fen", v, N_("促销价"), low=0, high=MAX_FEN, optional=True),
    "promo_starts_at": lambda v: _when("promo_starts_at", v, N_("促销开始时间")),
    "promo_ends_at": lambda v: _when("promo_ends_at", v, N_("促销结束时间")),
    "stock": lambda v: _whole("stock", v, N_("库存"), low=0, high=MAX_STOCK),
    "link_no": lambda v: _whole("link_no", v, N_("链接号"), low=1, high=MAX_LINK_NO, optional=True),
    "origin": lambda v: _text("origin", v, N_("产地"), max_len=60),
    "produced_on": lambda v: _day("produced_on", v, N_("生产/采收日期")),
    "description": lambda v: _text_block(v),
    "selling_points": lambda v: _selling_points(v),
    "active": _bool,
}


def _text_block(value: Any) -> str:
    """A description keeps its line breaks (unlike one-line fields)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidProduct(N_("描述必须是文字"), "description")
    cleaned = "\n".join(" ".join(line.split()) for line in value.replace("\r\n", "\n").split("\n")).strip()
    if has_hidden_characters(cleaned, lines=True):
        raise InvalidProduct(N_("描述含有不可见的控制字符"), "description")
    if len(cleaned) > 2000:
        raise InvalidProduct(N_("描述最多 %(max)d 个字"), "description", max=2000)
    return cleaned


def _selling_points(value: Any) -> str:
    """卖点: up to MAX_SELLING_POINTS short lines, each at most 40 characters; blank lines are dropped.
    Given as text with one point per line, or as the list of lines the API answers with."""
    if isinstance(value, list):
        if not all(isinstance(line, str) for line in value):
            raise InvalidProduct(N_("卖点必须是文字"), "selling_points")
        value = "\n".join(value)
    text = _text_block(value)
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > MAX_SELLING_POINTS:
        raise InvalidProduct(N_("卖点最多 %(max)d 条，一行一条"), "selling_points", max=MAX_SELLING_POINTS)
    if any(len(line) > SELLING_POINT_MAX for line in lines):
        raise InvalidProduct(N_("每条卖点最多 %(max)d 个字"), "selling_points", max=SELLING_POINT_MAX)
    return "\n".join(lines)


def clean_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise product fields (names as in :data:`EDITABLE_FIELDS`).

    Raises :class:`InvalidProduct` naming the first bad field, or for an unknown field.
    """
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        cleaner = _CLEANERS.get(field)
        if cleaner is None:
            raise InvalidProduct(N_("未知字段 %(name)s"), field, name=field)
        cleaned[field] = cleaner(value)
    return cleaned


def check_consistency(values: Mapping[str, Any]) -> None:
    """Rules across fields of a whole product. Raises :class:`InvalidProduct`."""
    promo = values.get("promo_price_fen")
    if promo is not None and promo > values["price_fen"]:
        raise InvalidProduct(N_("促销价 %(promo)s 不能高于单价 %(price)s"), "promo_price_fen",
                             promo=format_yuan(promo), price=format_yuan(values["price_fen"]))
    starts, ends = values.get("promo_starts_at"), values.get("promo_ends_at")
    if starts is not None and ends is not None and ends <= starts:
        raise InvalidProduct(N_("促销结束时间必须晚于开始时间"), "promo_ends_at")


def current_values(product: Product) -> dict[str, Any]:
    """The editable fields of ``product`` as a plain dict."""
    return {field: getattr(product, field) for field in (*EDITABLE_FIELDS, *PAGE_ONLY_FIELDS)}


def diff_fields(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``wanted`` that differ from ``current``."""
    return {field: value for field, value in wanted.items() if current.get(field) != value}


# ---------------------------------------------------------------------------------------------
# People


def require_manager(actor: User) -> None:
    """Raises :class:`NotAllowed` unless ``actor`` is a coordinator or an admin."""
    if actor.role not in MANAGERS:
        raise NotAllowed()


def owners_by_name(session: Session) -> dict[str, User]:
    """Every active user who may own products, by user name and by display name.

    A display name two people share is left out, so that only their user names find them.
    """
    users = session.scalars(select(User).where(User.role.in_(NAMED_OWNER_ROLES), User.active.is_(True))).all()
    found: dict[str, User] = {}
    shared: set[str] = set()
    for user in users:
        if user.display_name and user.display_name not in shared:
            if user.display_name in found:
                shared.add(user.display_name)
                del found[user.display_name]
            else:
                found[user.display_name] = user
    found.update({user.username: user for user in users})
    return found


def resolve_farmer(session: Session, name: str) -> User:
    """The owner named ``name`` (user name, or a display name only one person has).

    Raises :class:`UnknownFarmer` when nobody fits or the person cannot own products.
    """
    name = name.strip()
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        matches = session.scalars(select(User).where(User.display_name == name, User.role.in_(NAMED_OWNER_ROLES))).all()
        if len(matches) > 1:
            raise UnknownFarmer(name, N_("有 %(count)d 个人叫 %(name)s，请写用户名"), count=len(matches))
        user = matches[0] if matches else None
    if user is None or not user.active:
        raise UnknownFarmer(name)
    if user.role not in NAMED_OWNER_ROLES:
        raise UnknownFarmer(name, N_("%(name)s 不是农户，不能拥有商品"))
    return user


def _owner(session: Session, farmer: User | str | None, actor: User, current: User | None = None) -> User:
    """Who will own a product: the named farmer, else the actor (the station's own goods).

    Naming the actor or the product's ``current`` owner keeps what a page form sends back for a
    station-owned product. Raises :class:`UnknownFarmer`.
    """
    if farmer is None or farmer == "":
        return actor
    name = farmer.username if isinstance(farmer, User) else farmer.strip()
    for kept in (actor, current):
        if kept is not None and name == kept.username:
            return kept
    if isinstance(farmer, User):
        if farmer.role not in NAMED_OWNER_ROLES:
            raise UnknownFarmer(farmer.username, N_("%(name)s 不是农户，不能拥有商品"))
        return farmer
    return resolve_farmer(session, farmer)


# ---------------------------------------------------------------------------------------------
# Reading


def visible_to(viewer: User) -> ColumnElement[bool]:
    """The products ``viewer`` may see: a farmer only their own, managers all, others none."""
    if viewer.role == FARMER:
        return Product.farmer_id == viewer.id
    if viewer.role in MANAGERS:
        return Product.id.is_not(None)
    return Product.id.is_(None)


def get_product(session: Session, product_id: int, *, viewer: User | None = None) -> Product:
    """The product with this id. Raises :class:`ProductNotFound` (also when ``viewer`` may not see it)."""
    product = session.get(Product, product_id)
    if product is None:
        raise ProductNotFound(product_id)
    if viewer is not None and not _can_see(viewer, product):
        raise ProductNotFound(product_id)
    return product


def _can_see(viewer: User, product: Product) -> bool:
    return viewer.role in MANAGERS or (viewer.role == FARMER and product.farmer_id == viewer.id)


def search_key(text: str) -> str:
    """How a search box's text is compared: NFKC (full-width → half-width), trimmed, lower-case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def _product_query(
    viewer: User, *, q: str | None, farmer: str | None, active: bool | None
) -> Select[Product]:
    stmt = select(Product).where(visible_to(viewer))
    if q and search_key(q):
        key = search_key(q)
        letters = re.sub(r"[^a-z0-9]", "", key)
        matches: list[ColumnElement[bool]] = [
            Product.name.icontains(key, autoescape=True),
            Product.sku.icontains(key, autoescape=True),
            Product.name_en.icontains(key, autoescape=True),
        ]
        if letters and letters == key.replace(" ", ""):
            matches += [Product.name_pinyin.contains(letters), Product.name_initials.startswith(letters)]
        stmt = stmt.where(or_(*matches))
    if farmer:
        stmt = stmt.join(User, Product.farmer_id == User.id).where(User.username == farmer)
    if active is not None:
        stmt = stmt.where(Product.active.is_(active))
    return stmt


def list_products(
    session: Session,
    *,
    viewer: User,
    q: str | None = None,
    farmer: str | None = None,
    active: bool | None = None,
    sort: str = "name",
    limit: int | None = None,
    offset: int = 0,
) -> list[Product]:
    """Products ``viewer`` may see, filtered and sorted.

    ``q`` matches name, English name and sku (any part) and pinyin ("xiaomi", or initials "xm");
    ``farmer`` is a user name; ``sort`` is a key of :data:`SORTS` (unknown keys sort by name).
    """
    stmt = _product_query(viewer, q=q, farmer=farmer, active=active)
    stmt = stmt.order_by(*SORTS.get(sort, SORTS["name"]), Product.id.asc())
    stmt = stmt.options(selectinload(Product.farmer), selectinload(Product.photos))
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return list(session.scalars(stmt).all())


def count_products(
    session: Session, *, viewer: User, q: str | None = None, farmer: str | None = None, active: bool | None = None
) -> int:
    """How many products :func:`list_products` would return without a limit."""
    stmt = _product_query(viewer, q=q, farmer=farmer, active=active)
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def history(session: Session, product_id: int, *, limit: int = 100) -> list[ProductChange]:
    """The newest price and stock changes of a product, newest first."""
    stmt = (
        select(ProductChange)
        .where(ProductChange.product_id == product_id)
        .order_by(ProductChange.changed_at.desc(), ProductChange.id.desc())
        .options(selectinload(ProductChange.changed_by))
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


def farmers(session: Session) -> list[User]:
    """Everyone who may own products, for farmer pickers and filters."""
    stmt = select(User).where(User.role.in_(OWNER_ROLES), User.active.is_(True))
    return list(session.scalars(stmt.order_by(User.role.desc(), User.username)).all())


def product_to_dict(product: Product, *, now: datetime | None = None) -> dict[str, Any]:
    """The API shape of a product (shared/api.md): money in fen, times ISO 8601 with offset."""
    when = now or utcnow()
    return {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "name_en": product.name_en,
        "unit": product.unit,
        "price_fen": product.price_fen,
        "promo_price_fen": product.promo_price_fen,
        "promo_starts_at": _iso(product.promo_starts_at),
        "promo_ends_at": _iso(product.promo_ends_at),
        "price_now_fen": product.price_at(when),
        "stock": product.stock,
        "link_no": product.link_no,
        "farmer": product.farmer.username,
        "farmer_name": product.farmer.name,
        "origin": product.origin,
        "produced_on": product.produced_on.isoformat() if product.produced_on else None,
        "description": product.description,
        "selling_points": product.selling_point_lines,
        "active": product.active,
        "photos": [photo.stem for photo in product.photos],
        "updated_at": _iso(product.updated_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------------------------------------
# Writing


def new_sku(session: Session) -> str:
    """A sku nobody has yet, such as ``CB7F3A21``."""
    while True:
        sku = "CB" + secrets.token_hex(3).upper()
        if not sku_taken(session, sku):
            return sku


def sku_taken(session: Session, sku: str, *, except_id: int | None = None) -> bool:
    """True if another product has ``sku``."""
    stmt = select(Product.id).where(Product.sku == sku)
    if except_id is not None:
        stmt = stmt.where(Product.id != except_id)
    return session.scalar(stmt.limit(1)) is not None


def create_product(
    session: Session,
    *,
    actor: User,
    farmer: User | str | None,
    name: str,
    unit: str,
    price_fen: int,
    stock: int,
    sku: str | None = None,
    reason: Note | str = Note("product_created"),
    **optional: Any,
) -> Product:
    """Add a product. ``farmer`` is the owner (a User or user name; None: the actor's own goods).

    ``optional`` may hold any other field of :data:`EDITABLE_FIELDS`. The starting price and
    stock go into the history. Raises :class:`NotAllowed`, :class:`InvalidProduct`,
    :class:`DuplicateSku`, :class:`UnknownFarmer`.
    """
    require_manager(actor)
    values = clean_fields({"name": name, "unit": unit, "price_fen": price_fen, "stock": stock, **optional})
    values.setdefault("active", True)
    check_consistency(values)
    owner = _owner(session, farmer, actor)
    if sku is None or (isinstance(sku, str) and not sku.strip()):
        values["sku"] = new_sku(session)
    else:
        values["sku"] = _sku(sku)
        if sku_taken(session, values["sku"]):
            raise DuplicateSku(values["sku"])
    product = Product(farmer=owner, **values)
    session.add(product)
    session.flush()
    for field in TRACKED_FIELDS:
        if values.get(field) is not None:
            record_change(session, product.id, field, None, values[field], actor, reason)
    return product


def update_product(
    session: Session, product: Product, actor: User, *, reason: Note | str = "", **changes: Any
) -> list[str]:
    """Change fields of ``product`` (any of :data:`EDITABLE_FIELDS`, plus ``farmer``).

    Stock is set by atomic SQL; price and stock changes go into the history with ``reason``.
    Returns the names of the fields that really changed (empty: nothing to do). Raises
    :class:`NotAllowed`, :class:`InvalidProduct`, :class:`DuplicateSku`, :class:`UnknownFarmer`.
    """
    require_manager(actor)
    farmer = changes.pop("farmer", None)
    cleaned = clean_fields(changes)
    check_consistency({**current_values(product), **cleaned})
    changed = diff_fields(current_values(product), cleaned)
    if "sku" in changed and sku_taken(session, changed["sku"], except_id=product.id):
        raise DuplicateSku(changed["sku"])
    names = list(changed)
    if farmer is not None and farmer != "":
        owner = _owner(session, farmer, actor, product.farmer)
        if owner.id != product.farmer_id:
            product.farmer = owner
            names.append("farmer")
    stock = changed.pop("stock", None)
    for field, value in changed.items():
        if field in TRACKED_FIELDS:
            record_change(session, product.id, field, getattr(product, field), value, actor, reason)
        setattr(product, field, value)
    session.flush()
    if stock is not None:
        set_stock(session, product.id, stock, actor, reason)
    return names


def record_change(
    session: Session,
    product_id: int,
    field: str,
    old: int | None,
    new: int | None,
    actor: User | None,
    reason: Note | str,
) -> ProductChange:
    """Keep one price or stock change in the history: a system's reason as its code and values,
    a person's as typed (cut to 120 characters)."""
    text, code, args = split(reason, 120)
    change = ProductChange(
        product_id=product_id,
        field=field,
        old_value=old,
        new_value=new,
        reason=text,
        reason_code=code,
        reason_args=args,
        changed_by_id=actor.id if actor is not None else None,
    )
    session.add(change)
    return change


_products = cast(Table, Product.__table__)


def adjust_stock(session: Session, product_id: int, delta: int, actor: User | None, reason: Note | str) -> int:
    """Add ``delta`` (negative to take away) to a product's stock in one SQL statement.

    Returns the new stock. Raises :class:`OutOfStock` (nothing changed) when stock would go
    below zero, :class:`ProductNotFound` for an unknown id, :class:`InvalidProduct` for a
    non-integer delta.
    """
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidProduct(N_("库存变化必须是整数"), "stock")
    if abs(delta) > MAX_STOCK:  # also keeps the value inside a 64-bit SQL integer
        raise InvalidProduct(N_("库存太大（最多 %(max)d）"), "stock", max=MAX_STOCK)
    stmt = (
        update(_products)
        .where(_products.c.id == product_id, _products.c.stock + delta >= 0, _products.c.stock + delta <= MAX_STOCK)
        .values(stock=_products.c.stock + delta)
        .returning(_products.c.stock)
    )
    new = session.execute(stmt).scalar_one_or_none()
    if new is None:
        product = get_product(session, product_id)
        session.refresh(product, ["stock"])
        if delta > 0:
            raise InvalidProduct(N_("库存太大（最多 %(max)d）"), "stock", max=MAX_STOCK)
        raise OutOfStock(product_id, product.name, product.stock, -delta)
    stock_written(session, product_id, new)
    if delta:
        record_change(session, product_id, "stock", new - delta, new, actor, reason)
    return int(new)


def set_stock(session: Session, product_id: int, stock: int, actor: User | None, reason: Note | str) -> int:
    """Set stock to a counted value, recording the exact value it replaced.

    A compare-and-set (``WHERE stock = :seen``) retried while orders change it underneath, so the
    history never shows an old value that was not there. Raises :class:`InvalidProduct`,
    :class:`ProductNotFound`.
    """
    stock = _CLEANERS["stock"](stock)
    while True:
        seen = session.scalar(select(_products.c.stock).where(_products.c.id == product_id))
        if seen is None:
            raise ProductNotFound(product_id)
        if seen == stock:
            stock_written(session, product_id, stock)
            return stock
        done = session.execute(
            update(_products).where(_products.c.id == product_id, _products.c.stock == seen).values(stock=stock)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            stock_written(session, product_id, stock)
            record_change(session, product_id, "stock", seen, stock, actor, reason)
            return stock


def adjust_stocks(session: Session, deltas: Mapping[int, int], actor: User, reason: Note | str) -> dict[int, int]:
    """Bulk stock adjustment: ``{product_id: delta}`` → ``{product_id: new stock}``.

    All or nothing for the caller: on :class:`OutOfStock` (or :class:`ProductNotFound`) the
    caller rolls back and none of the changes stay. Raises :class:`NotAllowed` for a non-manager.
    """
    require_manager(actor)
    return {pid: adjust_stock(session, pid, delta, actor, reason) for pid, delta in deltas.items() if delta}
