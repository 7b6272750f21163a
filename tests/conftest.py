"""Fixtures shared by every test: app → client → login helpers, a real server, Chromium.

The database is SQLite by default; set CUNBO_TEST_DATABASE_URL (./test.sh does, in its second
pass) to run the same tests on PostgreSQL. The schema is built once per run by the real Alembic
migrations, and every test starts from empty tables.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

import db
from app import create_app
from app.config import TestConfig
from tests import factories

pytest_plugins = ["tests.media_fixtures"]
db.import_models()

PG_URL = os.environ.get("CUNBO_TEST_DATABASE_URL", "")


def is_postgresql() -> bool:
    """True when this run's database is PostgreSQL."""
    return PG_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database for this run."""
    if PG_URL:
        engine = db.make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'cunbo-test.db'}"
    db.upgrade(url)
    return url


def _empty_tables(app: Flask) -> None:
    engine = app.extensions["cunbo.engine"]
    tables = [t.name for t in reversed(db.Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(scope="session", autouse=True)
def _media_dirs(media_dir: Path) -> None:
    """The generated test videos and sounds live in a folder the live engine may play from (a
    broadcast reads files from media folders only); servers the tests start inherit it."""
    os.environ["CUNBO_MEDIA_DIRS"] = str(media_dir)


@pytest.fixture
def app(tmp_path: Path, database_url: str, no_stray_processes: None) -> Iterator[Flask]:
    """The app with the test config, its own data dir and empty tables; after the test (and the
    app's shutdown hooks) no broadcast worker or encoder of it may be left running."""
    application = create_app(TestConfig(tmp_path / "data", database_url))
    yield application
    for hook in application.extensions.get("cunbo.shutdown_hooks", []):
        hook()
    _empty_tables(application)
    application.extensions["cunbo.engine"].dispose()


@pytest.fixture(autouse=True)
def _push_request_context() -> None:
    """Turn off pytest-flask's request context around each test.

    It would make every client request in a test share one app context (and so one ``g``), which
    real requests never do; tests that need a context push their own.
    """


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client whose requests each get their own contexts, as real requests do.

    pytest-flask's own ``client`` is used ``with`` the client, which keeps the last request's
    app context pushed: every later request in the test, from any client, then shared one ``g``
    (its logged-in user, its database session), so a second client looked logged in.
    """
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A database session for arranging data and checking results (commit to make it visible)."""
    with app.extensions["cunbo.sessions"]() as s:
        yield s


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of this client's session, read from a page like a browser would."""
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = factories.PASSWORD) -> None:
    """Log ``client`` in through the real login form; fails the test if it does not work."""
    token = csrf_token(client)
    response = client.post(
        "/auth/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def browser_login(page, server_url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """Log in through the real login page in the browser; waits for the home page."""
    from playwright.sync_api import expect

    page.goto(f"{server_url}/auth/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="您好", exact=False)).to_be_visible()


class ApiClient:
    """A test client that calls the JSON API with a Bearer token, as a script would."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, json=None, **kw):  # type: ignore[no-untyped-def]
        return self.client.post(path, json=json, headers=self.headers, **kw)

    def patch(self, path: str, json=None, **kw):  # type: ignore[no-untyped-def]
        return self.client.patch(path, json=json, headers=self.headers, **kw)

    def delete(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.delete(path, headers=self.headers, **kw)


@pytest.fixture
def api_as(app: Flask, session: Session):  # type: ignore[no-untyped-def]
    """``api_as(user)`` → an :class:`ApiClient` authenticated with a fresh token for ``user``."""

    def make(user) -> ApiClient:  # type: ignore[no-untyped-def]
        token = factories.token_for(session, user)
        return ApiClient(app.test_client(), token)

    return make


@pytest.fixture
def server_url(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1 by a thread (shares state with the test)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    """Debian's Chromium, never a downloaded browser."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where browser tests save their screenshots (kept after the run for people to look at)."""
    path = Path(os.environ.get("CUNBO_SCREENSHOTS", Path(__file__).parent.parent / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path
