"""Every field of every JSON body, given hostile values (huge and negative numbers, booleans,
lists, hidden characters, NUL, long text), answers 4xx or success, never 500 (issue 15 #7)."""
from __future__ import annotations

import itertools

from tests import factories

H = 2**63
VALUES = [None, True, -1, 0, H, -H - 1, 1.5, "", "x" * 5000, "\u202e", "\x00", [], {}, [1], {"a": 1}, "2025-13-45", "１２"]


def test_hostile_values_in_any_api_body_field_never_answer_500(session, api_as):
    farmer = factories.user(session, "farmer", "wang")
    coord = factories.user(session, "coordinator", "coord")
    partner = factories.user(session, "partner", "coop")
    p = factories.product(session, farmer)
    o = factories.order(session, p)
    factories.handoff(session, [o], coord, partner)
    o2 = factories.order(session, p)
    api = api_as(coord)
    papi = api_as(partner)
    bad = []
    bodies = {
        ("post", "/api/products"): {"name": "米", "unit": "斤", "price_fen": 1, "stock": 1},
        ("patch", f"/api/products/{p.id}"): {"name": "米"},
        ("post", "/api/orders"): {"product_id": p.id, "quantity": 1, "buyer_name": "李", "buyer_phone": "13800138000", "address": "杭州", "channel": "phone"},
        ("patch", f"/api/orders/{o2.id}"): {"quantity": 1},
        ("post", "/api/handoffs"): {"order_ids": [o2.id], "partner": "coop"},
        ("post", f"/api/orders/{o.id}/shipment"): {"carrier": "SF", "tracking_no": "SF12345678"},
    }
    fields = {
        ("post", "/api/products"): ["name", "unit", "price_fen", "stock", "sku", "farmer", "promo_price_fen", "promo_starts_at", "link_no", "produced_on", "description", "active", "origin"],
        ("patch", f"/api/products/{p.id}"): ["name", "stock", "farmer", "promo_ends_at", "reason", "link_no"],
        ("post", "/api/orders"): ["product_id", "quantity", "buyer_name", "buyer_phone", "address", "channel", "platform_order_no", "session_id", "packages"],
        ("patch", f"/api/orders/{o2.id}"): ["quantity", "packages", "buyer_name", "address", "buyer_phone"],
        ("post", "/api/handoffs"): ["order_ids", "partner", "note"],
        ("post", f"/api/orders/{o.id}/shipment"): ["carrier", "tracking_no"],
    }
    for (method, path), base in bodies.items():
        who = papi if "shipment" in path else api
        for field, value in itertools.product(fields[(method, path)], VALUES):
            r = getattr(who, method)(path, json={**base, field: value})
            if r.status_code >= 500:
                bad.append((path, field, repr(value)[:30], r.status_code))
    assert bad == []
