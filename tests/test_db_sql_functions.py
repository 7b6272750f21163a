"""SQL functions that must agree with Python to the unit, on SQLite and on PostgreSQL.

``db.round_half_up`` is how the contest board sums boosted sales in the database; the opened
score rounds the same orders one by one in Python (``db.half_up``). SQL's ROUND and Python's
``round`` each round halves their own way, so the two are held together here over exact halves
(odd totals × 1.5 and × 2.5) and every total up to ¥60 for the multipliers a trainer may type.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Float, literal, select

from db import half_up, round_half_up

MULTIPLIERS = (1.0, 1.05, 1.1, 1.2, 1.25, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0)


def test_rounding_halves_up_in_sql_matches_python_for_every_total_and_multiplier(session):
    last = 6000
    counting = select(literal(0, BigInteger()).label("total")).cte("totals", recursive=True)
    counting = counting.union_all(select(counting.c.total + 1).where(counting.c.total < last))
    totals = [*range(last + 1), 999_999_999, 2**40 + 1]
    for multiplier in MULTIPLIERS:
        rounded = select(counting.c.total, round_half_up(counting.c.total * literal(multiplier, Float())))
        in_sql = dict(session.execute(rounded).all())
        for big in totals[last + 1:]:
            in_sql[big] = session.execute(select(round_half_up(literal(big, BigInteger()) * literal(multiplier, Float())))).scalar_one()
        in_python = {t: half_up(t * multiplier) for t in totals}
        assert in_sql == in_python, (multiplier, {t: (in_sql[t], in_python[t]) for t in totals
                                                  if in_sql[t] != in_python[t]})
    assert [half_up(x) for x in (0.5, 1.5, 2.5, 499.5, 4.4999)] == [1, 2, 3, 500, 4], "halves go up, not to even"
