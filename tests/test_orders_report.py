"""The broadcast report's numbers match the session's orders exactly (worked out by hand below)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from catalog.models import ProductChange
from live.models import LiveSession, Segment
from orders.report import MinuteTotal, Stretch, build_report
from orders.services import cancel_order
from tests import factories

# Tuesday 2026-12-01 06:00 in the village (Asia/Shanghai) is Monday 22:00 UTC.
T0 = datetime(2026, 11, 30, 22, 0, tzinfo=timezone.utc)


@pytest.fixture
def farmer(session):
    return factories.user(session, "farmer", "wang", display_name="王大姐", village="西王庄")


def live_row(session, host, started_at, duration_s=None):
    row = LiveSession(host_id=host.id, started_at=started_at,
                      ended_at=started_at + timedelta(seconds=duration_s) if duration_s is not None else None)
    session.add(row)
    session.commit()
    return row


def order_at(session, product, row, at_s, quantity=1):
    return factories.order(session, product, quantity=quantity, session_id=row.id,
                           now=row.started_at + timedelta(seconds=at_s))


@pytest.fixture
def broadcast(session, farmer):
    """185 s live: 小米 on 0–70 s and again from 150 s to the end, 蜂蜜 on 70–150 s."""
    millet = factories.product(session, farmer, name="巨鹿小米", price_fen=1800, stock=10)
    honey = factories.product(session, farmer, name="槐花蜂蜜", price_fen=4500, stock=2)
    row = live_row(session, farmer, T0, 185)
    session.add_all([Segment(session_id=row.id, product_id=millet.id, start_s=0.0, end_s=70.0),
                     Segment(session_id=row.id, product_id=honey.id, start_s=70.0, end_s=150.0),
                     Segment(session_id=row.id, product_id=millet.id, start_s=150.0, end_s=None)])
    session.commit()
    order_at(session, millet, row, 30)             # minute 0: 1800
    order_at(session, millet, row, 65, quantity=2)  # minute 1: 3600
    order_at(session, honey, row, 80)              # minute 1: 4500
    order_at(session, honey, row, 100)             # minute 1: 4500, 蜂蜜 sold out
    cancelled = order_at(session, millet, row, 170)  # minute 2, cancelled: left out
    order_at(session, millet, row, 175)            # minute 2: 1800
    cancel_order(session, actor=farmer, order_id=cancelled.id)
    session.execute(update(ProductChange).where(ProductChange.product_id == honey.id, ProductChange.new_value == 0)
                    .values(changed_at=T0 + timedelta(seconds=100)))
    session.commit()
    return row, millet, honey


def test_report_counts_orders_sales_screen_time_and_sold_out_by_hand(api_as, farmer, broadcast):
    row, millet, honey = broadcast
    report = api_as(farmer).get(f"/api/sessions/{row.id}/report").json
    assert report["duration_s"] == 185.0
    assert (report["orders"], report["gmv_fen"]) == (5, 16200)
    assert report["per_product"] == [
        {"product_id": millet.id, "name": "巨鹿小米", "orders": 3, "gmv_fen": 7200, "on_screen_s": 105.0,
         "sold_out_at": None},
        {"product_id": honey.id, "name": "槐花蜂蜜", "orders": 2, "gmv_fen": 9000, "on_screen_s": 80.0,
         "sold_out_at": 100.0},
    ]
    assert report["per_minute"] == [
        {"minute": 0, "orders": 1, "gmv_fen": 1800},
        {"minute": 1, "orders": 3, "gmv_fen": 12600},
        {"minute": 2, "orders": 1, "gmv_fen": 1800},
        {"minute": 3, "orders": 0, "gmv_fen": 0},
    ]
    assert report["best_minute"] == {"minute": 1, "orders": 3, "gmv_fen": 12600}
    assert report["previous"] == []


def test_previous_broadcasts_are_the_last_five_at_the_same_weekday_and_time(api_as, session, farmer, broadcast):
    row, millet, _ = broadcast
    weeks = [live_row(session, farmer, T0 - timedelta(weeks=w, minutes=10), 600) for w in range(1, 7)]
    order_at(session, millet, weeks[0], 5, quantity=3)
    live_row(session, farmer, T0 - timedelta(weeks=1, hours=2), 600)        # 04:00: another time
    live_row(session, farmer, T0 - timedelta(days=1), 600)                  # Monday: another day
    live_row(session, farmer, T0 - timedelta(weeks=7))                       # never ended
    other = factories.user(session, "farmer", "li")
    live_row(session, other, T0 - timedelta(weeks=1), 600)                   # someone else's
    previous = api_as(farmer).get(f"/api/sessions/{row.id}/report").json["previous"]
    assert [p["session_id"] for p in previous] == [w.id for w in weeks[:5]]
    assert previous[0] == {"session_id": weeks[0].id, "started_at": weeks[0].started_at.isoformat(),
                           "duration_s": 600.0, "orders": 1, "gmv_fen": 5400}
    assert all(p["orders"] == 0 for p in previous[1:])


def test_another_farmers_report_is_not_found(api_as, session, broadcast):
    row, _, _ = broadcast
    other = factories.user(session, "farmer", "li")
    assert api_as(other).get(f"/api/sessions/{row.id}/report").status_code == 404
    manager = factories.user(session, "coordinator", "zhang")
    assert api_as(manager).get(f"/api/sessions/{row.id}/report").status_code == 200


def test_late_orders_count_in_the_last_minute_and_an_empty_live_has_one_zero_minute():
    report = build_report(90.0, [MinuteTotal(1, 3, 1, 100), MinuteTotal(1, -1, 1, 50)],
                          [Stretch(2, 10.0, 20.0)], {}, {1: "a", 2: "b"})
    assert report["per_minute"] == [{"minute": 0, "orders": 1, "gmv_fen": 50},
                                    {"minute": 1, "orders": 1, "gmv_fen": 100}]
    assert [p["product_id"] for p in report["per_product"]] == [2, 1]
    assert report["best_minute"] == {"minute": 1, "orders": 1, "gmv_fen": 100}
    empty = build_report(0.0, [], [], {}, {})
    assert empty["per_minute"] == [{"minute": 0, "orders": 0, "gmv_fen": 0}] and empty["best_minute"] is None


def test_minutes_are_cut_in_the_database_at_the_exact_second(api_as, session, farmer):
    """The per-minute sums come from SQL (SQLite and PostgreSQL alike): an order at 59.999 s is in
    minute 0, one at 60.000 s in minute 1; before the start counts in minute 0, after the end in the last."""
    millet = factories.product(session, farmer, name="巨鹿小米", price_fen=1000, stock=100)
    row = live_row(session, farmer, T0 + timedelta(microseconds=250_000), 150)
    for at_s, quantity in ((-5, 1), (59.999, 2), (60.0, 3), (119.9994, 4), (120.0006, 5), (900, 6)):
        order_at(session, millet, row, at_s, quantity=quantity)
    report = api_as(farmer).get(f"/api/sessions/{row.id}/report").json
    assert report["per_minute"] == [{"minute": 0, "orders": 2, "gmv_fen": 3000},
                                    {"minute": 1, "orders": 2, "gmv_fen": 7000},
                                    {"minute": 2, "orders": 2, "gmv_fen": 11000}]
    assert report["per_product"][0]["orders"] == 6 and report["gmv_fen"] == 21000
