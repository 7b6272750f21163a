"""Server messages are message ids shown in the person's language: an English request gets
English, a Chinese one Chinese alone, never "中文 (English)" (issue 16, finding 10)."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest

from accounts.roles import FARMER, TRAINER
from app.i18n import localized
from db import utcnow
from orders.errors import OrderError
from orders.phones import normalise_phone
from tests import factories
from tests.conftest import csrf_token, login

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "capture", "catalog", "orders", "contests", "schedules", "live", "accounts", "db")
HAN = re.compile(r"[\u4e00-\u9fff]")
# An English word in parentheses after Chinese: "请填写收货人 (收货人 is required)", "(camera 0 not found)".
ENGLISH_TAIL = re.compile(r"[(（]\s*[a-z]+(?: [a-z]+)+\s*[)）]|[(（][a-z ]*(?:not found|is required|too large|out of stock)")
ORDER = {"quantity": 2, "buyer_name": "李四", "buyer_phone": "13800138000", "address": "杭州市文三路 1 号",
         "channel": "douyin"}


def in_english(api):  # type: ignore[no-untyped-def]
    api.client.set_cookie("cunbo_lang", "en")
    return api


def chinese_alone(text: str) -> bool:
    """Chinese, with no English tail in parentheses."""
    return bool(HAN.search(text)) and not ENGLISH_TAIL.search(text)


def english_alone(text: str) -> bool:
    return not HAN.search(text) and bool(re.search(r"[A-Za-z]{3}", text))


@pytest.fixture
def farmer(session):  # type: ignore[no-untyped-def]
    return factories.user(session, FARMER, "wang")


def test_an_english_order_request_gets_an_english_validation_error_and_a_chinese_one_chinese_alone(
        session, api_as, farmer):
    rice = factories.product(session, farmer, name="富硒大米", stock=10)
    body = {**ORDER, "product_id": rice.id, "buyer_phone": "12345"}
    chinese = api_as(farmer).post("/api/orders", json=body)
    english = in_english(api_as(farmer)).post("/api/orders", json=body)
    assert chinese.status_code == english.status_code == 400
    assert chinese.json["error"] == "手机号码不对：12345，应为 11 位手机号，如 13800138000"
    assert english.json["error"] == "Wrong phone number: 12345; it should be an 11-digit mobile number such as 13800138000"
    assert chinese.json["field"] == english.json["field"] == "buyer_phone"
    assert chinese.json["code"] == english.json["code"] == "order_error"



def test_a_label_given_as_a_value_is_translated_too(app):
    with app.test_request_context(headers={"Cookie": "cunbo_lang=en"}):
        with pytest.raises(OrderError) as caught:
            normalise_phone("")
        assert localized(caught.value) == "Wrong phone number: (empty); it should be an 11-digit mobile number such as 13800138000"
    with app.test_request_context():
        assert localized(caught.value) == "手机号码不对：（空），应为 11 位手机号，如 13800138000"


def test_an_order_message_fills_its_values_and_translates_the_status_label(session, api_as, farmer):
    rice = factories.product(session, farmer, name="富硒大米", unit="斤", stock=1)
    body = {**ORDER, "product_id": rice.id, "quantity": 3}
    chinese = api_as(farmer).post("/api/orders", json=body)
    english = in_english(api_as(farmer)).post("/api/orders", json=body)
    assert chinese.status_code == english.status_code == 409
    assert chinese.json["error"] == "库存不足：富硒大米 只剩 1 斤，要 3 斤"
    assert english.json["error"] == "Out of stock: only 1 斤 of 富硒大米 left, 3 斤 wanted"
    assert chinese.json["code"] == "out_of_stock"

    order = factories.order(session, rice, farmer, quantity=1)
    api = api_as(factories.user(session, "coordinator", "coord"))
    assert api.post(f"/api/orders/{order.id}/cancel").status_code == 200
    again = in_english(api).post(f"/api/orders/{order.id}/cancel")
    assert again.status_code == 409 and again.json["error"] == f"Order #{order.id} is now “Cancelled” and can no longer be changed"


def test_a_catalog_error_is_english_on_an_english_request_and_chinese_alone_otherwise(session, api_as):
    api = api_as(factories.user(session, "coordinator", "coord"))
    body = {"name": "土鸡蛋", "unit": "盒", "price_fen": -5, "stock": 3}
    chinese = api.post("/api/products", json=body)
    assert chinese.status_code == 400 and chinese.json["error"] == "单价不能是负数" and chinese_alone(chinese.json["error"])
    english = in_english(api).post("/api/products", json=body)
    assert english.status_code == 400 and english.json["error"] == "Price cannot be negative"
    assert english.json["field"] == "price_fen" and english.json["code"] == "invalid_product"


def test_a_catalog_page_shows_a_price_error_in_the_pages_language(session, client):
    factories.user(session, "coordinator", "coord")
    login(client, "coord")
    client.set_cookie("cunbo_lang", "en")
    page = client.post("/catalog/new", data={"csrf_token": csrf_token(client), "name": "土鸡蛋", "unit": "盒",
                                             "price": "abc", "stock": "3", "active": "y"})
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "The price is not a number: abc; write it like 25.50" in text and "价格不是数字" not in text


def test_an_import_of_an_empty_file_is_refused_in_the_requests_language(session, api_as):
    api = api_as(factories.user(session, "coordinator", "coord"))
    chinese = api.post("/api/products/import", data={"file": (io.BytesIO(b" \n"), "catalog.csv")})
    assert chinese.status_code == 400 and chinese.json["error"] == "文件是空的"
    assert chinese.json["code"] == "import_file_rejected"
    english = in_english(api).post("/api/products/import", data={"file": (io.BytesIO(b" \n"), "catalog.csv")})
    assert english.status_code == 400 and english.json["error"] == "The file is empty"
    assert english.json["errors"] == [{"row": 0, "error": "The file is empty"}]


def test_a_catalog_import_reports_each_bad_row_and_photo_in_the_requests_language(session, api_as, farmer):
    api = api_as(factories.user(session, "coordinator", "coord"))
    csv = ("编号,名称,农户,单位,单价,库存,促销开始\n"
           "B1,坏价格,wang,斤,-5,1,\n"
           "B2,坏库存,wang,斤,5,lots,\n"
           "B1,重复,wang,斤,5,1,\n"
           "B4,,wang,,5,1,\n"
           "B5,坏日期,wang,斤,5,1,tomorrow\n").encode("utf-8")

    def upload(api):  # type: ignore[no-untyped-def]
        return api.post("/api/products/import", data={
            "file": (io.BytesIO(csv), "catalog.csv"), "dry_run": "1",
            "photos": (io.BytesIO(b"not a photo"), "NOPE.jpg")}).json

    chinese = upload(api)
    english = upload(in_english(api))
    assert [e["row"] for e in chinese["errors"]] == [e["row"] for e in english["errors"]] == [2, 3, 4, 5, 6]
    assert chinese["errors"][0]["error"] == "单价：价格不能是负数：-5"
    assert english["errors"][0]["error"] == "Price: The price cannot be negative: -5"
    assert english["errors"][3]["error"] == "Name is required; Unit is required"
    assert all(chinese_alone(e["error"]) for e in chinese["errors"] + chinese["photo_errors"])
    assert all(english_alone(e["error"]) for e in english["errors"] + english["photo_errors"]), english["errors"]
    # The preview lists the same reasons, in the same language.
    assert all(english_alone(r["error"]) for r in english["preview"] if r["action"] == "error")


def test_an_order_import_reports_each_row_in_the_requests_language(session, api_as, farmer):
    factories.product(session, farmer, sku="MI01", name="小米", stock=10)
    csv = ("订单号,商家编码,数量,收货人,手机,收货地址\n"
           "A1,MI01,1,李四,13800138000,杭州\n"
           "A1,MI01,1,李四,13800138000,杭州\n"
           "A2,NOPE,1,李四,12345,杭州\n").encode("utf-8")

    def upload(api):  # type: ignore[no-untyped-def]
        return api.post("/api/orders/import", data={"file": (io.BytesIO(csv), "orders.csv"), "channel": "douyin",
                                                     "dry_run": "1"})

    chinese = upload(api_as(farmer)).json
    english = upload(in_english(api_as(farmer))).json
    assert [e["row"] for e in chinese["errors"]] == [e["row"] for e in english["errors"]] == [3, 4]
    assert chinese["errors"][0]["error"] == "订单号 A1 在第 2 行已出现过"
    assert english["errors"][0]["error"] == "Order number A1 already appears in row 2"
    assert english["errors"][1]["error"].startswith("This product is not in the catalog: NOPE")
    assert all(chinese_alone(r["message"]) for r in chinese["rows"])
    assert all(english_alone(r["message"]) for r in english["rows"])


def test_a_missing_camera_is_named_in_the_requests_language_with_no_english_tail_in_chinese(api_as, farmer):
    body = {"video": "9", "audio": "none"}
    chinese = {c["check"]: c for c in api_as(farmer).post("/api/live/checklist", json=body).json["checks"]}
    english = {c["check"]: c for c in in_english(api_as(farmer)).post("/api/live/checklist", json=body).json["checks"]}
    assert chinese["camera"]["message"] == "摄像头没有连接，请插好摄像头再试"
    assert english["camera"]["message"] == "The camera is not connected: plug it in and try again"
    assert all(chinese_alone(c["message"]) for c in chinese.values())
    assert all(english_alone(c["message"]) for c in english.values())


def test_a_bad_push_address_in_the_start_settings_is_refused_in_the_requests_language(api_as, farmer):
    body = {"video": "testsrc", "audio": "none", "destinations": ["rtmp:///live/key"], "record": False}
    chinese = api_as(farmer).post("/api/live/start", json=body)
    english = in_english(api_as(farmer)).post("/api/live/start", json=body)
    assert chinese.status_code == english.status_code == 400
    assert chinese.json["fields"][0]["error"] == "第 1 个推流地址缺少服务器地址"
    assert english.json["fields"][0]["error"] == "Push address 1 has no server"
    assert english.json["error"].startswith("Invalid input: ") and chinese.json["error"].startswith("输入有误：")


def test_a_malformed_body_names_each_bad_field_in_the_requests_language(session, api_as, farmer):
    rice = factories.product(session, farmer, stock=10)
    body = {k: v for k, v in ORDER.items() if k != "quantity"} | {"product_id": rice.id, "channel": 5}
    chinese = api_as(farmer).post("/api/orders", json=body).json
    english = in_english(api_as(farmer)).post("/api/orders", json=body).json
    assert {f["field"]: f["error"] for f in chinese["fields"]} == {"quantity": "必须填写", "channel": "要是文字"}
    assert {f["field"]: f["error"] for f in english["fields"]} == {"quantity": "is required", "channel": "must be text"}
    assert chinese_alone(chinese["error"]) and "Field required" not in chinese["error"]


def test_a_contest_error_is_english_on_an_english_request_and_chinese_alone_otherwise(session, api_as):
    trainer = factories.user(session, TRAINER, "jiangshi")
    factories.user(session, FARMER, "wang")
    now = utcnow()
    body = {"title": "冬季直播大赛", "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), "metric": "likes", "participants": ["wang"]}
    chinese = api_as(trainer).post("/api/contests", json=body)
    english = in_english(api_as(trainer)).post("/api/contests", json=body)
    assert chinese.status_code == english.status_code == 400
    assert chinese_alone(chinese.json["error"]) and "likes" in chinese.json["error"]
    assert english_alone(english.json["error"]) and "likes" in english.json["error"]
    assert chinese.json["code"] == english.json["code"]


def test_the_command_line_speaks_chinese_by_default_and_english_with_cunbo_lang(app, tmp_path, monkeypatch):
    bogus = tmp_path / "not-a-backup.tar.gz"
    bogus.write_bytes(b"not a tar file")
    chinese = app.test_cli_runner().invoke(args=["restore", str(bogus), "--yes"])
    assert chinese.exit_code != 0 and f"打不开备份文件 {bogus}" in chinese.output
    assert "cannot" not in chinese.output.lower()
    monkeypatch.setenv("CUNBO_LANG", "en")
    english = app.test_cli_runner().invoke(args=["restore", str(bogus), "--yes"])
    assert english.exit_code != 0 and f"Cannot read the backup file {bogus}" in english.output
    assert not HAN.search(english.output)


def test_no_module_holds_a_bilingual_literal():
    # The same pattern as the project's pre-stop grep: a Chinese string with an English tail.
    pattern = re.compile(r"""["'][^"'\n]*[\u4e00-\u9fff][^"'\n]* \((?=[^)]*[a-z]{3})[A-Za-z][^)]*\)""")
    found = [f"{path.relative_to(ROOT)}:{n}" for package in PACKAGES for path in (ROOT / package).rglob("*.py")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert found == []


def test_an_account_error_is_english_for_an_english_admin_and_chinese_alone_otherwise(app, session):
    from accounts import services as accounts

    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(session, "zhang3", FARMER, "1")
    with app.test_request_context(headers={"Cookie": "cunbo_lang=en"}):
        assert localized(caught.value) == f"The password needs at least {accounts.MIN_PASSWORD} characters"
    with app.test_request_context():
        assert localized(caught.value) == f"密码至少 {accounts.MIN_PASSWORD} 位"
