"""Alembic migrations build the schema the models describe, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import db
from tests.conftest import PG_URL


@pytest.fixture
def empty_url(tmp_path):
    """A brand-new empty database of this run's kind."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    engine = db.make_engine(PG_URL)
    name = f"cunbo_mig_{tmp_path.name[-8:].lower().replace('-', '_')}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = engine.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def test_migrations_from_empty_to_head_match_the_models(empty_url):
    db.upgrade(empty_url)
    db.import_models()
    engine = db.make_engine(empty_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert set(db.Base.metadata.tables) <= set(inspect(conn).get_table_names())
    engine.dispose()


def test_upgrading_again_keeps_the_data(empty_url):
    db.upgrade(empty_url)
    engine = db.make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash, village, active, created_at)"
                " VALUES ('keep', '', 'farmer', 'x', '', true, CURRENT_TIMESTAMP)"
            )
        )
    db.upgrade(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["keep"]
    engine.dispose()


def test_there_is_one_head():
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "merge migration branches before landing"


def _farmer_profiled_at_0012(url):
    """A database at 0012 with one farmer, the farmer's console profile and an API token."""
    db.upgrade(url, "0012")
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (username, display_name, role, password_hash, village, active, created_at)"
                          " VALUES ('zhao', '', 'farmer', 'x', '', true, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO host_profiles (user_id, video, audio, preset, layout, qr_text)"
                          " SELECT id, '0', 'default', '720p30', 'landscape', '' FROM users"))
        conn.execute(text("INSERT INTO api_tokens (user_id, token_hash, label, created_at, revoked)"
                          " SELECT id, 'h', 'script', CURRENT_TIMESTAMP, false FROM users"))
    return engine


def test_hosts_profiled_before_recognition_was_remembered_start_with_it_off(empty_url):
    engine = _farmer_profiled_at_0012(empty_url)
    db.upgrade(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT recognition FROM host_profiles")).scalars().all() == ["off"]
    engine.dispose()


def test_rebuilding_the_users_table_keeps_every_row_that_refers_to_a_user(empty_url):
    """SQLite rebuilds a table to change a column (0013 makes the password optional): with foreign
    keys on, dropping the old users table would cascade into tokens and host profiles."""
    engine = _farmer_profiled_at_0012(empty_url)
    db.upgrade(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM host_profiles")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM api_tokens")).scalar_one() == 1
        assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["zhao"]
    engine.dispose()
