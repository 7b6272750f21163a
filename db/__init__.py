"""The one place that owns the SQLAlchemy ``Base``, engines and sessions.

Domain packages (``accounts``, ``catalog``, ``orders``, ``schedules``, ``contests``) declare their
models on :class:`Base` and take a :class:`~sqlalchemy.orm.Session` in every operation; only
``app/`` decides when a session is committed. Nothing here knows about Flask.
"""
from __future__ import annotations

import importlib
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names so that Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base for every Cunbo model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to UTC on the way in and tagged on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Cunbo stores aware UTC times only")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the live console polling status) run while an order is written;
    # busy_timeout turns "database is locked" into a short wait (see shared/notes/web-facts.md).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# How long a writer waits its turn in-process before leaving it to SQLite's own busy_timeout.
_WRITE_TURN_TIMEOUT_S = 5.0


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Give this process's SQLite writers their turn through a lock instead of busy-waiting.

    SQLite allows one writer at a time; a second one is told "busy" and its busy handler sleeps
    in growing steps (up to 100 ms), which under concurrent orders made the slowest requests wait
    for nothing. Here the first INSERT/UPDATE/DELETE of a transaction (when pysqlite opens the
    write transaction) waits on a lock that commit or rollback releases, so the next writer starts
    the moment the last one ends. Other processes still meet busy_timeout.
    """
    turn = threading.Lock()
    held = "cunbo_write_turn"

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not conn.info.get(held) and statement.lstrip()[:7].upper().startswith(_WRITE_STATEMENTS):
            conn.info[held] = turn.acquire(timeout=_WRITE_TURN_TIMEOUT_S)

    def release(info: dict[str, Any]) -> None:
        if info.pop(held, False):
            turn.release()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", lambda conn: release(conn.info))
    event.listen(engine, "rollback", lambda conn: release(conn.info))
    # Closing a Connection mid-transaction fires "rollback" above; should one reach the pool some
    # other way (garbage-collected), the pool's own reset releases the turn as well.
    def reset(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        release(connection_record.info)

    event.listen(engine.pool, "reset", reset)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with Cunbo's settings.

    SQLite gets WAL, a 5 s busy timeout and foreign keys; the folder of a file database is
    created. Raises ``sqlalchemy.exc.ArgumentError`` for a URL SQLAlchemy cannot parse.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 5})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _serialise_sqlite_writers(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


# Every module that declares models, named as data so that db/ imports none of them at load time
# (they import db). Migrations and tests need the whole metadata; add new model modules here.
MODEL_MODULES: tuple[str, ...] = ("accounts.models", "catalog.models", "orders.models", "schedules.models")


def import_models() -> None:
    """Import every module in :data:`MODEL_MODULES`, so that ``Base.metadata`` is complete."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


def alembic_config(url: str | URL) -> Any:
    """An Alembic ``Config`` pointing at our migrations and at ``url``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "sqlalchemy.url", make_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(url: str | URL, revision: str = "heads") -> None:
    """Apply every migration up to ``revision`` (all heads by default). Keeps existing data."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
