"""How a contest turns each participant's tally into a score: one class per metric, looked up by name.

``gmv``, ``orders`` and ``fulfilled_gmv`` score the tally's own number. ``weighted`` scores each of
views, likes, orders and sales **by rank**, the way county contests publish it (the 2024 Gaotai
contest: views 20, likes 20, orders 20, sales 40 out of 100): first place takes the metric's full
marks, each place below takes ``rank_step`` less, never below zero, and a participant with none of
a metric takes nothing for it. Equal numbers share a place. So one inflated number cannot
dominate: being first in views is worth the same 20 whether by one view or by a million.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Tally:
    """What counts for one participant: orders, sales (fen, after any multiplier), views, likes."""

    user_id: int
    orders: int = 0
    gmv_fen: int = 0
    fulfilled_gmv_fen: int = 0
    views: int = 0
    likes: int = 0
    last_order_at: datetime | None = None
    last_entry_at: datetime | None = None


@dataclass(frozen=True)
class Scored:
    """A score and how it was made: per metric ``{"value", "rank", "points"}`` or just the value."""

    score: float
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)


class Metric:
    """Scores a whole field of tallies at once (a rank-based score depends on everybody)."""

    uses_entries = False

    def score(self, tallies: Sequence[Tally], *, weights: dict[str, float], rank_step: float) -> dict[int, Scored]:
        """The score of each tally, by user id."""
        raise NotImplementedError


class ValueMetric(Metric):
    """The score is one number of the tally (fen for sales, a count for orders)."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def score(self, tallies: Sequence[Tally], *, weights: dict[str, float], rank_step: float) -> dict[int, Scored]:
        """Each tally's own number."""
        return {t.user_id: Scored(float(getattr(t, self.attribute))) for t in tallies}


# weighted-score key → Tally attribute
WEIGHTED_PARTS: dict[str, str] = {"views": "views", "likes": "likes", "orders": "orders", "gmv": "gmv_fen"}


def competition_ranks(values: dict[int, float]) -> dict[int, int]:
    """Rank by value, highest first; equal values share a place and the next place is skipped (1, 2, 2, 4)."""
    ordered = sorted(values.values(), reverse=True)
    first_place: dict[float, int] = {}
    for position, value in enumerate(ordered, start=1):
        first_place.setdefault(value, position)
    return {key: first_place[value] for key, value in values.items()}


class RankWeightedMetric(Metric):
    """Each part scored by rank: ``weight - rank_step × (place - 1)``, at least 0; nothing for a zero."""

    uses_entries = True

    def score(self, tallies: Sequence[Tally], *, weights: dict[str, float], rank_step: float) -> dict[int, Scored]:
        """The sum of the parts' points for each tally, with each part's value, place and points."""
        parts: dict[int, dict[str, dict[str, float]]] = {t.user_id: {} for t in tallies}
        for key, attribute in WEIGHTED_PARTS.items():
            values = {t.user_id: float(getattr(t, attribute)) for t in tallies}
            ranks = competition_ranks(values)
            for user_id, value in values.items():
                points = max(0.0, weights[key] - rank_step * (ranks[user_id] - 1)) if value > 0 else 0.0
                parts[user_id][key] = {"value": value, "rank": ranks[user_id], "points": points}
        return {user_id: Scored(sum(p["points"] for p in part.values()), part)
                for user_id, part in parts.items()}


METRICS: dict[str, Metric] = {
    "gmv": ValueMetric("gmv_fen"),
    "orders": ValueMetric("orders"),
    "fulfilled_gmv": ValueMetric("fulfilled_gmv_fen"),
    "weighted": RankWeightedMetric(),
}


def get_metric(name: str) -> Metric:
    """The metric called ``name``. Raises KeyError for an unknown name (services check names first)."""
    return METRICS[name]
