"""SQLite writers in one process take turns through a lock instead of busy-sleeping."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select

import db

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(20)))


@pytest.fixture
def engine(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _write_concurrently(engine, threads: int, transactions: int, rows: int) -> list[BaseException]:
    """``threads`` threads each commit ``transactions`` transactions of ``rows`` rows; the errors met."""
    sessions = db.make_session_factory(engine)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(transactions):
                with sessions() as session:
                    for r in range(rows):
                        session.execute(insert(notes).values(text=f"{n}-{i}-{r}"))
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)

    pool = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    return errors


def _count(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(notes)).scalar_one())


def test_concurrent_writers_all_commit(engine):
    assert _write_concurrently(engine, threads=8, transactions=50, rows=2) == []
    assert _count(engine) == 8 * 50 * 2


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


def test_the_turn_covers_the_commit_so_writers_never_meet_a_busy_database(engine):
    """With SQLite's own wait switched off, any overlap of two writers fails at once ("locked")."""
    event.listen(engine, "connect", lambda dbapi_connection, record: dbapi_connection.execute("PRAGMA busy_timeout=0"))
    engine.dispose()  # connections from now on wait for nothing
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0
    assert _write_concurrently(engine, threads=6, transactions=100, rows=1) == []
    assert _count(engine) == 600


def _commit_one_by_one(engine, rows: int) -> int:
    """Commit ``rows`` single-row transactions; the log's page count (a PASSIVE checkpoint's answer)."""
    for i in range(rows):
        with engine.begin() as conn:
            conn.execute(insert(notes).values(text=f"{i:020d}"))
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1])


def test_by_default_a_commit_copies_the_log_back_past_a_thousand_pages(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'auto.db'}")
    metadata.create_all(engine)
    try:
        assert _commit_one_by_one(engine, 1500) < 1000
    finally:
        engine.dispose()


def test_without_autocheckpoint_the_log_waits_for_the_checkpointer_thread(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'wal.db'}", autocheckpoint=False)
    metadata.create_all(engine)
    checkpointer = db.WalCheckpointer(engine, interval_s=0.1)
    try:
        logged = _commit_one_by_one(engine, 1500)
        assert logged >= 1500, "a commit copied the log back itself"
        checkpointer.start()
        deadline = time.monotonic() + 10
        while checkpointer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.runs >= 1 and checkpointer.failures == 0
        # Everything logged has been copied back, so the next writer starts the log from the top.
        assert checkpointer.checkpoint() == (0, logged, logged)
        assert _commit_one_by_one(engine, 1) < 10
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(notes)).scalar() == 1501
    finally:
        checkpointer.stop()
        engine.dispose()
    assert checkpointer.failures == 0


def test_the_server_app_checkpoints_its_sqlite_file_in_the_background_until_shutdown(tmp_path):
    from app import create_app
    from app.config import TestConfig

    config = TestConfig(tmp_path / "data", f"sqlite:///{tmp_path / 'app.db'}")
    config.SQLITE_CHECKPOINT_THREAD = True  # as the real Config has it
    app = create_app(config)
    checkpointer = app.extensions["cunbo.checkpointer"]
    try:
        with app.extensions["cunbo.engine"].connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        deadline = time.monotonic() + 10
        while checkpointer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.runs > 0 and checkpointer.failures == 0
    finally:
        for hook in app.extensions["cunbo.shutdown_hooks"]:
            hook()
        app.extensions["cunbo.engine"].dispose()
    assert not checkpointer.running


def test_test_apps_keep_sqlites_own_checkpoints(app):
    assert "cunbo.checkpointer" not in app.extensions
