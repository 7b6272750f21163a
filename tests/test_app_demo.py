"""``flask demo`` loads people, products and orders once, and a second run adds nothing."""
from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import User
from catalog.models import Product
from orders.models import Order


def test_demo_data_loads_once(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "wangdajie" in first.output and "PIN 1234" in first.output
    counts = lambda: tuple(session.scalar(select(func.count()).select_from(m)) for m in (User, Product, Order))  # noqa: E731
    assert counts() == (5, 5, 3)
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert counts() == (5, 5, 3)
