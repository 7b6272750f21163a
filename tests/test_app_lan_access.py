"""Other devices on the LAN get in only when the admin turns LAN access on."""
from __future__ import annotations

from tests import factories
from tests.conftest import csrf_token, login

PHONE = {"REMOTE_ADDR": "192.168.1.23"}


def test_lan_is_off_by_default_for_pages_and_api(client, session, api_as):
    farmer = factories.user(session, "farmer", "wang")
    page = client.get("/auth/login", environ_base=PHONE)
    assert page.status_code == 403 and "没有开启局域网访问" in page.get_data(as_text=True)
    api = api_as(farmer)
    response = api.client.get("/api/me", headers=api.headers, environ_base=PHONE)
    assert response.status_code == 403 and response.json["error"] == "这台电脑没有开启局域网访问"
    assert client.get("/healthz", environ_base=PHONE).status_code == 200


def test_the_pc_itself_is_never_refused(client):
    assert client.get("/auth/login").status_code == 200


def test_admin_turns_lan_on_and_a_helper_runs_the_console_from_a_phone(app, client, session):
    factories.user(session, "admin", "boss")
    factories.user(session, "farmer", "wang")
    login(client, "boss")
    page = client.get("/settings/")
    assert "允许局域网里的设备访问" in page.get_data(as_text=True)
    response = client.post("/settings/", data={"lan_access": "on", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert "CUNBO_HOST=0.0.0.0" in client.get("/settings/").get_data(as_text=True), \
        "the page says the server still listens on 127.0.0.1 only"

    phone = app.test_client()
    token = csrf_token_for(phone)
    response = phone.post("/auth/login", data={"username": "wang", "password": factories.PASSWORD, "csrf_token": token},
                          environ_base=PHONE)
    assert response.status_code == 302
    console = phone.get("/live/", environ_base=PHONE)
    assert console.status_code == 200 and "开始直播" in console.get_data(as_text=True)

    client.post("/settings/", data={"csrf_token": csrf_token(client)})  # unticked: off again
    assert phone.get("/live/", environ_base=PHONE).status_code == 403


def test_only_the_admin_changes_this_pcs_settings(client, session):
    factories.user(session, "coordinator", "zhang")
    login(client, "zhang")
    assert client.get("/settings/").status_code == 403


def csrf_token_for(phone):
    import re

    page = phone.get("/auth/login", environ_base=PHONE).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
