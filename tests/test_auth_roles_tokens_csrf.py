"""Role checks, API tokens and CSRF protection."""
from __future__ import annotations

from sqlalchemy import event

from accounts.models import ApiToken
from tests import factories
from tests.conftest import ApiClient, csrf_token, login


def test_admin_page_is_forbidden_to_other_roles(client, session):
    factories.user(session, "farmer", "wang")
    login(client, "wang")
    response = client.get("/users/")
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)


def test_admin_creates_a_farmer_with_a_pin(client, session):
    factories.user(session, "admin", "boss")
    login(client, "boss")
    response = client.post(
        "/users/",
        data={
            "username": "li", "display_name": "李大哥", "role": "farmer", "village": "西王庄",
            "password": "longpassword", "pin": "1357", "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    assert "李大哥" in client.get("/users/").get_data(as_text=True)


def test_bad_new_user_is_refused_with_the_reason(client, session):
    factories.user(session, "admin", "boss")
    login(client, "boss")
    response = client.post(
        "/users/",
        data={"username": "boss", "role": "farmer", "password": "longpassword", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 400
    assert "已被使用" in response.get_data(as_text=True)


def test_token_authenticates_api_calls(app, session, api_as):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    response = api_as(wang).get("/api/me")
    assert response.status_code == 200
    assert response.json == {"username": "wang", "role": "farmer", "display_name": "王大姐"}


def test_a_token_call_reads_the_token_and_its_user_in_one_query(app, session, api_as):
    wang = factories.user(session, "farmer", "wang")
    client = api_as(wang)
    assert client.get("/api/me").status_code == 200  # last_used_at written: later calls only read
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = app.extensions["cunbo.engine"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get("/api/me").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements


def test_only_the_hash_of_a_token_is_stored(app, session):
    wang = factories.user(session, "farmer", "wang")
    token = factories.token_for(session, wang)
    stored = session.query(ApiToken).one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_bad_or_revoked_token_is_401(app, session, client):
    wang = factories.user(session, "farmer", "wang")
    token = factories.token_for(session, wang)
    assert ApiClient(client, "cb_not-a-token").get("/api/me").status_code == 401
    session.query(ApiToken).update({"revoked": True})
    session.commit()
    response = ApiClient(client, token).get("/api/me")
    assert response.status_code == 401
    assert response.json["error"]


def test_form_post_without_csrf_token_is_rejected(client, session):
    factories.user(session, "admin", "boss")
    login(client, "boss")
    response = client.post("/users/", data={"username": "x1", "role": "farmer", "password": "longpassword"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


def test_login_form_without_csrf_token_is_rejected(client, session):
    factories.user(session, "coordinator", "zhang")
    response = client.post("/auth/login", data={"username": "zhang", "password": factories.PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_api_call_with_a_session_cookie_needs_the_csrf_header(client, session):
    factories.user(session, "coordinator", "zhang")
    login(client, "zhang")
    # /api/me only answers GET; a POST proves CSRF runs before routing decides the method.
    refused = client.post("/auth/logout")
    assert refused.status_code == 400
    accepted = client.post("/auth/logout", headers={"X-CSRFToken": csrf_token(client)})
    assert accepted.status_code == 302
