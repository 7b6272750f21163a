"""How long a contest board takes as orders grow: 10k → 1,000,000 orders, 200 farmers, 50 contests.

    .venv/bin/python -m bench.leaderboard [--db-url URL] [--steps 10000,100000,1000000] [--rounds 4]

Builds a throwaway database with the real migrations (a fresh SQLite file unless ``--db-url``
names an empty PostgreSQL database: its schema is dropped and rebuilt), 200 farmers with three
products each (one from a listed poverty county), a live session every third day per farmer and
50 contests of 10–60 farmers over windows of 3–30 days (every metric, some with a freeze, a
multiplier, views/likes entries, disqualified orders and self-orders). Orders are spread over a
year and bulk-loaded (executemany on SQLite, COPY on PostgreSQL) in steps; after each step every
contest's board is computed once untimed (a polled board is read warm) and then ``--rounds`` times
by :func:`contests.standings.compute_board`, each in a fresh session; the median, p99 and the three
slowest boards are printed with the largest window's order count and the machine's load.

The orders_logged trigger (audit row and stock row per order, migration 0004) is switched off
while loading: it does not touch what the board reads, and 2M extra rows would only slow the load.

Target (issue 12): p99 ≤ 50 ms at 1,000,000 orders on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import db  # noqa: E402
from accounts.models import User  # noqa: E402
from catalog.models import Product  # noqa: E402
from contests.models import Contest, Decision, Entry, Participant  # noqa: E402
from contests.standings import compute_board  # noqa: E402
from orders.models import Order  # noqa: E402
from live.models import LiveSession  # noqa: E402

UTC = timezone.utc
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_S = 365 * 24 * 3600
FARMERS = 200
CONTESTS = 50
STATUSES = ("new",) * 40 + ("handed_off",) * 30 + ("shipped",) * 20 + ("delivered",) * 5 + ("cancelled",) * 5
ORDER_COLUMNS = ("product_id", "farmer_id", "quantity", "packages", "unit", "unit_price_fen", "total_fen",
                 "buyer_name", "buyer_phone", "address", "channel", "platform_order_no", "status", "session_id",
                 "handoff_id", "logged_by_id", "carrier", "tracking_no", "created_at", "updated_at")


def farmer_phone(i: int) -> str:
    return f"139{i:08d}"


def prepare(url: str) -> Engine:
    """Migrate an empty database and add people, products, live sessions and contests."""
    engine = db.make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(url)
    rng = random.Random(12)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE orders DISABLE TRIGGER orders_logged"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS orders_logged"))
        people = [{"username": f"farmer{i:03d}", "display_name": f"农户{i:03d}", "role": "farmer",
                   "password_hash": "x", "village": f"站{i % 40:02d}", "active": True, "created_at": now}
                  for i in range(FARMERS)]
        people.append({"username": "trainer", "display_name": "讲师", "role": "trainer", "password_hash": "x",
                       "village": "", "active": True, "created_at": now})
        conn.execute(insert(User), people)
        ids = dict(conn.execute(select(User.username, User.id)).all())
        products = []
        for i in range(FARMERS):
            for k, origin in enumerate(("甘肃省张掖市高台县", "本村", "本乡")):
                products.append({"sku": f"F{i:03d}P{k}", "name": f"小米{i}-{k}", "farmer_id": ids[f"farmer{i:03d}"],
                                 "unit": "斤", "price_fen": 1000 + 500 * k, "stock": 10**9, "origin": origin,
                                 "name_pinyin": "", "name_initials": "", "description": "", "name_en": "",
                                 "active": True, "created_at": now, "updated_at": now})
        conn.execute(insert(Product), products)
        sessions = [{"host_id": ids[f"farmer{i:03d}"], "started_at": YEAR_START + timedelta(days=day, hours=10),
                     "ended_at": YEAR_START + timedelta(days=day, hours=12), "video": "", "audio": "", "recordings": ""}
                    for i in range(FARMERS) for day in range(i % 3, 365, 3)]
        conn.execute(insert(LiveSession), sessions)
        trainer = ids["trainer"]
        metrics = ("gmv", "orders", "fulfilled_gmv", "weighted")
        for c in range(CONTESTS):
            days = rng.choice((3, 7, 7, 14, 30))
            start = YEAR_START + timedelta(days=rng.randrange(0, 365 - days), hours=2)
            contest_id = conn.execute(insert(Contest).returning(Contest.id), {
                "title": f"大赛{c}", "rules": "", "starts_at": start, "ends_at": start + timedelta(days=days),
                "metric": metrics[c % 4], "weight_views": 20, "weight_likes": 20, "weight_orders": 20,
                "weight_gmv": 40, "rank_step": 0.5, "freeze_min": 60 if c % 3 == 0 else None,
                "poverty_counties": "高台县" if c % 5 == 0 else "", "poverty_multiplier": 1.5 if c % 5 == 0 else 1.0,
                "created_by_id": trainer, "created_at": now}).scalar_one()
            chosen = rng.sample(range(FARMERS), rng.randrange(10, 61))
            conn.execute(insert(Participant), [{"contest_id": contest_id, "user_id": ids[f"farmer{i:03d}"],
                                                "phone": farmer_phone(i)} for i in chosen])
            entries = [{"contest_id": contest_id, "user_id": ids[f"farmer{i:03d}"], "session_id": None,
                        "views": rng.randrange(0, 50000), "likes": rng.randrange(0, 3000), "entered_by_id": trainer,
                        "entered_at": start, "verified_by_id": trainer if k % 4 else None,
                        "verified_at": start if k % 4 else None}
                       for i in chosen for k in range(3)]
            conn.execute(insert(Entry), entries)
    return engine


def load_orders(engine: Engine, first: int, count: int) -> None:
    """Add ``count`` orders spread over the year, in bulk."""
    rng = random.Random(first)
    with engine.connect() as conn:
        products = conn.execute(select(Product.id, Product.farmer_id, Product.price_fen).order_by(Product.id)).all()
        farmers = sorted({p.farmer_id for p in products})
        sessions = {}
        for session_id, host_id, started_at in conn.execute(select(LiveSession.id, LiveSession.host_id,
                                                                   LiveSession.started_at)):
            sessions.setdefault(host_id, []).append((started_at, session_id))
    phones = {farmer_id: farmer_phone(i) for i, farmer_id in enumerate(farmers)}
    rows = []
    for n in range(first, first + count):
        product_id, farmer_id, price = products[rng.randrange(len(products))]
        when = YEAR_START + timedelta(seconds=rng.randrange(YEAR_S), microseconds=rng.randrange(10**6))
        quantity = rng.randrange(1, 6)
        session_id = None
        if rng.random() < 0.3:
            day_sessions = sessions[farmer_id]
            session_id = day_sessions[min(len(day_sessions) - 1, (when - YEAR_START).days // 3)][1]
        phone = phones[farmer_id] if rng.random() < 0.005 else f"138{n % 10**8:08d}"
        rows.append((product_id, farmer_id, quantity, 1, "斤", price, price * quantity, "买家", phone,
                     "浙江省杭州市西湖区文三路 1 号", "douyin", None, rng.choice(STATUSES), session_id, None,
                     farmer_id, "", "", when, when))
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:  # type: ignore[attr-defined]
                with cur.copy(f"COPY orders ({', '.join(ORDER_COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        # What autovacuum does on a live server: statistics, and the visibility map that lets
        # the board's index-only scans skip the table.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        raw = engine.raw_connection()
        try:
            marks = ", ".join("?" for _ in ORDER_COLUMNS)
            cur = raw.cursor()
            iso = [(*row[:18], row[18].isoformat(sep=" "), row[19].isoformat(sep=" ")) for row in rows]
            cur.executemany(f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES ({marks})", iso)
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()


def add_decisions(engine: Engine) -> None:
    """A few disqualified and accepted orders per contest, as trainers would leave them."""
    with engine.begin() as conn:
        trainer = conn.execute(select(User.id).where(User.username == "trainer")).scalar_one()
        for contest_id, start, end in conn.execute(select(Contest.id, Contest.starts_at, Contest.ends_at)).all():
            picked = conn.execute(
                select(Order.id, Order.farmer_id).join(Participant, Participant.user_id == Order.farmer_id)
                .where(Participant.contest_id == contest_id, Order.created_at >= start, Order.created_at <= end)
                .limit(6)).all()
            conn.execute(insert(Decision), [
                {"contest_id": contest_id, "user_id": farmer_id, "order_id": order_id, "points": 0,
                 "kind": "disqualify_order" if k % 2 else "accept_order", "reason": "压测", "by_id": trainer,
                 "at": end} for k, (order_id, farmer_id) in enumerate(picked)])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(engine: Engine, rounds: int) -> dict[str, float]:
    """Every contest's board ``rounds`` times, each in a fresh session; times in ms."""
    factory = db.make_session_factory(engine)
    with factory() as session:
        contest_ids = list(session.scalars(select(Contest.id)))
        biggest = 0
        for contest in session.scalars(select(Contest)):
            count = session.scalar(
                select(func.count()).select_from(Order).join(Participant, Participant.user_id == Order.farmer_id)
                .where(Participant.contest_id == contest.id, Order.created_at >= contest.starts_at,
                       Order.created_at <= contest.ends_at))
            biggest = max(biggest, count or 0)
    timings = []
    cpu = []
    slowest: list[tuple[float, int]] = []
    # One untimed pass first: a board on a projector is asked for every few seconds, so what
    # matters is the warm state, not the first read after a bulk load.
    for round_no in range(rounds + 1):
        for contest_id in contest_ids:
            with factory() as session:
                contest = session.get(Contest, contest_id)
                assert contest is not None
                began, began_cpu = time.perf_counter(), time.process_time()
                board = compute_board(session, contest, public=contest_id % 2 == 0, now=contest.ends_at)
                took = (time.perf_counter() - began) * 1000
                assert board.rows
                if round_no:
                    timings.append(took)
                    cpu.append((time.process_time() - began_cpu) * 1000)
                    slowest = sorted([*slowest, (took, contest_id)], reverse=True)[:3]
    return {"median": statistics.median(timings), "p99": percentile(timings, 0.99), "max": max(timings),
            "cpu_median": statistics.median(cpu), "cpu_p99": percentile(cpu, 0.99),
            "biggest_window": biggest, "boards": len(timings),
            "slowest": ", ".join(f"#{cid} {ms:.0f} ms" for ms, cid in slowest)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", default="", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--steps", default="10000,100000,1000000", help="order totals to measure at")
    parser.add_argument("--rounds", type=int, default=4, help="boards per contest per step (default 4)")
    args = parser.parse_args()
    db.import_models()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        began = time.perf_counter()
        engine = prepare(url)
        print(f"database: {engine.dialect.name}; {FARMERS} farmers, {CONTESTS} contests "
              f"(set-up {time.perf_counter() - began:.1f} s)")
        loaded = 0
        decided = False
        for total in (int(step) for step in args.steps.split(",")):
            began = time.perf_counter()
            load_orders(engine, loaded, total - loaded)
            load_s = time.perf_counter() - began
            loaded = total
            if not decided:
                add_decisions(engine)
                decided = True
            figures = measure(engine, args.rounds)
            print(f"{total:>9,} orders (loaded in {load_s:5.1f} s): board median {figures['median']:6.1f} ms, "
                  f"p99 {figures['p99']:6.1f} ms, max {figures['max']:6.1f} ms over {figures['boards']} boards "
                  f"(this process's CPU: median {figures['cpu_median']:.1f}, p99 {figures['cpu_p99']:.1f} ms); "
                  f"largest window {figures['biggest_window']:,} orders; slowest: {figures['slowest']}", flush=True)
        print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
              "(other work on the machine shows up in the wall-clock figures)")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
