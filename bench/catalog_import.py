"""Import benchmark: a 10,000-row catalog CSV into a fresh SQLite database (target: under 1 s).

    .venv/bin/python -m bench.catalog_import [--rows 10000] [--database-url URL]

Prints rows per second and seconds for: a first import (every row new), the same file again
(every row unchanged) and a file that changes every price (every row updated, with history).
Not a timed test: a figure for people, measured on this machine.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import db  # noqa: E402
from accounts import services as accounts  # noqa: E402
from catalog import spreadsheet  # noqa: E402
from tests.factories import catalog_csv  # noqa: E402

WORDS = "五常大米小米红薯土豆苹果梨子核桃蜂蜜鸡蛋香菇木耳茶叶花生玉米红枣枸杞山药莲藕板栗柿饼"
UNITS = ("斤", "公斤", "箱", "袋", "瓶", "盒", "个")


def make_rows(count: int, farmers: list[str], price_shift: int = 0) -> list[list[str]]:
    """A catalog as a coordinator's spreadsheet: Chinese headers, prices written in several ways."""
    rng = random.Random(7)
    rows = [["编号", "名称", "农户", "单位", "单价", "促销价", "库存", "链接号", "产地"]]
    for i in range(count):
        name = "".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))) + f"{i}号"
        price = rng.randint(100, 50000) + price_shift
        style = i % 3
        price_text = f"{price / 100:.2f}" if style == 0 else f"¥{price / 100:.2f}" if style == 1 else f"{price / 100:.2f}元"
        rows.append([f"S{i:06d}", name, rng.choice(farmers), rng.choice(UNITS), price_text, "",
                     str(rng.randint(0, 500)), str(i % 200 + 1), "河北"])
    return rows


def timed(label: str, factory, data: bytes, actor, rows: int) -> float:  # type: ignore[no-untyped-def]
    with factory() as session:
        start = time.perf_counter()
        report = spreadsheet.import_products(session, data, actor)
        session.commit()
        seconds = time.perf_counter() - start
    assert report.ok, report.errors[:3]
    print(f"{label:<28} {rows:>6} rows  {seconds:6.3f} s  {rows / seconds:9.0f} rows/s  "
          f"(created {report.created}, updated {report.updated}, unchanged {report.unchanged})")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        db.import_models()
        engine = db.make_engine(url)
        factory = db.make_session_factory(engine)
        with factory() as session:
            actor = accounts.create_user(session, "bench_coord", "coordinator", "password123")
            farmers = [accounts.create_user(session, f"bench_f{i}", "farmer", "password123").username for i in range(20)]
            session.commit()
            session.expunge_all()
        first = catalog_csv(make_rows(args.rows, farmers))
        changed = catalog_csv(make_rows(args.rows, farmers, price_shift=10))
        print(f"file: {len(first) / 1e6:.2f} MB, database: {engine.url.get_backend_name()}")
        seconds = timed("first import (all new)", factory, first, actor, args.rows)
        timed("same file again (unchanged)", factory, first, actor, args.rows)
        timed("every price changed", factory, changed, actor, args.rows)
        engine.dispose()
    verdict = "under" if seconds < 1 else "OVER"
    print(f"target: first import of {args.rows} rows under 1 s: {verdict} ({seconds:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
