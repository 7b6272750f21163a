"""Data for tests, made through the same operations the app uses."""
from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from accounts import services as accounts
from accounts.models import User

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
    from catalog.models import Product

    n = next(_seq)
    values = {"sku": f"SKU{n:05d}", "name": f"小米{n}", "unit": "斤", "price_fen": 2500, "stock": 100}
    values.update(kw)
    created = Product(farmer_id=farmer.id, **values)
    session.add(created)
    session.commit()
    return created
