"""The partner's batch: tracking numbers saved in place, refused ones kept and marked, and where
to pick each farmer's parcels up and whom to call."""
from __future__ import annotations

import re

import pytest

from orders import services as orders
from tests import factories
from tests.conftest import csrf_token, login


@pytest.fixture
def batch(session):
    wang = factories.user(session, "farmer", "wang", display_name="王大姐", phone="13911112222",
                          pickup_address="王家村二组 8 号")
    zhao = factories.user(session, "farmer", "zhao", display_name="赵大哥", phone="13733334444")
    coord = factories.user(session, "coordinator", "coord", display_name="村服务站", phone="0571-8888",
                           pickup_address="王家村村委会一楼")
    coop = factories.user(session, "partner", "coop", display_name="县物流合作社")
    rice = factories.product(session, wang, name="富硒大米", price_fen=2550, stock=20)
    eggs = factories.product(session, zhao, name="土鸡蛋", price_fen=3000, stock=20)
    placed = [factories.order(session, rice, buyer_name="买家1"), factories.order(session, rice, buyer_name="买家2"),
              factories.order(session, eggs, buyer_name="买家3")]
    handoff = factories.handoff(session, placed, coord, coop)
    orders.ack_handoff(session, actor=coop, handoff_id=handoff.id)
    session.commit()
    return {"handoff": handoff, "orders": placed}


def ship(client, batch, order, json=False, **typed):
    headers = {"Accept": "application/json", "X-CSRFToken": csrf_token(client)} if json else {}
    data = {**typed} if json else {**typed, "csrf_token": csrf_token(client)}
    return client.post(f"/handoffs/{batch['handoff'].id}/orders/{order.id}/shipment", data=data, headers=headers)


def test_saving_a_tracking_number_without_javascript_comes_back_to_the_same_row(batch, client, session):
    login(client, "coop")
    order = batch["orders"][2]
    response = ship(client, batch, order, carrier="中国邮政", tracking_no="YZ12345678")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/handoffs/{batch['handoff'].id}#order-{order.id}")
    page = client.get(f"/handoffs/{batch['handoff'].id}").get_data(as_text=True)
    assert f'action="/handoffs/{batch["handoff"].id}/orders/{order.id}/shipment#order-{order.id}"' in page


def test_saving_in_place_answers_the_page_with_the_new_status(batch, client, session):
    login(client, "coop")
    order = batch["orders"][0]
    response = ship(client, batch, order, json=True, carrier="顺丰", tracking_no="SF99887766")
    assert response.status_code == 200
    assert response.json == {"message": f"订单 #{order.id} 已发货", "carrier": "顺丰", "tracking_no": "SF99887766",
                             "status": "shipped", "status_label": "已发货"}
    session.expire_all()
    assert orders.get_order(session, batch["handoff"].created_by, order.id).tracking_no == "SF99887766"


def test_an_invalid_tracking_number_keeps_what_was_typed_and_marks_that_field(batch, client, session):
    login(client, "coop")
    order = batch["orders"][1]
    response = ship(client, batch, order, carrier="中通", tracking_no="12")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    row = page[page.index(f'id="order-{order.id}"'):]
    row = row[:row.index("</tr>")]
    assert 'value="中通"' in row and 'value="12"' in row
    assert re.search(r'name="tracking_no" value="12"[^>]*aria-invalid="true"', row)
    assert not re.search(r'name="carrier"[^>]*aria-invalid', row)
    assert "运单号不对" in row
    fetched = ship(client, batch, order, json=True, carrier="", tracking_no="YZ12345678")
    assert fetched.status_code == 400 and fetched.json["field"] == "carrier" and "快递公司" in fetched.json["error"]
    session.expire_all()
    assert orders.get_order(session, batch["handoff"].created_by, order.id).status == "handed_off"


def test_the_batch_shows_each_farmers_pickup_address_and_phone(batch, client):
    login(client, "coop")
    page = client.get(f"/handoffs/{batch['handoff'].id}").get_data(as_text=True)
    section = page[page.index('id="pickups"'):]
    section = section[:section.index("</section>")]
    wang, zhao = section.index("王大姐"), section.index("赵大哥")
    assert wang < zhao
    assert "王家村二组 8 号" in section[wang:zhao] and "13911112222" in section[wang:zhao]
    assert "2 单" in section[wang:zhao]
    # 赵大哥 has no address of his own: his parcels wait at the station, whose phone is given too.
    assert "在服务站取件" in section[zhao:] and "王家村村委会一楼" in section[zhao:]
    assert "0571-8888" in section[zhao:] and "13733334444" in section[zhao:]
