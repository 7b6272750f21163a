"""Order pages: list with filters, new order form, detail with trail, earnings with CSV, home cards."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from catalog.models import Product
from db import utcnow
from orders import services as orders
from tests import factories
from tests.conftest import csrf_token, login


@pytest.fixture
def village(session):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    zhao = factories.user(session, "farmer", "zhao", display_name="赵大哥")
    coord = factories.user(session, "coordinator", "coord")
    factories.user(session, "partner", "coop")
    factories.user(session, "trainer", "teacher")
    rice = factories.product(session, wang, name="富硒大米", price_fen=2550, stock=20)
    eggs = factories.product(session, zhao, name="土鸡蛋", unit="盒", price_fen=3000, stock=20)
    return {"wang": wang, "zhao": zhao, "coord": coord, "rice": rice, "eggs": eggs}


def test_the_coordinator_filters_orders_by_farmer_channel_and_status(village, session, client):
    factories.order(session, village["rice"], buyer_name="抖音买家", channel="douyin")
    factories.order(session, village["eggs"], buyer_name="微信买家", channel="wechat")
    cancelled = factories.order(session, village["eggs"], buyer_name="取消的买家", channel="wechat")
    orders.cancel_order(session, actor=village["coord"], order_id=cancelled.id)
    session.commit()
    login(client, "coord")
    html = client.get("/orders/").get_data(as_text=True)
    assert all(name in html for name in ("抖音买家", "微信买家", "取消的买家"))
    html = client.get("/orders/?farmer=zhao&status=new").get_data(as_text=True)
    assert "微信买家" in html and "抖音买家" not in html and "取消的买家" not in html
    html = client.get("/orders/?channel=douyin").get_data(as_text=True)
    assert "抖音买家" in html and "微信买家" not in html
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    assert "没有符合条件的订单" in client.get(f"/orders/?from={tomorrow}").get_data(as_text=True)


def test_a_farmer_logs_an_order_from_the_form_and_sees_only_their_own(village, session, client):
    factories.order(session, village["eggs"], buyer_name="别人的买家")
    login(client, "wang")
    form = client.get("/orders/new").get_data(as_text=True)
    assert "富硒大米" in form and "土鸡蛋" not in form
    response = client.post("/orders/new", data={
        "csrf_token": csrf_token(client), "product_id": village["rice"].id, "quantity": "3",
        "buyer_name": "李四", "buyer_phone": "138-0013-8000", "address": "杭州市文三路 1 号", "channel": "phone",
        "platform_order_no": "", "packages": "1",
    }, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "¥76.50" in html and "13800138000" in html
    assert session.scalar(select(Product.stock).where(Product.id == village["rice"].id)) == 17
    listing = client.get("/orders/").get_data(as_text=True)
    assert "李四" in listing and "别人的买家" not in listing


def test_the_form_explains_a_short_stock(village, client):
    login(client, "wang")
    response = client.post("/orders/new", data={
        "csrf_token": csrf_token(client), "product_id": village["rice"].id, "quantity": "99",
        "buyer_name": "李四", "buyer_phone": "13800138000", "address": "杭州", "channel": "phone", "packages": "1",
    })
    assert response.status_code == 409 and "库存不足" in response.get_data(as_text=True)


def test_the_order_page_shows_the_trail_and_cancels(village, session, client):
    order = factories.order(session, village["rice"], quantity=2)
    login(client, "coord")
    html = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "经过" in html and "待交接" in html and "取消订单" in html
    client.post(f"/orders/{order.id}/cancel", data={"csrf_token": csrf_token(client)})
    html = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "已取消" in html
    assert session.scalar(select(Product.stock).where(Product.id == village["rice"].id)) == 20


def test_a_frozen_order_page_names_its_batch_and_refuses_edits(village, session, client):
    order = factories.order(session, village["rice"])
    partner = session.scalar(select(type(village["wang"])).where(type(village["wang"]).username == "coop"))
    batch = factories.handoff(session, [order], village["coord"], partner)
    login(client, "coord")
    html = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f"交接单 #{batch.id}" in html and "保存修改" not in html
    response = client.post(f"/orders/{order.id}/cancel", data={"csrf_token": csrf_token(client)}, follow_redirects=True)
    assert f"交接单 #{batch.id}" in response.get_data(as_text=True)


def test_pages_hide_other_farmers_orders_and_refuse_other_roles(village, session, client):
    theirs = factories.order(session, village["eggs"])
    login(client, "wang")
    assert client.get(f"/orders/{theirs.id}").status_code == 404
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "teacher")
    assert client.get("/orders/").status_code == 403
    assert client.get(f"/orders/{theirs.id}").status_code == 403


def test_earnings_per_farmer_and_period_with_a_csv_export(village, session, client):
    a = factories.order(session, village["rice"], quantity=2)  # 51.00
    factories.order(session, village["rice"], quantity=1)  # 25.50
    c = factories.order(session, village["eggs"], quantity=1)  # 30.00
    cancelled = factories.order(session, village["eggs"], quantity=5)
    orders.cancel_order(session, actor=village["coord"], order_id=cancelled.id)
    partner = session.scalar(select(type(village["wang"])).where(type(village["wang"]).username == "coop"))
    batch = factories.handoff(session, [a, c], village["coord"], partner)
    orders.ack_handoff(session, actor=partner, handoff_id=batch.id)
    orders.add_shipment(session, actor=partner, order_id=a.id, carrier="顺丰", tracking_no="SF0001")
    orders.mark_delivered(session, actor=partner, order_id=a.id)
    session.commit()

    login(client, "coord")
    html = client.get("/orders/earnings").get_data(as_text=True)
    assert "王大姐" in html and "赵大哥" in html and "¥76.50" in html
    response = client.get("/orders/earnings.csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = {r["商品"]: r for r in csv.DictReader(io.StringIO(response.data.decode("utf-8-sig")))}
    assert (rows["富硒大米"]["订单数"], rows["富硒大米"]["数量"], rows["富硒大米"]["销售额(元)"]) == ("2", "3", "76.50")
    assert (rows["富硒大米"]["已交接(元)"], rows["富硒大米"]["已发货(元)"], rows["富硒大米"]["已签收(元)"]) == ("51.00", "51.00", "51.00")
    assert (rows["土鸡蛋"]["销售额(元)"], rows["土鸡蛋"]["已交接(元)"], rows["土鸡蛋"]["已发货(元)"], rows["土鸡蛋"]["已取消(单)"]) == (
        "30.00", "30.00", "0.00", "1")
    last_month = (utcnow() - timedelta(days=40)).date().isoformat()
    assert "这段时间没有订单" in client.get(f"/orders/earnings?from={last_month}&to={last_month}").get_data(as_text=True)

    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "wang")
    mine = client.get("/orders/earnings.csv").data.decode("utf-8-sig")
    assert "富硒大米" in mine and "土鸡蛋" not in mine


def test_home_cards_show_each_role_what_waits(village, session, client):
    factories.order(session, village["rice"])
    factories.order(session, village["eggs"])
    login(client, "coord")
    html = client.get("/").get_data(as_text=True)
    assert "订单" in html and "交接给发货方" in html
    assert re.search(r"2\s*单待交接", html)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "wang")
    assert "我的订单" in client.get("/").get_data(as_text=True)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "coop")
    html = client.get("/").get_data(as_text=True)
    assert "待取件的交接单" in html and re.search(r"0\s*个待取件", html)
