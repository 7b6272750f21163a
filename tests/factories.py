"""Data for tests, made through the same operations the app uses."""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from accounts import services as accounts
from accounts.models import User

if TYPE_CHECKING:
    from catalog.models import Product
    from contests.models import Contest
    from orders.models import Handoff, Order

PASSWORD = "password123"
_seq = itertools.count(1)


def user(session: Session, role: str, username: str | None = None, **kw) -> User:  # type: ignore[no-untyped-def]
    """A committed user of ``role`` with password :data:`PASSWORD`."""
    name = username or f"{role}{next(_seq)}"
    created = accounts.create_user(session, name, role, kw.pop("password", PASSWORD), **kw)
    session.commit()
    return created


def token_for(session: Session, who: User) -> str:
    """A committed API token for ``who``."""
    token = accounts.issue_token(session, who, "test")
    session.commit()
    return token


def product(session: Session, farmer: User, **kw) -> "Product":  # type: ignore[no-untyped-def,name-defined]
    """A committed product of ``farmer``; any column may be given."""
    from catalog.models import Product  # noqa: F811 (imported for real here, for typing above)

    n = next(_seq)
    values = {"sku": f"SKU{n:05d}", "name": f"小米{n}", "unit": "斤", "price_fen": 2500, "stock": 100}
    values.update(kw)
    created = Product(farmer_id=farmer.id, **values)
    session.add(created)
    session.commit()
    return created


def order(session: Session, product: "Product", actor: User | None = None, **kw) -> "Order":  # type: ignore[no-untyped-def,name-defined]
    """A committed order of ``product`` logged by ``actor`` (default: the product's farmer)."""
    from orders import services as orders
    from orders.models import Order

    values = {"quantity": 1, "buyer_name": "李四", "buyer_phone": "13800138000",
              "address": "浙江省杭州市西湖区文三路 1 号", "channel": "phone"}
    values.update(kw)
    created = orders.log_order(session, actor=actor or product.farmer, product_id=product.id, **values)
    session.commit()
    return session.get(Order, created["id"])


def handoff(session: Session, orders_: list, actor: User, partner: User) -> "Handoff":  # type: ignore[no-untyped-def,name-defined]
    """A committed hand-off of ``orders_`` from ``actor`` to ``partner``."""
    from orders import services as orders

    created = orders.hand_off(session, actor=actor, order_ids=[o.id for o in orders_], partner=partner.username)
    session.commit()
    return created


def catalog_csv(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    """A CSV file as Excel writes it (CRLF) in ``encoding``; rows[0] is the header."""
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def workbook(rows: list[list[object]]) -> bytes:
    """An Excel .xlsx workbook (made by openpyxl) whose first sheet holds ``rows``, cells typed as
    given (numbers, dates and None stay what they are, as Excel keeps them)."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def image_bytes(size: tuple[int, int] = (64, 48), fmt: str = "JPEG", color: str = "red", exif_orientation: int | None = None) -> bytes:
    """A real picture made by Pillow (optionally with an EXIF orientation tag)."""
    import io

    from PIL import Image

    image = Image.new("RGB", size, color)
    image.paste("blue", (0, 0, size[0] // 2, size[1]))  # left half blue: shows which way is up
    out = io.BytesIO()
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def contest(session: Session, trainer: User, farmers: list, **kw) -> "Contest":  # type: ignore[no-untyped-def,name-defined]
    """A committed contest of ``trainer`` among ``farmers`` (users, or (user, phone) pairs).

    ``starts_at``/``ends_at`` default to a window around now; any :class:`contests.services.Rules`
    field may be given.
    """
    from datetime import timedelta

    from contests import services as contests
    from db import utcnow

    now = utcnow()
    starts_at = kw.pop("starts_at", now - timedelta(hours=1))
    ends_at = kw.pop("ends_at", now + timedelta(hours=1))
    people = [(f[0].username, f[1]) if isinstance(f, tuple) else (f.username, "") for f in farmers]
    created = contests.create_contest(session, actor=trainer, title=kw.pop("title", "冬季直播大赛"),
                                      starts_at=starts_at, ends_at=ends_at, participants=people,
                                      rules=contests.Rules(**kw))
    session.commit()
    return created


def bomb_workbook(rows: int = 64_000, columns: int = 200) -> bytes:
    """An .xlsx of ~13 M one-digit cells, unpacking to just under the 200 MB cap, without the
    columns any import needs. Made in memory: call it in a child process, or cache it."""
    import io
    import zipfile

    template = zipfile.ZipFile(io.BytesIO(workbook([["x"]])))
    row = "".join(f"<c><v>{i % 10}</v></c>" for i in range(columns))
    body = "".join(f"<row>{row}</row>" for _ in range(rows))
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for item in template.infolist():
            data = sheet.encode() if item.filename == "xl/worksheets/sheet1.xml" else template.read(item)
            book.writestr(item.filename, data)
    return out.getvalue()
