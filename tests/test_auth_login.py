"""Password login, PIN login for farmers, logout, throttling and safe redirects."""
from __future__ import annotations

from tests import factories
from tests.conftest import csrf_token, login


def post_login(client, username, password):
    return client.post(
        "/auth/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)}
    )


def test_login_then_home_then_logout(client, session):
    factories.user(session, "coordinator", "zhang", display_name="张站长")
    login(client, "zhang")
    home = client.get("/")
    assert home.status_code == 200
    assert "张站长" in home.get_data(as_text=True)
    response = client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert client.get("/").status_code == 302, "after logout the home page asks for login again"


def test_wrong_password_is_refused_with_a_plain_message(client, session):
    factories.user(session, "coordinator", "zhang")
    response = post_login(client, "zhang", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码不对" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_repeated_failures_are_throttled_even_with_the_right_password(client, session):
    factories.user(session, "coordinator", "zhang")
    for _ in range(5):
        assert post_login(client, "zhang", "nope-nope").status_code == 401
    response = post_login(client, "zhang", factories.PASSWORD)
    assert response.status_code == 429
    assert "尝试次数过多" in response.get_data(as_text=True)


def test_success_clears_earlier_failures(client, session):
    factories.user(session, "coordinator", "zhang")
    for _ in range(3):
        post_login(client, "zhang", "nope-nope")
    login(client, "zhang")


def test_farmer_logs_in_with_pin_on_the_local_pc(client, session):
    factories.user(session, "farmer", "wang", display_name="王大姐", pin="2468")
    page = client.get("/auth/pin")
    assert "王大姐" in page.get_data(as_text=True)
    response = client.post(
        "/auth/pin", data={"username": "wang", "pin": "2468", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    assert "王大姐" in client.get("/").get_data(as_text=True)


def test_wrong_pin_is_refused(client, session):
    factories.user(session, "farmer", "wang", pin="2468")
    response = client.post(
        "/auth/pin", data={"username": "wang", "pin": "1111", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 401
    assert "PIN 码不对" in response.get_data(as_text=True)


def test_pin_login_is_not_offered_from_another_computer(app, client, session):
    factories.user(session, "farmer", "wang", pin="2468")
    with app.test_request_context():
        from app import site

        site.save(lan_access=True)  # even with LAN access on, PINs stay on the village PC
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    response = client.get("/auth/pin", environ_base=remote)
    assert response.status_code == 302
    response = client.post(
        "/auth/pin",
        data={"username": "wang", "pin": "2468", "csrf_token": csrf_token(client)},
        environ_base=remote,
    )
    assert response.status_code == 302 and "/auth/login" in response.location
    assert client.get("/", environ_base=remote).status_code == 302


def test_login_redirects_only_to_this_site(client, session):
    factories.user(session, "coordinator", "zhang")
    token = csrf_token(client)
    response = client.post(
        "/auth/login?next=https://evil.example/x",
        data={"username": "zhang", "password": factories.PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.location == "/"
