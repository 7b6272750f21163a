"""A small village with something behind every API route: one of each role, products of two
farmers, orders (one handed off, picked up and shipped), an ended live with a product segment, a
contest and a broadcast plan. The API tests call each route against it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from db import utcnow
from live.models import LiveSession, Segment
from orders import services as orders
from tests import factories

# One user per role; the first farmer is the host of the live and the plan.
ROLE_USERS = {"farmer": "wang", "coordinator": "coord", "partner": "coop", "trainer": "jiangshi", "admin": "boss"}


@dataclass
class World:
    """Ids of what was made, and an API token per role."""

    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_world(app: Flask, session: Session) -> World:
    """Fill the (empty) database of ``app`` and return what the tests need to call it."""
    world = World()
    users = {role: factories.user(session, role, name) for role, name in ROLE_USERS.items()}
    other_farmer = factories.user(session, "farmer", "li")
    for role, user in users.items():
        world.tokens[role] = factories.token_for(session, user)
    rice = factories.product(session, users["farmer"], name="富硒大米", stock=50, link_no=1)
    tea = factories.product(session, other_farmer, name="高山绿茶", unit="盒", price_fen=8800, stock=5)
    now = utcnow()
    live = LiveSession(host_id=users["farmer"].id, station_id=app.config["STATION_ID"],
                       started_at=now - timedelta(hours=2), ended_at=now - timedelta(hours=1), end_reason="stopped")
    live.segments.append(Segment(product_id=rice.id, start_s=0.0, end_s=600.0))
    session.add(live)
    session.commit()
    sold = factories.order(session, rice, session_id=live.id)
    shipped = factories.order(session, rice)
    factories.order(session, tea)
    batch = factories.handoff(session, [shipped], users["coordinator"], users["partner"])
    orders.ack_handoff(session, actor=users["partner"], handoff_id=batch.id)
    orders.add_shipment(session, actor=users["partner"], order_id=shipped.id, carrier="邮政", tracking_no="9876543210")
    session.commit()
    contest = factories.contest(session, users["trainer"], [users["farmer"], other_farmer])
    world.ids.update(product_id=rice.id, other_product_id=tea.id, session_id=live.id, order_id=sold.id,
                     shipped_order_id=shipped.id, handoff_id=batch.id, contest_id=contest.id)
    client = app.test_client()
    plan = client.post("/api/broadcasts", headers=world.headers("coordinator"), json={
        "title": "早市直播", "host": "wang", "starts_at": (now + timedelta(days=2)).isoformat(), "duration_min": 30,
        "lineup": [rice.id]})
    assert plan.status_code == 201, plan.get_json()
    world.ids["plan_id"] = plan.get_json()["id"]
    entry = client.post(f"/api/contests/{contest.id}/entries", headers=world.headers("trainer"),
                        json={"host": "wang", "views": 120, "likes": 30})
    assert entry.status_code == 201, entry.get_json()
    world.ids["entry_id"] = entry.get_json()["id"]
    return world


def path_values(world: World) -> dict[str, Any]:
    """A real value for each path parameter name of the API."""
    ids = world.ids
    return {"product_id": ids["product_id"], "order_id": ids["order_id"], "handoff_id": ids["handoff_id"],
            "session_id": ids["session_id"], "plan_id": ids["plan_id"], "contest_id": ids["contest_id"],
            "entry_id": ids["entry_id"], "clip_id": 1, "job_id": "nosuchjob"}
