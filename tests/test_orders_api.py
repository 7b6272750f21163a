"""The orders JSON API as scripts and the live console use it (shared/api.md)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from catalog.models import Product
from tests import factories

ORDER = {"quantity": 2, "buyer_name": "李四", "buyer_phone": "138 0013 8000",
         "address": "杭州市文三路 1 号", "channel": "douyin"}


@pytest.fixture
def world(session, api_as):
    farmer = factories.user(session, "farmer", "wang")
    other = factories.user(session, "farmer", "zhao")
    coordinator = factories.user(session, "coordinator", "coord")
    partner = factories.user(session, "partner", "coop")
    trainer = factories.user(session, "trainer", "teacher")
    rice = factories.product(session, farmer, name="富硒大米", price_fen=2550, stock=10)
    eggs = factories.product(session, other, name="土鸡蛋", unit="盒", price_fen=3000, stock=10)
    return {
        "farmer": farmer, "other": other, "coordinator": coordinator, "partner": partner, "rice": rice, "eggs": eggs,
        "api": {name: api_as(u) for name, u in
                [("farmer", farmer), ("other", other), ("coordinator", coordinator), ("partner", partner),
                 ("trainer", trainer)]},
    }


def test_posting_an_order_answers_201_with_id_status_and_total(world, session):
    response = world["api"]["coordinator"].post("/api/orders", json={**ORDER, "product_id": world["rice"].id})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "new" and body["total_fen"] == 5100 and isinstance(body["id"], int)
    assert body["buyer_phone"] == "13800138000" and body["farmer"] == "wang"
    assert session.scalar(select(Product.stock).where(Product.id == world["rice"].id)) == 8


def test_short_stock_answers_409_with_a_readable_reason(world):
    response = world["api"]["farmer"].post("/api/orders", json={**ORDER, "quantity": 11, "product_id": world["rice"].id})
    assert response.status_code == 409
    assert response.json["error"].startswith("库存不足")


def test_a_duplicate_platform_order_number_answers_409_with_the_existing_id(world, session):
    body = {**ORDER, "product_id": world["rice"].id, "channel": "taobao", "platform_order_no": "TB778899"}
    first = world["api"]["farmer"].post("/api/orders", json=body)
    again = world["api"]["farmer"].post("/api/orders", json=body)
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json["id"] == first.json["id"]
    assert "TB778899" in again.json["error"]
    assert session.scalar(select(Product.stock).where(Product.id == world["rice"].id)) == 8


def test_bad_input_answers_400_naming_the_problem(world):
    api = world["api"]["farmer"]
    assert api.post("/api/orders", json={**ORDER, "product_id": world["rice"].id, "buyer_phone": "123"}).status_code == 400
    response = api.post("/api/orders", json={"product_id": world["rice"].id})
    assert response.status_code == 400 and {f["field"] for f in response.json["fields"]} >= {"quantity", "channel"}
    response = api.post("/api/orders", json={**ORDER, "product_id": world["rice"].id, "channel": "amazon"})
    assert response.status_code == 400 and "渠道" in response.json["error"]


def test_a_farmer_sells_only_their_own_products_and_sees_only_their_orders(world):
    farmer, other = world["api"]["farmer"], world["api"]["other"]
    assert farmer.post("/api/orders", json={**ORDER, "product_id": world["eggs"].id}).status_code == 404
    mine = farmer.post("/api/orders", json={**ORDER, "product_id": world["rice"].id}).json
    theirs = other.post("/api/orders", json={**ORDER, "product_id": world["eggs"].id}).json
    assert [o["id"] for o in farmer.get("/api/orders").json] == [mine["id"]]
    assert farmer.get(f"/api/orders/{theirs['id']}").status_code == 404
    assert farmer.post(f"/api/orders/{theirs['id']}/cancel").status_code == 404
    listed = world["api"]["coordinator"].get("/api/orders?farmer=zhao").json
    assert [o["id"] for o in listed] == [theirs["id"]]


def test_roles_that_may_not_log_orders_get_403(world):
    for role in ("partner", "trainer"):
        response = world["api"][role].post("/api/orders", json={**ORDER, "product_id": world["rice"].id})
        assert response.status_code == 403
    assert world["api"]["trainer"].get("/api/orders").status_code == 403


def test_the_list_filters_by_status_and_session(world, session):
    from live.models import LiveSession

    live = LiveSession(host_id=world["farmer"].id)
    session.add(live)
    session.commit()
    api = world["api"]["farmer"]
    during = api.post("/api/orders", json={**ORDER, "product_id": world["rice"].id, "session_id": live.id}).json
    other = api.post("/api/orders", json={**ORDER, "quantity": 1, "product_id": world["rice"].id}).json
    api.post(f"/api/orders/{other['id']}/cancel")
    assert [o["id"] for o in api.get(f"/api/orders?session_id={live.id}").json] == [during["id"]]
    assert [o["id"] for o in api.get("/api/orders?status=cancelled").json] == [other["id"]]
    listed = api.get("/api/orders").json[0]
    assert {"id", "product_id", "quantity", "status", "total_fen", "platform_order_no"} <= set(listed)
    assert api.get("/api/orders?status=lost").status_code == 400


def test_cancel_returns_the_order_and_the_stock(world, session):
    api = world["api"]["coordinator"]
    order = api.post("/api/orders", json={**ORDER, "quantity": 3, "product_id": world["rice"].id}).json
    response = api.post(f"/api/orders/{order['id']}/cancel")
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert session.scalar(select(Product.stock).where(Product.id == world["rice"].id)) == 10
    detail = api.get(f"/api/orders/{order['id']}").json
    assert [(e["from"], e["to"], e["by"]) for e in detail["events"]] == [(None, "new", "coord"), ("new", "cancelled", "coord")]


def test_patch_corrects_a_new_order(world):
    api = world["api"]["farmer"]
    order = api.post("/api/orders", json={**ORDER, "product_id": world["rice"].id}).json
    response = api.patch(f"/api/orders/{order['id']}", json={"quantity": 4, "address": "新地址"})
    assert response.status_code == 200
    assert (response.json["quantity"], response.json["total_fen"], response.json["address"]) == (4, 10200, "新地址")


def test_browser_sessions_need_the_csrf_token(world, client):
    from tests.conftest import csrf_token, login

    login(client, "wang")
    body = {**ORDER, "product_id": world["rice"].id}
    assert client.post("/api/orders", json=body).status_code == 400
    response = client.post("/api/orders", json=body, headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 201
