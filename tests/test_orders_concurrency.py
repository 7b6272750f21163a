"""Twenty buyers race for the last five units through the real HTTP server: nothing is oversold."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from catalog.models import Product, ProductChange
from orders.models import Order
from tests import factories

BUYERS = 20
LAST_UNITS = 5


def post_json(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_twenty_concurrent_orders_for_the_last_five_units_make_exactly_five_orders(server_url, session):
    farmer = factories.user(session, "farmer", "wang")
    coordinator = factories.user(session, "coordinator", "coord")
    product = factories.product(session, farmer, name="最后五箱橙子", unit="箱", stock=LAST_UNITS)
    # Each buyer's script has its own token, as separate phones and PCs would.
    tokens = [factories.token_for(session, farmer if i % 2 else coordinator) for i in range(BUYERS)]
    start = threading.Barrier(BUYERS)

    def buy(i: int) -> tuple[int, dict]:
        start.wait()
        return post_json(f"{server_url}/api/orders", tokens[i], {
            "product_id": product.id, "quantity": 1, "buyer_name": f"买家{i}", "buyer_phone": "13800138000",
            "address": "杭州市文三路 1 号", "channel": "douyin", "platform_order_no": f"DY{i:04d}",
        })

    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        answers = list(pool.map(buy, range(BUYERS)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * LAST_UNITS + [409] * (BUYERS - LAST_UNITS), answers
    refusals = [body["error"] for status, body in answers if status == 409]
    assert all(message.startswith("库存不足") for message in refusals), refusals
    session.expire_all()
    assert session.scalar(select(Product.stock).where(Product.id == product.id)) == 0
    assert session.scalar(select(func.count()).select_from(Order)) == LAST_UNITS
    created = {body["id"] for status, body in answers if status == 201}
    assert set(session.scalars(select(Order.id))) == created
    # The stock history tells the same story: five decrements ending at zero.
    history = session.scalars(select(ProductChange).where(ProductChange.field == "stock")).all()
    assert len(history) == LAST_UNITS and min(c.new_value for c in history) == 0
