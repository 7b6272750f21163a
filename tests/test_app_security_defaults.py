"""Security defaults (issue 15 #9, #10): sessions end at logout, private data files, masked keys,
nosniff everywhere, cookies that do not leak."""
from __future__ import annotations

import stat

import pytest

from capture.redact import mask_url, redact
from catalog import photos
from tests import factories
from tests.conftest import csrf_token, is_postgresql, login


def mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(path.stat().st_mode)


def test_a_session_cookie_replayed_after_logout_no_longer_works(client, session):
    factories.user(session, "coordinator", "coord")
    login(client, "coord")
    cookie = client.get_cookie("session")
    assert cookie is not None and client.get("/api/me").status_code == 200
    assert client.post("/auth/logout", data={"csrf_token": csrf_token(client)}).status_code == 302
    client.set_cookie("session", cookie.value)  # the same browser, the same address, the old cookie
    assert client.get("/api/me").status_code == 401
    login(client, "coord")
    assert client.get("/api/me").status_code == 200, "logging in again works"


def test_every_answer_says_nosniff(client, session, api_as):
    coordinator = factories.user(session, "coordinator", "coord")
    api = api_as(coordinator)
    answers = [client.get("/auth/login"), client.get("/healthz"), client.get("/no-such-page"),
               client.get("/static/css/cunbo.css"), api.get("/api/products"), api.get("/api/products/export.csv"),
               api.get("/api/orders/12345")]
    headers = [r.headers.get("X-Content-Type-Options") for r in answers]
    for response in answers:
        response.close()
    assert headers == ["nosniff"] * len(answers)


def test_csv_downloads_name_their_charset_once(session, api_as):
    api = api_as(factories.user(session, "coordinator", "coord"))
    response = api.get("/api/products/export.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_the_session_cookie_is_httponly_lax_and_secure_only_over_https(app, session):
    factories.user(session, "coordinator", "coord")
    plain = app.test_client()
    login(plain, "coord")
    cookie = plain.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    tls = app.test_client()
    tls.get("/auth/login", base_url="https://localhost")
    token = csrf_token_over_https(tls)
    tls.post("/auth/login", base_url="https://localhost",
             data={"username": "coord", "password": factories.PASSWORD, "csrf_token": token})
    secure = tls.get_cookie("session", domain="localhost")
    assert secure is not None and secure.secure


def csrf_token_over_https(client) -> str:  # type: ignore[no-untyped-def]
    import re

    page = client.get("/auth/login", base_url="https://localhost").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match
    return match.group(1)


@pytest.mark.skipif(is_postgresql(), reason="the SQLite database file")
def test_the_database_and_data_files_are_private(app, session):
    farmer = factories.user(session, "farmer", "wang")
    coordinator = factories.user(session, "coordinator", "coord")
    product = factories.product(session, farmer)
    data_dir = app.config["DATA_DIR"]
    photo = photos.add_photo(session, data_dir, product, factories.image_bytes(), coordinator)
    assert mode(data_dir) == 0o700
    assert all(mode(photos.photo_path(data_dir, photo.stem, kind)) == 0o600 for kind in photos.KINDS)
    from pathlib import Path

    from app.config import TestConfig
    from app import create_app

    fresh = create_app(TestConfig(Path(data_dir).parent / "fresh"))
    with fresh.extensions["cunbo.engine"].connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.commit()
    database = Path(fresh.config["DATA_DIR"]) / "cunbo.db"
    assert mode(database) == 0o600 and mode(Path(str(database) + "-wal")) == 0o600
    fresh.extensions["cunbo.engine"].dispose()


def test_a_stream_key_with_slashes_is_masked_whole():
    masked = mask_url("rtmp://push.example.com/live/abcd/efgh1234secret?sign=zz99")
    assert "abcd" not in masked and "efgh" not in masked and "secret" not in masked
    assert masked.startswith("rtmp://push.example.com/live/")


def test_the_log_masker_leaves_unrelated_text_alone_for_short_query_values():
    url = "rtmp://push.example.com/live/k9f8e7d6c5b4?t=1&sign=ab"
    line = f"frame=  100 fps=30 q=23.0 size=1024kB time=00:00:10 {url} t=1 error 1"
    cleaned = redact(line, [url])
    assert "k9f8e7d6c5b4" not in cleaned and "sign=ab" not in cleaned
    assert "frame=  100 fps=30 q=23.0 size=1024kB time=00:00:10" in cleaned and cleaned.endswith("error 1")
