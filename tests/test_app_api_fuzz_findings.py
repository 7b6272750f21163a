"""What the Schemathesis run (tests/test_app_schemathesis.py) found answering 500, each kept as a
test named after the behaviour: the request is refused with a 4xx and a message, and nothing it
would have stored breaks a later page."""
from __future__ import annotations

from tests.api_world import make_world

HUGE = 2**63


def _refused(answer) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= answer.status_code < 500, answer.get_data(as_text=True)
    assert answer.json["error"]


def test_skipping_a_plan_on_a_day_at_the_ends_of_the_calendar_is_refused(app, session):
    world = make_world(app, session)
    client = app.test_client()
    for day in ("0001-01-01", "9999-12-31"):
        _refused(client.post(f"/api/broadcasts/{world.ids['plan_id']}/skip", headers=world.headers("coordinator"),
                             json={"date": day}))


def test_plans_and_contests_at_the_ends_of_the_calendar_are_refused_and_the_lists_still_load(app, session):
    world = make_world(app, session)
    client = app.test_client()
    coordinator, trainer = world.headers("coordinator"), world.headers("trainer")
    for starts_at in ("0001-01-01T00:00:00", "9999-12-31T23:00:00"):
        _refused(client.post("/api/broadcasts", headers=coordinator, json={
            "title": "早市", "host": "wang", "starts_at": starts_at, "duration_min": 30, "repeat": "daily"}))
    _refused(client.patch(f"/api/broadcasts/{world.ids['plan_id']}", headers=coordinator,
                          json={"starts_at": "9999-12-31T23:59:00+00:00"}))
    _refused(client.post("/api/contests", headers=trainer, json={
        "title": "大赛", "starts_at": "2026-01-01T00:00:00+14:00", "ends_at": "9999-12-31T23:59:59-12:00",
        "participants": ["wang"]}))
    assert client.get("/api/broadcasts", headers=coordinator).status_code == 200
    assert client.get("/api/contests", headers=trainer).status_code == 200


def test_a_promotion_at_the_end_of_the_calendar_is_refused_and_the_export_still_works(app, session):
    world = make_world(app, session)
    client = app.test_client()
    coordinator = world.headers("coordinator")
    _refused(client.post("/api/products", headers=coordinator, json={
        "name": "腊肉", "unit": "斤", "price_fen": 6000, "stock": 3, "promo_price_fen": 5000,
        "promo_starts_at": "0001-01-01T00:00:00Z", "promo_ends_at": "9999-12-31T23:59:59Z"}))
    _refused(client.patch(f"/api/products/{world.ids['product_id']}", headers=coordinator,
                          json={"produced_on": "0001-01-01"}))
    assert client.get("/api/products/export.csv", headers=coordinator).status_code == 200


def test_ids_past_a_64_bit_integer_in_plan_lineups_and_contest_bodies_are_refused(app, session):
    world = make_world(app, session)
    client = app.test_client()
    contest = world.ids["contest_id"]
    _refused(client.post("/api/broadcasts", headers=world.headers("coordinator"), json={
        "title": "早市", "host": "wang", "starts_at": "2027-01-01T06:00:00", "duration_min": 30, "lineup": [HUGE]}))
    _refused(client.post(f"/api/contests/{contest}/entries", headers=world.headers("trainer"),
                         json={"host": "wang", "views": 1, "session_id": HUGE}))
    _refused(client.post(f"/api/contests/{contest}/adjustments", headers=world.headers("trainer"),
                         json={"host": "wang", "reason": "刷单", "order_id": HUGE, "disqualify": True}))


def test_an_id_past_what_an_integer_column_holds_is_not_found_not_a_server_error(app, session):
    """PostgreSQL's INTEGER stops at 2³¹ − 1: a larger id in a URL or a body reached it and
    answered 500 (Schemathesis on PostgreSQL); SQLite never showed it."""
    world = make_world(app, session)
    client = app.test_client()
    for path in ("/api/broadcasts/2153326029", "/api/orders/1832247721101674", "/api/clips/3705872058659710/file"):
        answer = client.get(path, headers=world.headers("coordinator"))
        assert answer.status_code in (404, 405), (path, answer.status_code)
    _refused(client.post("/api/orders", headers=world.headers("coordinator"), json={
        "product_id": 2**31, "quantity": 1, "buyer_phone": "13800138000", "channel": "phone"}))
