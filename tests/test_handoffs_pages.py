"""Hand-off pages: picking orders, the batch, the printable manifest, the partner's pick-up and shipments."""
from __future__ import annotations

import io

import pytest

from orders import services as orders
from tests import factories
from tests.conftest import csrf_token, login


@pytest.fixture
def village(session):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐")
    coord = factories.user(session, "coordinator", "coord")
    coop = factories.user(session, "partner", "coop", display_name="县物流合作社")
    factories.user(session, "partner", "rival")
    rice = factories.product(session, wang, name="富硒大米", price_fen=2550, stock=20)
    placed = [factories.order(session, rice, buyer_name=f"买家{i}", channel="douyin" if i % 2 else "wechat")
              for i in range(4)]
    return {"coord": coord, "coop": coop, "orders": placed}


def logout(client):
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})


def test_the_coordinator_hands_picked_orders_to_a_partner(village, client):
    login(client, "coord")
    page = client.get("/handoffs/new?channel=douyin").get_data(as_text=True)
    assert "买家1" in page and "买家3" in page and "买家0" not in page
    picked = [village["orders"][1].id, village["orders"][3].id]
    response = client.post("/handoffs/new", data={"csrf_token": csrf_token(client), "order_ids": picked,
                                                  "partner": "coop"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "已建交接单" in html and "县物流合作社" in html
    assert "买家1" in html and "买家0" not in html
    assert "买家1" not in client.get("/handoffs/new").get_data(as_text=True)


def test_handing_off_nothing_is_explained(village, client):
    login(client, "coord")
    response = client.post("/handoffs/new", data={"csrf_token": csrf_token(client), "partner": "coop"})
    assert response.status_code == 400 and "请至少选一个订单" in response.get_data(as_text=True)


def test_the_manifest_page_lists_orders_packages_and_signature_lines(village, session, client):
    batch = factories.handoff(session, village["orders"][:3], village["coord"], village["coop"])
    login(client, "coord")
    html = client.get(f"/handoffs/{batch.id}/manifest").get_data(as_text=True)
    assert "共 3 单，3 件包裹" in html and "买家2" in html and "取件人（发货方）签字" in html


def test_the_partner_sees_only_its_batches_confirms_pickup_and_ships(village, session, client):
    batch = factories.handoff(session, village["orders"][:2], village["coord"], village["coop"])
    login(client, "rival")
    assert client.get(f"/handoffs/{batch.id}").status_code == 404
    assert client.get(f"/handoffs/{batch.id}/manifest").status_code == 404
    assert client.post(f"/handoffs/{batch.id}/ack", data={"csrf_token": csrf_token(client)}).status_code == 404
    assert f"#{batch.id}" not in client.get("/handoffs/").get_data(as_text=True)
    logout(client)

    login(client, "coop")
    assert f"#{batch.id}" in client.get("/handoffs/").get_data(as_text=True)
    page = client.get(f"/handoffs/{batch.id}").get_data(as_text=True)
    assert "确认已取件" in page and "确认取件后才能填写运单号" in page
    client.post(f"/handoffs/{batch.id}/ack", data={"csrf_token": csrf_token(client)})
    page = client.get(f"/handoffs/{batch.id}").get_data(as_text=True)
    assert "已取件" in page and 'name="tracking_no"' in page
    first = village["orders"][0].id
    client.post(f"/handoffs/{batch.id}/orders/{first}/shipment",
                data={"csrf_token": csrf_token(client), "carrier": "中国邮政", "tracking_no": "YZ12345678"})
    session.expire_all()
    assert orders.get_order(session, village["coord"], first).tracking_no == "YZ12345678"

    data = f"订单号,快递公司,运单号\n{village['orders'][1].id},顺丰,SF99887766\n".encode("utf-8-sig")
    response = client.post(f"/handoffs/{batch.id}/tracking", data={
        "csrf_token": csrf_token(client), "file": (io.BytesIO(data), "t.csv")}, content_type="multipart/form-data")
    assert response.status_code == 200 and "SF99887766" in response.get_data(as_text=True)


def test_a_coordinator_may_look_at_a_batch_but_not_confirm_its_pickup(village, session, client):
    batch = factories.handoff(session, village["orders"][:1], village["coord"], village["coop"])
    login(client, "coord")
    assert "确认已取件" not in client.get(f"/handoffs/{batch.id}").get_data(as_text=True)
    assert client.post(f"/handoffs/{batch.id}/ack", data={"csrf_token": csrf_token(client)}).status_code == 403
