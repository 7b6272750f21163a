"""The admin manages accounts: PIN-only farmers, field-named errors, edit, PIN reset, disable."""
from __future__ import annotations

import re

from sqlalchemy import select

from accounts import services as accounts
from accounts.models import User
from tests import factories
from tests.conftest import csrf_token, login


def admin_client(client, session):
    factories.user(session, "admin", "boss")
    login(client, "boss")
    return client


def new_user(client, **fields):
    data = {"username": "", "display_name": "", "role": "farmer", "village": "", "password": "", "pin": "",
            "phone": "", "pickup_address": "", **fields, "csrf_token": csrf_token(client)}
    return client.post("/users/", data=data)


def by_name(session, username):
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


def pin_login(client, username, pin):
    return client.post("/auth/pin", data={"username": username, "pin": pin, "csrf_token": csrf_token(client)})


def password_login(client, username, password):
    return client.post("/auth/login", data={"username": username, "password": password,
                                             "csrf_token": csrf_token(client)})


def field_error(page: str, field: str) -> str:
    """The error shown right after the input named ``field`` (the template puts it beside it)."""
    match = re.search(rf'name="{field}"[^>]*>\s*</label>\s*<p class="field-error" id="{field}-error">([^<]+)</p>', page)
    assert match, f"no error beside {field}"
    return match.group(1)


def test_a_farmer_with_only_a_pin_is_added_and_logs_in_with_the_pin(app, client, session):
    admin_client(client, session)
    response = new_user(client, username="wang", display_name="王大姐", pin="2468")
    assert response.status_code == 302
    farmer = by_name(session, "wang")
    assert farmer.password_hash is None and farmer.pin_hash
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    assert password_login(client, "wang", "").status_code == 400
    assert password_login(client, "wang", "anything-at-all").status_code == 401
    assert pin_login(client, "wang", "2468").status_code == 302


def test_a_non_farmer_without_a_password_is_refused_beside_the_password_field(app, client, session):
    admin_client(client, session)
    response = new_user(client, username="zhang", role="coordinator", display_name="张站长", village="王家村")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "请填写密码" in field_error(page, "password")
    assert 'value="张站长"' in page and 'value="王家村"' in page and 'value="zhang"' in page
    assert by_name(session, "zhang") is None


def test_a_too_short_password_is_named_beside_its_field_and_nothing_typed_is_lost(app, client, session):
    admin_client(client, session)
    response = new_user(client, username="li", role="trainer", display_name="李老师", password="short", phone="13800138000")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert field_error(page, "password") == "密码至少 8 位"
    for typed in ('value="li"', 'value="李老师"', 'value="short"', 'value="13800138000"'):
        assert typed in page
    assert re.search(r'<option selected value="trainer">|<option value="trainer" selected>', page)


