"""The contests API as shared/api.md has it: create, leaderboard (full and public), entries, adjustments."""
from __future__ import annotations

from datetime import timedelta

from accounts.roles import FARMER, PARTNER, TRAINER
from db import utcnow
from tests import factories


def _setup(session):
    trainer = factories.user(session, TRAINER, "jiangshi")
    wang = factories.user(session, FARMER, "wang", display_name="王大姐")
    li = factories.user(session, FARMER, "li", display_name="李大哥")
    return trainer, wang, li


def _body(**kw):
    now = utcnow()
    body = {"title": "冬季直播大赛", "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), "metric": "gmv",
            "participants": ["wang", {"host": "li", "phone": "13900001111"}]}
    body.update(kw)
    return body


def test_a_trainer_creates_a_contest_and_reads_its_board(session, api_as):
    trainer, wang, li = _setup(session)
    api = api_as(trainer)
    created = api.post("/api/contests", json=_body())
    assert created.status_code == 201, created.get_json()
    contest_id = created.get_json()["id"]
    factories.order(session, factories.product(session, wang, price_fen=2000), quantity=2)
    factories.order(session, factories.product(session, li, price_fen=500), buyer_phone="13900001111")
    board = api.get(f"/api/contests/{contest_id}/leaderboard")
    assert board.status_code == 200
    rows = board.get_json()
    assert [(r["rank"], r["host"], r["gmv_fen"], r["orders"], r["score"]) for r in rows] == [
        (1, "wang", 4000, 1, 4000.0), (2, "li", 0, 0, 0.0)]
    assert rows[1]["flags"][0]["kind"] == "self_order" and "breakdown" in rows[0]
    public = api.get(f"/api/contests/{contest_id}/leaderboard?as=public").get_json()
    assert public[1]["flags"] == [] and board.headers["X-Board-Frozen"] == "0"


def test_weights_and_step_are_taken_and_patched(session, api_as):
    trainer, _wang, _li = _setup(session)
    api = api_as(trainer)
    created = api.post("/api/contests", json=_body(metric="weighted", weights={"views": 10, "gmv": 50},
                                                   rank_step=1, freeze_min=30)).get_json()
    assert created["weights"] == {"views": 10, "likes": 20, "orders": 20, "gmv": 50}
    assert (created["rank_step"], created["freeze_min"]) == (1, 30)
    patched = api.patch(f"/api/contests/{created['id']}", json={"rank_step": 2}).get_json()
    assert (patched["rank_step"], patched["weights"]["gmv"], patched["metric"]) == (2, 50, "weighted")


def test_bad_contests_are_400_and_other_roles_403(session, api_as):
    trainer, wang, _li = _setup(session)
    now = utcnow()
    bad = api_as(trainer).post("/api/contests", json=_body(ends_at=(now - timedelta(days=1)).isoformat()))
    assert bad.status_code == 400 and "结束时间" in bad.get_json()["error"]
    unknown = api_as(trainer).post("/api/contests", json=_body(participants=["nobody"]))
    assert unknown.status_code == 400
    assert api_as(wang).post("/api/contests", json=_body()).status_code == 403


def test_entries_keep_who_and_when_and_adjustments_are_audited(session, api_as):
    trainer, wang, _li = _setup(session)
    contest_id = api_as(trainer).post("/api/contests", json=_body(metric="weighted")).get_json()["id"]
    own = api_as(wang).post(f"/api/contests/{contest_id}/entries", json={"host": "wang", "views": 300})
    assert own.status_code == 201
    entry = own.get_json()
    assert entry["entered_by"] == "wang" and entry["verified_at"] is None and entry["entered_at"]
    verified = api_as(trainer).post(f"/api/contests/{contest_id}/entries/{entry['id']}/verify")
    assert verified.get_json()["verified_by"] == "jiangshi"
    adjusted = api_as(trainer).post(f"/api/contests/{contest_id}/adjustments",
                                    json={"host": "wang", "points": -1.5, "reason": "直播迟到"})
    assert adjusted.status_code == 201 and adjusted.get_json()["by"] == "jiangshi"
    rows = api_as(trainer).get(f"/api/contests/{contest_id}/leaderboard").get_json()
    wang_row = next(r for r in rows if r["host"] == "wang")
    assert wang_row["views"] == 300 and wang_row["breakdown"]["adjustment"] == -1.5
    assert wang_row["score"] == 20 - 1.5  # first in views, nothing else
    no_reason = api_as(trainer).post(f"/api/contests/{contest_id}/adjustments", json={"host": "wang", "points": 1,
                                                                                      "reason": ""})
    assert no_reason.status_code == 400
    by_farmer = api_as(wang).post(f"/api/contests/{contest_id}/adjustments",
                                  json={"host": "wang", "points": 5, "reason": "我想加分"})
    assert by_farmer.status_code == 403


def test_the_partner_cannot_see_contests(session, api_as):
    trainer, _wang, _li = _setup(session)
    contest_id = api_as(trainer).post("/api/contests", json=_body()).get_json()["id"]
    partner = factories.user(session, PARTNER)
    assert api_as(partner).get(f"/api/contests/{contest_id}/leaderboard").status_code == 404


def test_errors_follow_the_language(session, api_as):
    trainer, _wang, _li = _setup(session)
    api = api_as(trainer)
    api.client.get("/lang/en")
    answer = api.post("/api/contests", json=_body(participants=["nobody"]))
    assert answer.status_code == 400 and "nobody" in answer.get_json()["error"]
    assert "参赛人" not in answer.get_json()["error"]


def test_during_the_freeze_the_public_board_holds_and_the_trainer_sees_all(session, api_as):
    trainer, wang, li = _setup(session)
    now = utcnow()
    body = _body(starts_at=(now - timedelta(hours=2)).isoformat(), ends_at=(now + timedelta(minutes=10)).isoformat(),
                 freeze_min=30)
    contest_id = api_as(trainer).post("/api/contests", json=body).get_json()["id"]
    factories.order(session, factories.product(session, wang, price_fen=100), now=now - timedelta(hours=1))
    factories.order(session, factories.product(session, li, price_fen=900))  # inside the freeze
    public = api_as(wang).get(f"/api/contests/{contest_id}/leaderboard")
    assert public.headers["X-Board-Frozen"] == "1"
    assert [(r["host"], r["gmv_fen"]) for r in public.get_json()] == [("wang", 100), ("li", 0)]
    full = api_as(trainer).get(f"/api/contests/{contest_id}/leaderboard")
    assert full.headers["X-Board-Frozen"] == "0"
    assert [(r["host"], r["gmv_fen"]) for r in full.get_json()] == [("li", 900), ("wang", 100)]
    projected = api_as(trainer).get(f"/api/contests/{contest_id}/leaderboard?as=public").get_json()
    assert projected[0]["host"] == "wang"
