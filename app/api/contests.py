"""Contests in the JSON API (shared/api.md): create, the leaderboard, views/likes entries, decisions.

The trainer who made a contest (and admins) get the full board with flags; everybody else, and the
trainer with ``?as=public``, get the public board: held while the freeze lasts, no flags. Domain
errors are answered by app/errors.py (one mapping, in the caller's language).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, Field

from app.api import bp
from app.api.errors import load_body
from app.database import get_db
from app.inputs import Id, Int, Moment
from app.security import signed_in_user
from contests import services as contests
from contests.standings import compute_board, state_of, window_end
from db import utcnow


class Person(BaseModel):
    """A participant given with their own phone (orders to it are flagged as self-orders)."""

    host: str
    phone: str = ""


class RulesBody(BaseModel):
    """How a contest scores; the body of PATCH /api/contests/<id> (fields left out stay as they are)."""

    metric: str = "gmv"
    weights: dict[str, float] | None = None
    rank_step: float = 0.5
    freeze_min: Int | None = None
    poverty_counties: list[str] = Field(default_factory=list)
    poverty_multiplier: float = 1.0
    rules: str = Field(default="", max_length=2000)

    def given(self) -> dict[str, Any]:
        """The fields the body set, named as :class:`contests.services.Rules` names them."""
        values = self.model_dump(exclude_unset=True)
        if "rules" in values:
            values["rules_text"] = values.pop("rules")
        return values


class ContestBody(RulesBody):
    """The body of POST /api/contests."""

    title: str = Field(max_length=80)
    starts_at: Moment
    ends_at: Moment
    participants: list[str | Person] = Field(min_length=1)


class EntryBody(BaseModel):
    """The body of POST /api/contests/<id>/entries."""

    host: str
    session_id: Id | None = None
    views: Int | None = None
    likes: Int | None = None


class DecisionBody(BaseModel):
    """The body of POST /api/contests/<id>/adjustments."""

    host: str
    reason: str = Field(max_length=200)
    points: float | None = None
    order_id: Id | None = None
    disqualify: bool = False
    accept: bool = False
    reinstate: bool = False


def contest_to_dict(contest: Any, now: datetime) -> dict[str, Any]:
    """A contest's API form."""
    return {
        "id": contest.id, "title": contest.title, "starts_at": contest.starts_at.isoformat(),
        "ends_at": contest.ends_at.isoformat(), "metric": contest.metric, "weights": contest.weights,
        "rank_step": contest.rank_step, "freeze_min": contest.freeze_min, "state": state_of(contest, now),
        "poverty_counties": contest.counties, "poverty_multiplier": contest.poverty_multiplier,
        "participants": [p.user.username for p in contest.participants], "created_by": contest.created_by.username,
    }


@bp.post("/contests")
def create_contest() -> ResponseReturnValue:
    """Make a contest → 201 ``{"id", ...}``. Trainers and admins only (403 otherwise)."""
    body = load_body(ContestBody)
    session = get_db()
    people = [(p, "") if isinstance(p, str) else (p.host, p.phone) for p in body.participants]
    given = {k: v for k, v in body.given().items() if k not in ("title", "starts_at", "ends_at", "participants")}
    contest = contests.create_contest(session, actor=signed_in_user(), title=body.title, starts_at=body.starts_at,
                                      ends_at=body.ends_at, participants=people, rules=contests.Rules(**given))
    session.commit()
    return jsonify(contest_to_dict(contest, utcnow())), 201


@bp.get("/contests")
def list_contests() -> ResponseReturnValue:
    """The caller's contests (a trainer's own, a farmer's own, all for others), newest first."""
    now = utcnow()
    return jsonify([contest_to_dict(c, now) for c in contests.list_contests(get_db(), signed_in_user())])


@bp.patch("/contests/<int:contest_id>")
def update_contest(contest_id: int) -> ResponseReturnValue:
    """Change the scoring rules → the contest; the board follows at once."""
    body = load_body(RulesBody)
    session = get_db()
    contest = contests.update_rules(session, actor=signed_in_user(), contest_id=contest_id, **body.given())
    session.commit()
    return jsonify(contest_to_dict(contest, utcnow()))


@bp.get("/contests/<int:contest_id>/leaderboard")
def leaderboard(contest_id: int) -> ResponseReturnValue:
    """The board, best first: ``[{"rank", "host", "gmv_fen", "orders", "score", "flags", "breakdown", ...}]``.

    ``?as=public`` gives the public board to the contest's trainer too. The answer's headers say
    whether it is held by the freeze (``X-Board-Frozen: 1``) and when the contest ends.
    """
    session = get_db()
    actor = signed_in_user()
    contest = contests.get_contest(session, actor, contest_id)
    public = request.args.get("as") == "public" or not contests.can_manage(actor, contest)
    board = compute_board(session, contest, public=public)
    response = jsonify([row.to_dict(public=public) for row in board.rows])
    response.headers["X-Board-Frozen"] = "1" if board.frozen else "0"
    response.headers["X-Contest-Ends-At"] = window_end(contest).isoformat()
    return response


@bp.post("/contests/<int:contest_id>/entries")
def add_entry(contest_id: int) -> ResponseReturnValue:
    """Views and likes for a participant (and one live session) → 201 the entry with who and when."""
    body = load_body(EntryBody)
    session = get_db()
    entry = contests.add_entry(session, actor=signed_in_user(), contest_id=contest_id, **body.model_dump())
    session.commit()
    return jsonify(entry_to_dict(entry)), 201


@bp.post("/contests/<int:contest_id>/entries/<int:entry_id>/verify")
def verify_entry(contest_id: int, entry_id: int) -> ResponseReturnValue:
    """The trainer marks an entry checked → the entry; it counts from now."""
    session = get_db()
    entry = contests.verify_entry(session, actor=signed_in_user(), contest_id=contest_id, entry_id=entry_id)
    session.commit()
    return jsonify(entry_to_dict(entry))


@bp.post("/contests/<int:contest_id>/adjustments")
def add_decision(contest_id: int) -> ResponseReturnValue:
    """A trainer's decision with its reason → 201 the audit row: ± ``points``, ``order_id`` with
    ``disqualify`` or ``accept``, ``disqualify`` or ``reinstate`` a participant."""
    body = load_body(DecisionBody)
    session = get_db()
    decision = contests.decide(session, actor=signed_in_user(), contest_id=contest_id, **body.model_dump())
    session.commit()
    return jsonify({"id": decision.id, "kind": decision.kind, "host": decision.user.username,
                    "order_id": decision.order_id, "points": decision.points, "reason": decision.reason,
                    "by": decision.by.username, "at": decision.at.isoformat()}), 201


def entry_to_dict(entry: Any) -> dict[str, Any]:
    """An entry's API form: the numbers, who entered and verified them, and when."""
    return {
        "id": entry.id, "host": entry.user.username, "session_id": entry.session_id, "views": entry.views,
        "likes": entry.likes, "entered_by": entry.entered_by.username, "entered_at": entry.entered_at.isoformat(),
        "verified_by": entry.verified_by.username if entry.verified_by else None,
        "verified_at": entry.verified_at.isoformat() if entry.verified_at else None,
    }