def test_the_admin_edits_name_role_contact_and_password(app, client, session):
    admin_client(client, session)
    user = factories.user(session, "farmer", "wang", display_name="王大姐", pin="2468")
    page = client.get(f"/users/{user.id}/edit").get_data(as_text=True)
    assert 'value="王大姐"' in page and 'name="password" type="password" value=""' in page
    response = client.post(f"/users/{user.id}/edit", data={
        "display_name": "王二姐", "role": "farmer", "village": "李家村", "phone": "13900001111",
        "pickup_address": "李家村三组 12 号", "password": "", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    edited = by_name(session, "wang")
    assert (edited.display_name, edited.village, edited.phone, edited.pickup_address) == (
        "王二姐", "李家村", "13900001111", "李家村三组 12 号")
    assert edited.pin_hash, "an edit without a new password or PIN keeps them"
    client.post(f"/users/{user.id}/edit", data={
        "display_name": "王二姐", "role": "coordinator", "village": "", "phone": "", "pickup_address": "",
        "password": "newpassword1", "csrf_token": csrf_token(client)})
    promoted = by_name(session, "wang")
    assert promoted.role == "coordinator" and promoted.pin_hash is None, "only farmers keep a PIN"


def test_a_pin_only_farmer_cannot_become_a_coordinator_without_a_password(app, client, session):
    admin_client(client, session)
    new_user(client, username="wang", pin="2468")
    user = by_name(session, "wang")
    response = client.post(f"/users/{user.id}/edit", data={
        "display_name": "王大姐", "role": "coordinator", "village": "", "phone": "", "pickup_address": "",
        "password": "", "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "请给这个账号设一个密码" in field_error(response.get_data(as_text=True), "password")
    assert by_name(session, "wang").role == "farmer"


def test_the_admin_resets_a_pin_and_only_the_new_one_works(app, client, session):
    admin_client(client, session)
    user = factories.user(session, "farmer", "wang", pin="2468")
    bad = client.post(f"/users/{user.id}/pin", data={"pin": "12", "csrf_token": csrf_token(client)})
    assert bad.status_code == 400 and field_error(bad.get_data(as_text=True), "pin") == "PIN 码是 4–6 位数字"
    assert client.post(f"/users/{user.id}/pin", data={"pin": "1357", "csrf_token": csrf_token(client)}).status_code == 302
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    assert pin_login(client, "wang", "2468").status_code == 401
    assert pin_login(client, "wang", "1357").status_code == 302


def test_a_disabled_user_cannot_log_in_by_password_pin_or_token_and_their_session_ends(app, client, session):
    farmer = factories.user(session, "farmer", "wang", pin="2468")
    token = factories.token_for(session, farmer)
    farmer_client = app.test_client()
    login(farmer_client, "wang")
    assert farmer_client.get("/").status_code == 200
    admin_client(client, session)
    assert client.post(f"/users/{farmer.id}/active", data={"active": "0", "csrf_token": csrf_token(client)}).status_code == 302
    assert by_name(session, "wang").active is False
    assert farmer_client.get("/").status_code == 302, "the session that was open stops working"
    other = app.test_client()
    assert password_login(other, "wang", factories.PASSWORD).status_code == 401
    assert pin_login(other, "wang", "2468").status_code in (400, 401), "a disabled farmer is not offered"
    assert other.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    client.post(f"/users/{farmer.id}/active", data={"active": "1", "csrf_token": csrf_token(client)})
    assert farmer_client.get("/").status_code == 302, "re-enabling does not revive old sessions"
    assert password_login(other, "wang", factories.PASSWORD).status_code == 302


def test_the_last_admin_cannot_be_disabled_or_demoted(app, client, session):
    admin_client(client, session)
    boss = by_name(session, "boss")
    response = client.post(f"/users/{boss.id}/active", data={"active": "0", "csrf_token": csrf_token(client)},
                           follow_redirects=True)
    assert "最后一个管理员" in response.get_data(as_text=True) and by_name(session, "boss").active
    demote = client.post(f"/users/{boss.id}/edit", data={
        "display_name": "", "role": "coordinator", "village": "", "phone": "", "pickup_address": "",
        "password": "", "csrf_token": csrf_token(client)})
    assert demote.status_code == 400 and by_name(session, "boss").role == "admin"
    second = factories.user(session, "admin", "boss2")
    assert client.post(f"/users/{second.id}/active", data={"active": "0", "csrf_token": csrf_token(client)}).status_code == 302
    assert by_name(session, "boss2").active is False


def test_only_the_admin_edits_users(app, client, session):
    factories.user(session, "coordinator", "zhang")
    farmer = factories.user(session, "farmer", "wang")
    login(client, "zhang")
    assert client.get(f"/users/{farmer.id}/edit").status_code == 403
    assert client.post(f"/users/{farmer.id}/active", data={"active": "0", "csrf_token": csrf_token(client)}).status_code == 403


def test_the_coordinator_keeps_each_farmers_pickup_address_and_phone(app, client, session):
    factories.user(session, "coordinator", "zhang")
    farmer = factories.user(session, "farmer", "wang", display_name="王大姐")
    partner = factories.user(session, "partner", "coop")
    login(client, "zhang")
    assert "农户取件地址" in client.get("/").get_data(as_text=True)
    page = client.get("/users/pickups").get_data(as_text=True)
    assert "王大姐" in page and f'value="{partner.id}"' not in page
    response = client.post("/users/pickups", data={"user_id": farmer.id, "phone": "13911112222",
                                                   "pickup_address": "王家村二组 8 号", "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#farmer-{farmer.id}")
    saved = by_name(session, "wang")
    assert (saved.phone, saved.pickup_address) == ("13911112222", "王家村二组 8 号")
    refused = client.post("/users/pickups", data={"user_id": partner.id, "phone": "1", "pickup_address": "x",
                                                  "csrf_token": csrf_token(client)})
    assert refused.status_code == 404 and by_name(session, "coop").pickup_address == ""
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "wang")
    assert client.get("/users/pickups").status_code == 403


def test_flask_user_create_makes_a_pin_only_farmer_and_still_asks_other_roles_for_a_password(app, session):
    cli = app.test_cli_runner()
    made = cli.invoke(args=["user", "create", "zhao", "--role", "farmer", "--pin", "2468"], input="")
    assert made.exit_code == 0, made.output
    farmer = by_name(session, "zhao")
    assert farmer.password_hash is None
    assert accounts.authenticate_pin(session, "zhao", "2468", "127.0.0.1").id == farmer.id
    session.commit()  # the login's bookkeeping, so the next command may write

    # A coordinator (or a farmer without a PIN) needs a password: it is asked for, and without one nothing is made.
    for args in (["li", "--role", "coordinator", "--pin", "1357"], ["qian", "--role", "farmer"]):
        refused = cli.invoke(args=["user", "create", *args], input="")
        assert refused.exit_code != 0 and by_name(session, args[0]) is None
    asked = cli.invoke(args=["user", "create", "li", "--role", "coordinator"], input="password123\npassword123\n")
    assert asked.exit_code == 0, asked.output
    assert accounts.authenticate(session, "li", "password123", "127.0.0.1").id == by_name(session, "li").id
