"""SQLite writers in one process take turns through a lock instead of busy-sleeping."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

import db

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(20)))


@pytest.fixture
def engine(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_concurrent_writers_all_commit(engine):
    sessions = db.make_session_factory(engine)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(50):
                with sessions() as session:
                    session.execute(insert(notes).values(text=f"{n}-{i}"))
                    session.execute(insert(notes).values(text=f"{n}-{i}b"))
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notes)).scalar() == 8 * 50 * 2


def test_a_transaction_abandoned_mid_write_gives_up_its_turn(engine):
    abandoned = engine.connect()
    abandoned.execute(insert(notes).values(text="never committed"))
    abandoned.close()  # the pool rolls it back
    started = time.monotonic()
    with engine.begin() as conn:
        conn.execute(insert(notes).values(text="next"))
    assert time.monotonic() - started < 1.0, "the next writer did not wait for a turn nobody holds"
    with engine.connect() as conn:
        assert conn.execute(select(notes.c.text)).scalars().all() == ["next"]


def test_a_failed_write_gives_up_its_turn(engine):
    from sqlalchemy.exc import IntegrityError

    with engine.begin() as conn:
        conn.execute(insert(notes).values(id=1, text="one"))
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(insert(notes).values(id=1, text="again"))
    started = time.monotonic()
    with engine.begin() as conn:
        conn.execute(insert(notes).values(id=2, text="two"))
    assert time.monotonic() - started < 1.0
