"""Contest boards computed by hand: each fairness rule of issue 12, one test each."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from accounts.roles import COORDINATOR, FARMER, PARTNER, TRAINER
from contests import services as contests
from contests.detail import score_detail
from contests.errors import ContestError, NotAllowed
from contests.standings import compute_board, sales_steps
from orders import services as orders
from live.models import LiveSession
from tests import factories

UTC = timezone.utc
START = datetime(2026, 11, 20, 2, 0, 0, tzinfo=UTC)   # 10:00 in the village
END = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)    # 20:00 a week later
DURING = START + timedelta(days=1)
SELF_PHONE = "13900001111"


@pytest.fixture
def people(session):
    trainer = factories.user(session, TRAINER, "jiangshi")
    farmers = [factories.user(session, FARMER, name, display_name=shown)
               for name, shown in (("wang", "王大姐"), ("li", "李大哥"), ("zhao", "赵阿姨"))]
    goods = {f.username: factories.product(session, f, price_fen=1000, stock=1000) for f in farmers}
    return trainer, farmers, goods


def sell(session, product, when, quantity=1, **kw):
    """An order of ``quantity`` × ¥10 logged at ``when``."""
    return factories.order(session, product, now=when, quantity=quantity, **kw)


def board(session, contest, **kw):
    """(rank, user name, score) best first."""
    session.expire_all()
    return [(r.rank, r.username, r.score) for r in compute_board(session, contest, **kw).rows]


def make(session, trainer, farmers, **kw):
    kw.setdefault("starts_at", START)
    kw.setdefault("ends_at", END)
    return factories.contest(session, trainer, farmers, **kw)


def test_orders_at_the_first_and_last_second_count_and_a_second_outside_does_not(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers[:1])
    wang = goods["wang"]
    sell(session, wang, START)                                          # first second: in
    sell(session, wang, END + timedelta(milliseconds=999), quantity=2)  # still the last second: in
    sell(session, wang, START - timedelta(microseconds=1), quantity=4)  # before: out
    sell(session, wang, END + timedelta(seconds=1), quantity=8)         # after: out
    assert board(session, contest) == [(1, "wang", 3000.0)]
    row = compute_board(session, contest).rows[0]
    assert (row.tally.orders, row.tally.gmv_fen) == (2, 3000)


def test_cancelled_orders_do_not_count(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers[:2], metric="orders")
    kept = sell(session, goods["wang"], DURING)
    gone = sell(session, goods["wang"], DURING)
    sell(session, goods["li"], DURING)
    orders.cancel_order(session, actor=farmers[0], order_id=gone.id)
    session.commit()
    # both sold at the same moment: one shared first place
    assert board(session, contest) == [(1, "li", 1.0), (1, "wang", 1.0)]
    assert kept.id in {line.id for line in score_detail(session, contest, contest.participants[0]).orders
                       if line.counts}


def test_only_the_participants_own_products_count(session, people):
    trainer, farmers, goods = people
    outsider = factories.user(session, FARMER, "outsider")
    theirs = factories.product(session, outsider, price_fen=99900)
    coordinator = factories.user(session, COORDINATOR)
    contest = make(session, trainer, farmers[:1])
    sell(session, theirs, DURING, actor=coordinator)  # logged by anyone, it is the outsider's product
    sell(session, goods["wang"], DURING, actor=coordinator)
    assert board(session, contest) == [(1, "wang", 1000.0)]


def test_equal_scores_rank_by_who_reached_them_first_then_share(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers)
    sell(session, goods["li"], DURING)                           # li reaches ¥10 first
    sell(session, goods["wang"], DURING + timedelta(minutes=5))  # wang later
    assert board(session, contest) == [(1, "li", 1000.0), (2, "wang", 1000.0), (3, "zhao", 0.0)]
    sell(session, goods["zhao"], DURING + timedelta(minutes=5))  # zhao at the very same moment as wang
    assert board(session, contest) == [(1, "li", 1000.0), (2, "wang", 1000.0), (2, "zhao", 1000.0)]


def test_nobody_with_nothing_shares_the_first_place(session, people):
    trainer, farmers, _goods = people
    contest = make(session, trainer, farmers[:2])
    assert [rank for rank, _name, _score in board(session, contest)] == [1, 1]


def _live_session(session, host, started_at):
    live = LiveSession(host_id=host.id, started_at=started_at, ended_at=started_at + timedelta(hours=1))
    session.add(live)
    session.commit()
    return live


def test_an_order_logged_after_the_end_for_a_broadcast_inside_it_is_flagged_not_counted(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers[:1])
    live = _live_session(session, farmers[0], END - timedelta(minutes=30))
    late = sell(session, goods["wang"], END + timedelta(hours=3), quantity=5, session_id=live.id)
    sell(session, goods["wang"], END + timedelta(hours=3), quantity=7)  # no broadcast: simply outside
    row = compute_board(session, contest).rows[0]
    assert row.score == 0 and [f.to_dict() for f in row.flags] == [
        {"kind": "late", "state": "pending", "order_id": late.id}]
    contests.decide(session, actor=trainer, contest_id=contest.id, host="wang", order_id=late.id, accept=True,
                    reason="直播间截图显示 19:50 下单")
    session.commit()
    row = compute_board(session, contest).rows[0]
    assert row.score == 5000 and row.flags[0].state == "accepted"


def test_an_order_to_the_participants_own_phone_is_flagged_not_counted(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, [(farmers[0], "139-0000-1111"), farmers[1]])
    mine = sell(session, goods["wang"], DURING, quantity=9, buyer_phone=SELF_PHONE)
    sell(session, goods["wang"], DURING)
    sell(session, goods["li"], DURING, buyer_phone=SELF_PHONE)  # li gave no phone: nothing to compare
    rows = {r.username: r for r in compute_board(session, contest).rows}
    assert [(name, r.score, [f.to_dict() for f in r.flags]) for name, r in rows.items()] == [
        ("li", 1000.0, []),
        ("wang", 1000.0, [{"kind": "self_order", "state": "pending", "order_id": mine.id}]),
    ]
    contests.decide(session, actor=trainer, contest_id=contest.id, host="wang", order_id=mine.id,
                    disqualify=True, reason="自己给自己下单")
    session.commit()
    rows = {r.username: r for r in compute_board(session, contest).rows}
    assert rows["wang"].score == 1000 and rows["wang"].flags[0].state == "disqualified"


def test_disqualified_orders_and_participants_and_reinstating(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers, metric="orders")
    fake = sell(session, goods["wang"], DURING)
    sell(session, goods["wang"], DURING)
    sell(session, goods["wang"], DURING)
    sell(session, goods["li"], DURING + timedelta(hours=1))
    sell(session, goods["li"], DURING + timedelta(hours=1))
    sell(session, goods["zhao"], DURING)
    assert board(session, contest) == [(1, "wang", 3.0), (2, "li", 2.0), (3, "zhao", 1.0)]
    contests.decide(session, actor=trainer, contest_id=contest.id, host="wang", order_id=fake.id,
                    disqualify=True, reason="刷单")
    session.commit()
    assert board(session, contest) == [(1, "wang", 2.0), (2, "li", 2.0), (3, "zhao", 1.0)]
    contests.decide(session, actor=trainer, contest_id=contest.id, host="li", disqualify=True, reason="违规")
    session.commit()
    rows = compute_board(session, contest).rows
    assert [(r.rank, r.username, r.disqualified) for r in rows] == [
        (1, "wang", False), (2, "zhao", False), (None, "li", True)]
    contests.decide(session, actor=trainer, contest_id=contest.id, host="li", reinstate=True, reason="申诉成功")
    session.commit()
    assert board(session, contest) == [(1, "wang", 2.0), (2, "li", 2.0), (3, "zhao", 1.0)]
    trail = contests.decisions_of(session, contest)
    assert [(d.kind, d.reason, d.by.username) for d in trail] == [
        ("reinstate", "申诉成功", "jiangshi"), ("disqualify", "违规", "jiangshi"), ("disqualify_order", "刷单", "jiangshi")]


def test_adjustments_add_and_take_points(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers[:2], metric="orders")
    sell(session, goods["wang"], DURING)
    sell(session, goods["wang"], DURING)
    sell(session, goods["li"], DURING)
    contests.decide(session, actor=trainer, contest_id=contest.id, host="li", points=2, reason="带动全村")
    contests.decide(session, actor=trainer, contest_id=contest.id, host="wang", points=-0.5, reason="迟到")
    session.commit()
    assert board(session, contest) == [(1, "li", 3.0), (2, "wang", 1.5)]
    with pytest.raises(ContestError):
        contests.decide(session, actor=trainer, contest_id=contest.id, host="li", points=1, reason=" ")
    with pytest.raises(NotAllowed):
        contests.decide(session, actor=farmers[0], contest_id=contest.id, host="wang", points=9, reason="我自己")


def test_each_metric_counts_its_own_thing(session, people):
    trainer, farmers, goods = people
    partner = factories.user(session, PARTNER, "fahuo")
    coordinator = factories.user(session, COORDINATOR)
    big = sell(session, goods["wang"], DURING, quantity=10)  # ¥100, will be shipped
    for _ in range(3):
        sell(session, goods["li"], DURING, quantity=2)       # 3 orders, ¥60, never handed off
    handed = sell(session, goods["zhao"], DURING, quantity=4)  # ¥40, handed off only
    factories.handoff(session, [big, handed], coordinator, partner)
    expected = {
        "gmv": [(1, "wang", 10000.0), (2, "li", 6000.0), (3, "zhao", 4000.0)],
        "orders": [(1, "li", 3.0), (2, "wang", 1.0), (2, "zhao", 1.0)],
        "fulfilled_gmv": [(1, "wang", 10000.0), (2, "zhao", 4000.0), (3, "li", 0.0)],
    }
    for metric, rows in expected.items():
        contest = make(session, trainer, farmers, metric=metric)
        assert board(session, contest) == rows, metric


def test_the_weighted_score_is_by_rank_as_in_gaotai(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers, metric="weighted")  # 20/20/20/40, 0.5 per place
    for host, views, likes in (("wang", 5000, 300), ("li", 90000, 300), ("zhao", 0, 10)):
        if views or likes:
            contests.add_entry(session, actor=trainer, contest_id=contest.id, host=host, views=views, likes=likes)
    session.commit()
    sell(session, goods["wang"], DURING, quantity=50)                   # 1 order, ¥500
    sell(session, goods["li"], DURING)                                  # 2 orders, ¥20
    sell(session, goods["li"], DURING)
    sell(session, goods["zhao"], DURING + timedelta(hours=1), quantity=3)  # 1 order, ¥30
    # views: li 1st 20, wang 2nd 19.5, zhao none 0
    # likes: wang and li share 1st 20 + 20, zhao 3rd 19
    # orders: li 1st 20, wang and zhao share 2nd 19.5 + 19.5
    # sales: wang 1st 40, zhao 2nd 39.5, li 3rd 39
    # wang and li both make 99; wang's last counted thing (its entry) came first
    assert board(session, contest) == [(1, "wang", 99.0), (2, "li", 99.0), (3, "zhao", 78.0)]
    rows = compute_board(session, contest).rows
    assert rows[0].breakdown["views"] == {"value": 5000.0, "rank": 2, "points": 19.5}
    assert rows[2].breakdown["views"] == {"value": 0.0, "rank": 3, "points": 0.0}


def test_weights_and_the_step_are_editable(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers[:2], metric="weighted",
                   weights={"views": 0, "likes": 0, "orders": 50, "gmv": 50}, rank_step=10)
    sell(session, goods["wang"], DURING, quantity=5)
    sell(session, goods["li"], DURING + timedelta(minutes=1))
    sell(session, goods["li"], DURING + timedelta(minutes=1))
    # orders: li 50, wang 40; sales: wang 50, li 40 → 90 each; wang got there a minute earlier
    assert board(session, contest) == [(1, "wang", 90.0), (2, "li", 90.0)]
    contests.update_rules(session, actor=trainer, contest_id=contest.id, weights={"orders": 80, "gmv": 20},
                          rank_step=30)
    session.commit()
    # orders: li 80, wang 50; sales: wang 20, li max(0, 20 - 30) = 0
    assert board(session, contest) == [(1, "li", 80.0), (2, "wang", 70.0)]


def test_the_public_board_freezes_for_the_last_minutes_and_is_revealed_at_the_end(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, farmers[:2], freeze_min=30)
    sell(session, goods["wang"], END - timedelta(hours=1), quantity=2)
    sell(session, goods["li"], END - timedelta(minutes=10), quantity=5)  # inside the freeze
    during_freeze = END - timedelta(minutes=5)
    assert board(session, contest, public=True, now=during_freeze) == [(1, "wang", 2000.0), (2, "li", 0.0)]
    assert compute_board(session, contest, public=True, now=during_freeze).frozen
    assert board(session, contest, now=during_freeze) == [(1, "li", 5000.0), (2, "wang", 2000.0)]  # the trainer
    revealed = END + timedelta(seconds=1)
    assert board(session, contest, public=True, now=revealed) == [(1, "li", 5000.0), (2, "wang", 2000.0)]
    before = END - timedelta(minutes=31)
    assert not compute_board(session, contest, public=True, now=before).frozen


def test_products_from_listed_poverty_counties_count_more(session, people):
    trainer, farmers, goods = people
    gaotai = factories.product(session, farmers[1], price_fen=1000, origin="甘肃省张掖市高台县")
    contest = make(session, trainer, farmers[:2], poverty_counties=["高台县"], poverty_multiplier=1.5)
    sell(session, goods["wang"], DURING, quantity=14)  # ¥140
    sell(session, gaotai, DURING, quantity=10)          # ¥100 × 1.5 = ¥150
    assert board(session, contest) == [(1, "li", 15000.0), (2, "wang", 14000.0)]


def test_entries_count_once_verified_and_a_later_entry_for_a_session_replaces_it(session, people):
    trainer, farmers, _goods = people
    contest = make(session, trainer, farmers[:1], metric="weighted")
    live = _live_session(session, farmers[0], DURING)
    first = contests.add_entry(session, actor=farmers[0], contest_id=contest.id, host="wang", views=100,
                               session_id=live.id)
    session.commit()
    row = compute_board(session, contest).rows[0]
    assert row.tally.views == 0 and row.flags[0].to_dict() == {
        "kind": "unverified_entry", "state": "pending", "entry_id": first.id}
    assert first.entered_by.username == "wang" and first.entered_at is not None
    contests.verify_entry(session, actor=trainer, contest_id=contest.id, entry_id=first.id)
    contests.add_entry(session, actor=trainer, contest_id=contest.id, host="wang", views=250, session_id=live.id)
    contests.add_entry(session, actor=trainer, contest_id=contest.id, host="wang", likes=7)
    session.commit()
    row = compute_board(session, contest).rows[0]
    assert (row.tally.views, row.tally.likes, row.flags) == (250, 7, [])
    with pytest.raises(NotAllowed):
        contests.add_entry(session, actor=farmers[1], contest_id=contest.id, host="wang", views=1)


def test_the_opened_score_adds_up_to_the_board(session, people):
    trainer, farmers, goods = people
    contest = make(session, trainer, [(farmers[0], SELF_PHONE)])
    for quantity in (1, 2, 3):
        sell(session, goods["wang"], DURING + timedelta(minutes=quantity), quantity=quantity)
    gone = sell(session, goods["wang"], DURING, quantity=20)
    orders.cancel_order(session, actor=farmers[0], order_id=gone.id)
    sell(session, goods["wang"], DURING, quantity=9, buyer_phone=SELF_PHONE)
    session.commit()
    detail = score_detail(session, contest, contest.participants[0])
    states = sorted(line.state for line in detail.orders)
    assert states == ["cancelled", "counted", "counted", "counted", "self_order"]
    assert sum(line.counted_fen for line in detail.orders if line.counts) == compute_board(
        session, contest).rows[0].tally.gmv_fen == 6000
    assert [fen for _when, fen in sales_steps(session, contest, [farmers[0].id], 10**6)[farmers[0].id]] == [
        1000, 3000, 6000]


def test_the_chart_lines_summed_in_the_database_follow_every_rule_of_the_board(session, people):
    """Boost, cancelled, disqualified, self-order pending and accepted, late order accepted, the
    freeze: the chart's steps end at the board's gmv_fen and, one step per order, are the opened
    score's counted orders added up (the rules live in standings and detail; this holds them together)."""
    trainer, farmers, goods = people
    contest = make(session, trainer, [(farmers[0], SELF_PHONE), farmers[1], farmers[2]],
                   poverty_counties=["高台县"], poverty_multiplier=1.5, freeze_min=60)
    # ¥3.33 × 1.5 is ¥4.995: each order is rounded to the fen (halves up) before it is added, so
    # one order's half fen never goes missing between the opened score's lines and the board
    gaotai = factories.product(session, farmers[0], price_fen=333, origin="甘肃省张掖市高台县")
    live = _live_session(session, farmers[0], END - timedelta(minutes=30))
    for minutes, quantity in ((1, 1), (2, 3), (3, 5), (4, 1)):
        sell(session, gaotai, DURING + timedelta(minutes=minutes), quantity=quantity)
        sell(session, goods["wang"], DURING + timedelta(minutes=minutes, seconds=30), quantity=quantity)
    gone = sell(session, goods["wang"], DURING, quantity=20)
    orders.cancel_order(session, actor=farmers[0], order_id=gone.id)
    fake = sell(session, goods["wang"], DURING + timedelta(hours=1), quantity=7)
    mine = sell(session, gaotai, DURING + timedelta(hours=2), quantity=3, buyer_phone=SELF_PHONE)
    sell(session, goods["wang"], DURING + timedelta(hours=3), quantity=4, buyer_phone=SELF_PHONE)  # pending
    late = sell(session, gaotai, END + timedelta(hours=1), quantity=2, session_id=live.id)
    sell(session, goods["wang"], END - timedelta(minutes=10), quantity=6)  # in the freeze
    sell(session, goods["li"], DURING, quantity=2)
    for order_id, accept in ((fake.id, False), (mine.id, True), (late.id, True)):
        contests.decide(session, actor=trainer, contest_id=contest.id, host="wang", order_id=order_id,
                        accept=accept, disqualify=not accept, reason="核对")
    session.commit()
    users = [f.id for f in farmers]
    for public, now in ((False, END + timedelta(hours=2)), (True, END - timedelta(minutes=5))):
        board_rows = {r.user_id: r for r in compute_board(session, contest, public=public, now=now).rows}
        cutoff = compute_board(session, contest, public=public, now=now).cutoff
        coarse = sales_steps(session, contest, users, 726, cutoff)
        fine = sales_steps(session, contest, users, 10**9, cutoff)
        for participant in contest.participants:
            gmv = board_rows[participant.user_id].tally.gmv_fen
            assert (coarse[participant.user_id] or [(None, 0)])[-1][1] == gmv
            counted = sorted((o for o in score_detail(session, contest, participant, cutoff).orders if o.counts),
                             key=lambda o: (o.created_at, o.id))
            running, expected = 0, []
            for line in counted:
                running += line.counted_fen
                expected.append((line.created_at, running))
            assert fine[participant.user_id] == expected
    # by hand, the trainer's board after the end: the boosted orders of 1, 3, 5 and 1 units in the
    # window (499.5 → 500, 1498.5 → 1499, 2497.5 → 2498, 500: 4997, not 3330 × 1.5 = 4995), 16 plain
    # units (16000), the accepted self-order (3 × 333 × 1.5 = 1498.5 → 1499) and late order (999)
    final = sales_steps(session, contest, users, 726)
    assert final[farmers[0].id][-1][1] == 23495
    assert compute_board(session, contest, now=END + timedelta(hours=2)).rows[0].tally.gmv_fen == 23495
    assert final[farmers[1].id] == [(DURING, 2000)] and final[farmers[2].id] == []


def test_only_trainers_make_contests_and_participants_must_be_farmers(session, people):
    trainer, farmers, _goods = people
    with pytest.raises(NotAllowed):
        factories.contest(session, farmers[0], farmers)
    session.rollback()
    with pytest.raises(ContestError):
        factories.contest(session, trainer, [trainer])
    session.rollback()
    with pytest.raises(ContestError):
        factories.contest(session, trainer, farmers, starts_at=END, ends_at=START)


def test_result_cells_that_excel_would_run_are_quoted():
    from catalog.text import formula_safe

    assert [formula_safe(text) for text in ("=1+1", "+86", "-3", "@SUM", "\tx", "\rx", "王大姐")] == [
        "'=1+1", "'+86", "'-3", "'@SUM", "'\tx", "'\rx", "王大姐"]
