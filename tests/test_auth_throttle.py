"""The login throttle counts before it checks, so a burst cannot outrun it, and it locks a name on
an address, not the whole village PC (issue 15 #6). Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts import services as accounts
from tests import factories
from tests.conftest import csrf_token


def post_login(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": csrf_token(client)})


@pytest.fixture
def counted_checks(monkeypatch):
    """How many passwords were really checked; each check takes a while, as scrypt does."""
    checks: list[str] = []
    lock = threading.Lock()
    real = accounts.check_password_hash

    def slow_check(pwhash: str, password: str) -> bool:
        with lock:
            checks.append(password)
        time.sleep(0.05)
        return real(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", slow_check)
    return checks


def burst(app, attempts: list[tuple[str, str]]) -> list[int]:  # type: ignore[no-untyped-def]
    """Send every (name, password) login at once, each from its own browser; their statuses."""
    clients = [app.test_client() for _ in attempts]
    tokens = [csrf_token(c) for c in clients]
    start = threading.Barrier(len(attempts))

    def one(i: int) -> int:
        name, password = attempts[i]
        start.wait(timeout=30)
        return clients[i].post("/auth/login", data={"username": name, "password": password,
                                                    "csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(one, range(len(attempts)), timeout=120))


def test_forty_parallel_wrong_passwords_get_at_most_the_limit_of_real_checks(app, session, counted_checks):
    factories.user(session, "farmer", "wang")
    statuses = burst(app, [("wang", f"wrong-{i}") for i in range(40)])
    assert len(counted_checks) <= accounts.MAX_FAILURES, counted_checks
    assert statuses.count(401) == len(counted_checks) and statuses.count(429) == 40 - len(counted_checks)


def test_the_right_password_inside_a_burst_does_not_get_in_over_the_limit(app, session, counted_checks):
    factories.user(session, "farmer", "wang")
    client = app.test_client()
    for i in range(accounts.MAX_FAILURES):
        assert post_login(client, "wang", f"wrong-{i}").status_code == 401
    attempts = [("wang", f"more-{i}") for i in range(20)]
    attempts.insert(10, ("wang", factories.PASSWORD))
    assert burst(app, attempts) == [429] * len(attempts)
    assert len(counted_checks) == accounts.MAX_FAILURES, "nothing in the burst reached a password check"


def test_one_locked_name_does_not_lock_the_pc_for_a_coordinator(client, session):
    factories.user(session, "farmer", "wang")
    factories.user(session, "coordinator", "coord")
    for _ in range(accounts.MAX_FAILURES):
        assert post_login(client, "wang", "nope-nope").status_code == 401
    assert post_login(client, "wang", factories.PASSWORD).status_code == 429
    assert post_login(client, "coord", factories.PASSWORD).status_code == 302


def test_guessing_many_names_from_one_address_is_still_paused(client, session):
    factories.user(session, "coordinator", "coord")
    for i in range(accounts.MAX_ADDRESS_FAILURES):
        assert post_login(client, f"name{i}", "nope-nope").status_code == 401
    assert post_login(client, "coord", factories.PASSWORD).status_code == 429
