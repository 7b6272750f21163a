"""The one place that owns the SQLAlchemy ``Base``, engines and sessions.

Domain packages (``accounts``, ``catalog``, ``orders``, ``live``, ``schedules``, ``contests``) declare their
models on :class:`Base` and take a :class:`~sqlalchemy.orm.Session` in every operation; only
``app/`` decides when a session is committed. Nothing here knows about Flask.
"""
from __future__ import annotations

import functools
import importlib
import logging
import math
import os
import threading
from datetime import date, datetime, timedelta, timezone
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
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

logger = logging.getLogger(__name__)

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


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_epoch_ms(value: datetime) -> int:
    """``value`` as whole milliseconds since 1970, rounded half up, exactly as :class:`epoch_ms` gives it in SQL."""
    return (value - EPOCH + timedelta(microseconds=500)) // timedelta(milliseconds=1)


class _IntegerFunction(FunctionElement[int]):
    """An SQL function of one argument, written per dialect (:func:`_compile_per_dialect`)."""

    type = BigInteger()
    inherit_cache = True


def _compile_per_dialect(function: type[_IntegerFunction], templates: dict[str, str]) -> None:
    """Compile ``function(x)`` on each dialect as its template, ``{}`` standing for ``x``."""
    for dialect, template in templates.items():
        def compile_it(element: _IntegerFunction, compiler: Any, _template: str = template, **kw: Any) -> str:
            return _template.format(compiler.process(element.clauses, **kw))
        compiles(function, dialect)(compile_it)


class epoch_ms(_IntegerFunction):  # noqa: N801 - an SQL function, named as SQLAlchemy's are
    """A :class:`UTCDateTime` column as whole milliseconds since 1970 (an integer), in SQL.

    For grouping rows by spans of time in the database (a report's minutes, a chart's pixel
    columns) instead of loading every row: ``(epoch_ms(col) - start_ms) // span_ms``. SQLite keeps
    the time as UTC text (``2026-12-01 06:00:30.123456``) and reads it to the nearest millisecond
    (its day number counts whole milliseconds); PostgreSQL keeps microseconds and is rounded the
    same way here, as :func:`to_epoch_ms` does in Python.
    """

    name = "epoch_ms"
    inherit_cache = True


_compile_per_dialect(epoch_ms, {
    # julianday() is SQLite's whole-millisecond day count as a double: the error (< 0.05 ms in
    # this century) is undone by ROUND. strftime('%s') and '%f' disagree near a second's end.
    "sqlite": "CAST(ROUND((julianday({}) - 2440587.5) * 86400000.0) AS INTEGER)",
    "postgresql": "CAST(floor(extract(epoch FROM {}) * 1000 + 0.5) AS BIGINT)",
})


class round_half_up(_IntegerFunction):  # noqa: N801 - an SQL function, named as SQLAlchemy's are
    """A non-negative number rounded to the nearest integer, halves up, in SQL: what
    :func:`half_up` does in Python, so a sum in the database and the same sum in Python agree to
    the fen (SQL's ROUND and Python's ``round`` each round halves their own way)."""

    name = "round_half_up"
    inherit_cache = True


_compile_per_dialect(round_half_up, {
    # CAST to INTEGER drops the fraction, which for x + 0.5 >= 0 is the floor (SQLite's floor()
    # exists only in builds with its math functions).
    "sqlite": "CAST(({}) + 0.5 AS INTEGER)",
    "postgresql": "CAST(floor(({}) + 0.5) AS BIGINT)",
})


def half_up(value: float) -> int:
    """``value`` (non-negative) to the nearest integer, halves up, as :class:`round_half_up` in SQL."""
    return math.floor(value + 0.5)


def N_(message: str) -> str:
    """Mark a Chinese message id for translation where a domain package defines it (the app
    translates it where it is shown; ``python -m scripts.i18n`` extracts every ``N_``)."""
    return message


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)


# The years a date or time given by a person may fall in. Python's own range (years 1 to 9999)
# is not enough: year 9999 in UTC is year 10000 in Beijing, and the year 1 minus a day is no date,
# so such a value was stored and then broke every page and export showing it (a 500, found by
# Schemathesis). No broadcast, promotion, contest or harvest of a village is outside these.
FIRST_YEAR, LAST_YEAR = 2000, 2199


def in_calendar(value: date | datetime) -> bool:
    """Whether ``value`` falls in the years people may give (:data:`FIRST_YEAR`–:data:`LAST_YEAR`)."""
    return FIRST_YEAR <= value.year <= LAST_YEAR


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any, *, autocheckpoint: bool = True) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the live console polling status) run while an order is written;
    # busy_timeout turns "database is locked" into a short wait (see shared/notes/web-facts.md).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    if not autocheckpoint:
        # A WalCheckpointer thread does it; once the log is copied back, the next writer rewinds
        # it and this bounds the file left on disk.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
    cursor.close()


_WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# How long a writer waits its turn in-process before leaving it to SQLite's own busy_timeout.
_WRITE_TURN_TIMEOUT_S = 5.0


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Give this process's SQLite writers their turn through a lock instead of busy-waiting.

    SQLite allows one writer at a time; a second one is told "busy" and its busy handler sleeps
    in growing steps (up to 100 ms), which under concurrent orders made the slowest requests wait
    for nothing. Here the first INSERT/UPDATE/DELETE of a transaction (when pysqlite opens the
    write transaction) waits on a lock that is released once SQLite has committed or rolled back,
    so the next writer starts the moment the last one ends. Other processes still meet
    busy_timeout.
    """
    turn = threading.Lock()
    holders: set[int] = set()  # id() of the DBAPI connections whose transaction holds the turn

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        key = id(conn.connection.dbapi_connection)
        if key not in holders and statement.lstrip()[:7].upper().startswith(_WRITE_STATEMENTS):
            if turn.acquire(timeout=_WRITE_TURN_TIMEOUT_S):
                holders.add(key)

    def release(dbapi_connection: Any) -> None:
        key = id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        if key in holders:
            holders.discard(key)
            turn.release()

    # SQLAlchemy's "commit" and "rollback" events fire before the database is told, which would
    # let the next writer in while this one is still committing; wrap the dialect's own calls.
    dialect = engine.dialect
    for name in ("do_commit", "do_rollback"):
        def finish(dbapi_connection: Any, _call: Callable[[Any], None] = getattr(dialect, name)) -> None:
            try:
                _call(dbapi_connection)
            finally:
                release(dbapi_connection)

        setattr(dialect, name, finish)
    event.listen(engine, "before_cursor_execute", before)

    # Closing a Connection mid-transaction rolls back through do_rollback above; should one reach
    # the pool some other way (garbage-collected), the pool's own reset releases the turn as well.
    def reset(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        release(dbapi_connection)

    event.listen(engine.pool, "reset", reset)


def _private_file(path: Path) -> None:
    """Create a SQLite database file readable by this user alone (0600); SQLite gives its -wal
    and -shm files the same mode. An existing file of ours is made 0600 too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if hasattr(os, "getuid") and path.stat().st_uid == os.getuid():
        path.chmod(0o600)


def make_engine(url: str | URL, *, autocheckpoint: bool = True, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with Cunbo's settings.

    SQLite gets WAL, a 5 s busy timeout and foreign keys; the folder of a file database is
    created, and the file is private to this user (0600). With ``autocheckpoint=False`` a SQLite engine leaves checkpoints to a
    :class:`WalCheckpointer` (the server runs one). Raises ``sqlalchemy.exc.ArgumentError`` for a
    URL SQLAlchemy cannot parse.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            _private_file(Path(database))
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 5})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, autocheckpoint=autocheckpoint))
        _serialise_sqlite_writers(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def is_sqlite_file(engine: Engine) -> bool:
    """Whether ``engine`` is a SQLite database in a file (the only kind with a WAL to checkpoint)."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"


# The server copies the WAL back into the database file every half second (see WalCheckpointer).
CHECKPOINT_INTERVAL_S = 0.5
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024


class WalCheckpointer:
    """Copy a SQLite write-ahead log back into the database file from a background thread.

    By default SQLite does this inside the commit that takes the log past 1,000 pages, so every few
    dozen orders one request paid for copying and syncing thousands of pages (an order dirties
    about ten: the product, the order and its indexes, the audit rows) while the writers behind it
    waited for their turn (bench/orders.py: orders rose from 0.69 to 0.84 of the bare insert rate
    when the run had no checkpoint at all). Here a thread runs a PASSIVE checkpoint every
    ``interval_s``: it blocks neither readers nor writers, and a page written many times between
    two runs is copied once. Use it with an engine made with ``autocheckpoint=False``; other
    processes (the CLI) keep SQLite's own.
    """

    def __init__(self, engine: Engine, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cunbo-wal-checkpoint", daemon=True)
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint now → (busy, pages in the log, pages copied back)."""
        with self._engine.connect() as conn:
            busy, log, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        self.runs += 1
        return int(busy), int(log), int(copied)

    def stop(self) -> None:
        """Stop the thread (idempotent; safe in a signal handler: it waits at most a second).

        What is still in the log is safe there: the next checkpoint, by whoever opens the database
        next or by the last connection to close, copies it back.
        """
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def _checkpoint_logged(self) -> None:
        try:
            self.checkpoint()
        except SQLAlchemyError:
            # The database file gone or locked for longer than busy_timeout: the log stays valid
            # and the next run (or the last connection to close) copies it back.
            self.failures += 1
            logger.warning("WAL checkpoint failed", exc_info=True)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self._checkpoint_logged()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


# Every module that declares models, named as data so that db/ imports none of them at load time
# (they import db). Migrations and tests need the whole metadata; add new model modules here.
MODEL_MODULES: tuple[str, ...] = ("accounts.models", "catalog.models", "orders.models", "live.models",
                                   "contests.models", "schedules.models")


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
