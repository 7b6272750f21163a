"""Hostile input gets a 4xx and a reason, never a 500 (issue 15 #7), and loose input is refused (#8)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from catalog.models import Product
from orders.models import Order
from tests import factories
from tests.conftest import csrf_token, login

HUGE = 2**63


@pytest.fixture
def shop(session, api_as):
    farmer = factories.user(session, "farmer", "wang")
    coordinator = factories.user(session, "coordinator", "coord")
    factories.user(session, "partner", "coop")
    rice = factories.product(session, farmer, name="富硒大米", stock=10)
    return {"farmer": farmer, "coordinator": coordinator, "rice": rice, "api": api_as(coordinator)}


def order_body(product_id, **changes):  # type: ignore[no-untyped-def]
    body = {"product_id": product_id, "quantity": 1, "buyer_name": "李四", "buyer_phone": "13800138000",
            "address": "浙江省杭州市西湖区文三路 1 号", "channel": "phone"}
    return {**body, **changes}


def test_ids_past_a_64_bit_integer_are_4xx_on_routes_bodies_and_queries(shop):
    api = shop["api"]
    answers = [
        api.patch(f"/api/products/{HUGE}", json={"stock": 1}),
        api.get(f"/api/orders/{HUGE}"),
        api.post("/api/orders", json=order_body(HUGE)),
        api.post("/api/orders", json=order_body(shop["rice"].id, session_id=HUGE)),
        api.post("/api/handoffs", json={"order_ids": [HUGE], "partner": "coop"}),
        api.get(f"/api/orders?session_id={HUGE}"),
        api.get("/api/orders?handoff_id=²"),
        api.post("/api/live/show", json={"product_id": HUGE}),
        api.post("/api/products", json={"name": "米", "unit": "斤", "price_fen": HUGE, "stock": 1}),
    ]
    # Past 2⁶³ a URL matches no route (werkzeug answers 405 where another method has the path).
    assert [r.status_code for r in answers[:2]] in ([404, 404], [405, 404])
    assert [r.status_code for r in answers[2:]] == [400] * 7, [r.json for r in answers[2:]]


def test_page_forms_with_strange_numbers_are_4xx(shop, client):
    login(client, "coord")
    token = csrf_token(client)
    rice = shop["rice"]
    huge_delta = client.post("/catalog/stock", data={f"delta-{rice.id}": "1" + "0" * 23, "csrf_token": token})
    assert huge_delta.status_code in (400, 409)
    superscript = client.post("/handoffs/new", data={"order_ids": ["²"], "partner": "coop", "csrf_token": token})
    assert superscript.status_code < 500
    assert client.get("/orders/new?product=²").status_code == 200


def test_json_that_cannot_be_stored_or_parsed_is_400(shop):
    api = shop["api"]
    surrogate = api.client.post("/api/orders", data='{"product_id": 1, "buyer_name": "\\ud800"}',
                                headers={**api.headers, "Content-Type": "application/json"})
    nested = api.client.post("/api/orders", data="[" * 100_000 + "]" * 100_000,
                             headers={**api.headers, "Content-Type": "application/json"})
    assert (surrogate.status_code, nested.status_code) == (400, 400)
    assert surrogate.json["error"] and nested.json["error"]


def test_unknown_keys_and_booleans_for_numbers_are_refused(shop, session):
    api = shop["api"]
    rice = shop["rice"]
    assert api.post("/api/orders", json=order_body(rice.id, extra=1)).status_code == 400
    assert api.post("/api/orders", json=order_body(rice.id, quantity=True)).status_code == 400
    assert api.post("/api/orders", json=order_body(True)).status_code == 400
    assert api.post("/api/handoffs", json={"order_ids": [1], "partner": "coop", "extra": 1}).status_code == 400
    assert api.post("/api/products", json={"name": "米", "unit": "斤", "price_fen": True, "stock": 1}).status_code == 400
    assert session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("text", ["a\u0000b", "\x1b[31m红色", "李\u202e四", "李\u200b四"])
def test_hidden_characters_in_an_order_are_refused(shop, session, text):
    for field in ("buyer_name", "address"):
        response = shop["api"].post("/api/orders", json=order_body(shop["rice"].id, **{field: text}))
        assert response.status_code == 400, (field, response.json)
    assert session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("name", ["富硒\u202e大米", "富硒\u200b大米", "富硒\x1b[31m大米"])
def test_hidden_characters_in_a_product_name_are_refused(shop, session, name):
    response = shop["api"].post("/api/products", json={"name": name, "unit": "斤", "price_fen": 100, "stock": 1})
    assert response.status_code == 400 and response.json.get("field") == "name"
    assert session.scalar(select(func.count()).select_from(Product)) == 1


def test_a_coordinator_cannot_be_named_as_a_products_farmer(shop, session):
    factories.user(session, "coordinator", "other_station")
    api = shop["api"]
    named = api.post("/api/products", json={"name": "米", "unit": "斤", "price_fen": 100, "stock": 1,
                                            "farmer": "other_station"})
    assert named.status_code == 400 and named.json["field"] == "farmer"
    moved = api.patch(f"/api/products/{shop['rice'].id}", json={"farmer": "other_station"})
    assert moved.status_code == 400
    own = api.post("/api/products", json={"name": "村里的茶", "unit": "盒", "price_fen": 100, "stock": 1})
    assert own.status_code == 201 and own.json["farmer"] == "coord", "the station's own goods stay possible"


def test_pages_given_huge_numbers_and_hidden_characters_never_answer_500(shop, client):
    login(client, "coord")
    token = csrf_token(client)
    rice, huge = shop["rice"], str(2**64)
    urls = [f"/catalog/?page={huge}", f"/orders/?page={huge}", f"/orders/?session_id={huge}",
            f"/orders/?handoff_id={huge}", f"/catalog/stock?farmer={huge}", f"/live/sessions/{huge}",
            f"/orders/new?product={huge}", f"/catalog/{huge}", "/orders/?status=%00"]
    forms = [
        ("/catalog/new", {"name": "米", "unit": "斤", "price": "1" + "0" * 30, "stock": huge}),
        (f"/catalog/{rice.id}/edit", {"name": "米", "unit": "斤", "price": "1", "stock": huge, "link_no": huge}),
        ("/orders/new", {"product_id": huge, "quantity": huge, "buyer_name": "李四", "buyer_phone": "13800138000",
                         "address": "杭州", "channel": "phone", "packages": huge}),
        ("/orders/new", {"product_id": str(rice.id), "quantity": "1", "buyer_name": "李\x00四",
                         "buyer_phone": "13800138000", "address": "杭州\u202e", "channel": "phone"}),
    ]
    answers = {url: client.get(url).status_code for url in urls}
    answers.update({url: client.post(url, data={**data, "csrf_token": token}).status_code for url, data in forms})
    assert {url: status for url, status in answers.items() if status >= 500} == {}


def test_nul_in_a_query_form_or_json_field_is_400_on_every_database(shop, client):
    api = shop["api"]
    assert api.get("/api/orders?farmer=%00").status_code == 400
    assert api.post("/api/products", json={"name": "米", "unit": "斤", "price_fen": 1, "stock": 1,
                                           "farmer": "wang\x00"}).status_code == 400
    assert api.post("/api/handoffs", json={"order_ids": [1], "partner": "\x00"}).status_code == 400
    token = csrf_token(client)
    assert client.post("/auth/login", data={"username": "co\x00ord", "password": "x",
                                            "csrf_token": token}).status_code == 400
