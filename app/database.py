"""Flask glue for the database: one engine per app, one session per request."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import db


def init_app(app: Flask) -> None:
    """Create the engine and session factory and close each request's session at teardown."""
    checkpoint_thread = bool(app.config.get("SQLITE_CHECKPOINT_THREAD", True))
    # Never fewer pooled connections than request threads plus the live monitor and checkpointer:
    # a request must not wait for a connection while others hold theirs.
    pool = {"pool_size": app.config["SERVER_THREADS"] + 4, "max_overflow": 8}
    engine = db.make_engine(app.config["DATABASE_URL"], autocheckpoint=not checkpoint_thread, **pool)
    app.extensions["cunbo.engine"] = engine
    if checkpoint_thread and db.is_sqlite_file(engine):
        # Commits no longer copy the log back themselves (see db.WalCheckpointer).
        checkpointer = db.WalCheckpointer(engine)
        checkpointer.start()
        app.extensions["cunbo.checkpointer"] = checkpointer
        app.extensions.setdefault("cunbo.shutdown_hooks", []).append(checkpointer.stop)
    app.extensions["cunbo.sessions"] = db.make_session_factory(engine)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["cunbo.engine"]  # type: ignore[no-any-return]


def session_factory() -> sessionmaker[Session]:
    """The current app's session factory, for work outside a request (threads, CLI)."""
    return current_app.extensions["cunbo.sessions"]  # type: ignore[no-any-return]


def get_db() -> Session:
    """This request's session, opened on first use. Uncommitted work is rolled back at teardown."""
    if "db_session" not in g:
        g.db_session = session_factory()()
    return g.db_session  # type: ignore[no-any-return]


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
