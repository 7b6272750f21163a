"""Importing a seller-centre CSV export: a row-by-row report, idempotent by order number."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from catalog.models import Product
from orders.models import Order
from tests import factories
from tests.conftest import login

TAOBAO = """订单编号,宝贝标题,商家编码,购买数量,收货人姓名,联系手机,收货地址
="3301234567890123",富硒大米,RICE-5KG,2,李四,+86 138-0013-8000,浙江省杭州市西湖区文三路 1 号
3301234567890124,土蜂蜜,,1,张三,13912345678,江苏省南京市鼓楼区中山路 8 号
3301234567890125,没有的东西,,1,王五,13912345678,上海市浦东新区 9 号
3301234567890126,土蜂蜜,,1,赵六,138****8000,北京市海淀区 1 号

3301234567890127,富硒大米,,99,钱七,13700137000,广州市天河区 2 号
"""


@pytest.fixture
def shop(session, api_as):
    farmer = factories.user(session, "farmer", "wang")
    coordinator = factories.user(session, "coordinator", "coord")
    rice = factories.product(session, farmer, name="富硒大米", sku="RICE-5KG", price_fen=2550, stock=10)
    honey = factories.product(session, farmer, name="土蜂蜜", unit="瓶", price_fen=6800, stock=10)
    return {"rice": rice, "honey": honey, "api": api_as(coordinator), "farmer": farmer}


def upload(api, text: str, *, encoding="utf-8-sig", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.post(f"/api/orders/import?{query}", data={"file": (io.BytesIO(text.encode(encoding)), "orders.csv"),
                                                          "channel": "taobao"}, content_type="multipart/form-data")


def upload_workbook(api, rows, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.post(f"/api/orders/import?{query}",
                    data={"file": (io.BytesIO(factories.workbook(rows)), "orders.xlsx"), "channel": "taobao"},
                    content_type="multipart/form-data")


def test_a_seller_centre_workbook_imports_like_its_csv(shop, session):
    """An .xlsx export: order numbers kept as text, phones stored as numbers, a blank row."""
    rows = [line.split(",") for line in TAOBAO.strip("\n").split("\n")]
    rows = [[cell or None for cell in row] for row in rows]
    rows[1][0] = "3301234567890123"
    rows[2][5] = 13912345678  # a phone Excel turned into a number
    refused = upload_workbook(shop["api"], rows)
    assert refused.status_code == 400
    assert {e["row"] for e in refused.json["errors"]} == {4, 5, 7}, "the rows Excel shows, as for the CSV"
    accepted = upload_workbook(shop["api"], rows, partial=1)
    assert accepted.status_code == 200 and accepted.json["created"] == 2
    logged = {o.platform_order_no: (o.buyer_phone, o.quantity) for o in session.scalars(select(Order))}
    assert logged == {"3301234567890123": ("13800138000", 2), "3301234567890124": ("13912345678", 1)}


def test_a_file_with_bad_rows_is_refused_whole_with_each_row_reported(shop, session):
    response = upload(shop["api"], TAOBAO)
    assert response.status_code == 400
    errors = {e["row"]: e["error"] for e in response.json["errors"]}
    assert set(errors) == {4, 5, 7}  # Excel rows: header is 1, the blank line 6 is skipped
    assert "没有这个商品" in errors[4] or "目录里没有" in errors[4]
    assert "手机号码不对" in errors[5]
    assert "库存不足" in errors[7]
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert session.scalar(select(Product.stock).where(Product.id == shop["rice"].id)) == 10


def test_partial_imports_the_good_rows_and_a_second_import_changes_nothing(shop, session):
    first = upload(shop["api"], TAOBAO, partial=1)
    assert first.status_code == 200
    assert (first.json["created"], first.json["unchanged"], len(first.json["errors"])) == (2, 0, 3)
    orders = {o.platform_order_no: o for o in session.scalars(select(Order))}
    assert set(orders) == {"3301234567890123", "3301234567890124"}
    rice_order = orders["3301234567890123"]
    assert (rice_order.product_id, rice_order.quantity, rice_order.buyer_phone, rice_order.channel) == (
        shop["rice"].id, 2, "13800138000", "taobao")

    again = upload(shop["api"], TAOBAO, partial=1)
    assert (again.json["created"], again.json["unchanged"]) == (0, 2)
    rows = {r["row"]: r for r in again.json["rows"]}
    assert rows[2]["outcome"] == "unchanged" and rows[2]["order_id"] == rice_order.id
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Order)) == 2
    assert session.scalar(select(Product.stock).where(Product.id == shop["rice"].id)) == 8


def test_a_dry_run_reports_without_writing(shop, session):
    good = "\n".join(TAOBAO.splitlines()[:3]) + "\n"
    response = upload(shop["api"], good, dry_run=1)
    assert response.status_code == 200 and response.json["created"] == 2
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_an_excel_gbk_file_with_other_header_names_imports(shop, session):
    text = "子订单编号,选购商品,商品数量,收件人,收件人手机号,详细地址\nDY-1,富硒大米,3,孙八,13600136000,成都市武侯区 5 号\n"
    response = upload(shop["api"], text, encoding="gb18030")
    assert response.status_code == 200 and response.json["created"] == 1


def test_a_file_without_the_needed_columns_is_refused_naming_them(shop):
    response = upload(shop["api"], "编号,名字\n1,x\n")
    assert response.status_code == 400 and "缺少这些列" in response.json["error"]


def test_the_import_page_shows_the_row_report(shop, client, session):
    factories.user(session, "coordinator", "coord2")
    login(client, "coord2")
    page = client.get("/orders/import")
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/orders/import", data={
        "csrf_token": token, "channel": "taobao", "partial": "y",
        "file": (io.BytesIO(TAOBAO.encode("utf-8-sig")), "orders.csv"),
    }, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "新增 2" in html and "出错 3" in html and "手机号码不对" in html
