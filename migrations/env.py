"""Alembic environment: runs Cunbo's migrations against the URL in the Alembic config."""
from __future__ import annotations

from alembic import context

from db import Base, import_models, make_engine

import_models()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by db.alembic_config()"
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (create a copy, DROP the old one, rename). With foreign
            # keys on, that DROP would cascade into every table referencing it: rebuilding users
            # would wipe host profiles and tokens. SQLite takes this pragma only outside a
            # transaction, so it goes straight to the driver before Alembic begins one.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things: batch mode copies the table instead.
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows whose references are gone: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Cunbo runs migrations online only (flask --app wsgi db upgrade)")
run_migrations_online()
