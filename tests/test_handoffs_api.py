"""Hand-offs through the JSON API: batches, frozen orders, partner isolation, manifests, shipments."""
from __future__ import annotations

import csv
import io
import subprocess

import pytest

from tests import factories


@pytest.fixture
def world(session, api_as):
    farmer = factories.user(session, "farmer", "wang", display_name="王大姐")
    coordinator = factories.user(session, "coordinator", "coord", display_name="村服务站")
    partner = factories.user(session, "partner", "coop", display_name="县物流合作社")
    rival = factories.user(session, "partner", "rival")
    rice = factories.product(session, farmer, name="富硒大米", price_fen=2550, stock=50)
    honey = factories.product(session, farmer, name="土蜂蜜", unit="瓶", price_fen=6800, stock=50)
    orders = [
        factories.order(session, rice, quantity=2, buyer_name="李四", address="浙江省杭州市西湖区文三路 1 号"),
        factories.order(session, honey, quantity=1, buyer_name="张三", buyer_phone="13912345678",
                        address="江苏省南京市鼓楼区中山路 8 号", packages=2),
        factories.order(session, rice, quantity=5, buyer_name="王五", address="上海市浦东新区 9 号"),
    ]
    return {
        "farmer": farmer, "coordinator": coordinator, "partner": partner, "orders": orders, "rice": rice,
        "api": {"coordinator": api_as(coordinator), "partner": api_as(partner), "rival": api_as(rival),
                "farmer": api_as(farmer)},
    }


def hand_two(world):
    ids = [o.id for o in world["orders"][:2]]
    response = world["api"]["coordinator"].post("/api/handoffs", json={"order_ids": ids, "partner": "coop"})
    assert response.status_code == 201, response.json
    return response.json


def test_a_handoff_answers_201_with_id_and_order_count_and_freezes_the_orders(world):
    batch = hand_two(world)
    assert batch["orders"] == 2 and batch["partner"] == "coop" and batch["packages"] == 3
    api = world["api"]["coordinator"]
    first = world["orders"][0].id
    assert api.get(f"/api/orders/{first}").json["status"] == "handed_off"

    cancel = api.post(f"/api/orders/{first}/cancel")
    assert cancel.status_code == 409
    assert f"交接单 #{batch['id']}" in cancel.json["error"] and cancel.json["handoff_id"] == batch["id"]
    edit = api.patch(f"/api/orders/{first}", json={"address": "改地址"})
    assert edit.status_code == 409 and f"#{batch['id']}" in edit.json["error"]
    # The same order cannot go into a second batch; nothing of the second batch is written.
    again = api.post("/api/handoffs", json={"order_ids": [world["orders"][2].id, first], "partner": "coop"})
    assert again.status_code == 409 and f"交接单 #{batch['id']}" in again.json["error"]
    assert api.get(f"/api/orders/{world['orders'][2].id}").json["status"] == "new"


def test_only_coordinators_and_admins_hand_off_and_only_to_a_partner(world):
    ids = [world["orders"][0].id]
    assert world["api"]["farmer"].post("/api/handoffs", json={"order_ids": ids, "partner": "coop"}).status_code == 403
    assert world["api"]["partner"].post("/api/handoffs", json={"order_ids": ids, "partner": "coop"}).status_code == 403
    wrong = world["api"]["coordinator"].post("/api/handoffs", json={"order_ids": ids, "partner": "wang"})
    assert wrong.status_code == 400 and "发货方" in wrong.json["error"]
    assert world["api"]["coordinator"].post("/api/handoffs", json={"order_ids": [], "partner": "coop"}).status_code == 400


def test_a_cancelled_order_cannot_be_handed_off(world):
    api = world["api"]["coordinator"]
    api.post(f"/api/orders/{world['orders'][2].id}/cancel")
    response = api.post("/api/handoffs", json={"order_ids": [world["orders"][2].id], "partner": "coop"})
    assert response.status_code == 409


def test_a_partner_sees_only_its_own_batches(world):
    batch = hand_two(world)
    rival = world["api"]["rival"]
    assert rival.get("/api/handoffs").json == []
    for path in (f"/api/handoffs/{batch['id']}", f"/api/handoffs/{batch['id']}/manifest.csv",
                 f"/api/handoffs/{batch['id']}/manifest.pdf", f"/api/orders/{world['orders'][0].id}"):
        assert rival.get(path).status_code == 404, path
    assert rival.post(f"/api/handoffs/{batch['id']}/ack").status_code == 404
    assert rival.post(f"/api/orders/{world['orders'][0].id}/shipment",
                      json={"carrier": "顺丰", "tracking_no": "SF123456"}).status_code == 404
    assert world["api"]["farmer"].get(f"/api/handoffs/{batch['id']}").status_code == 404

    partner = world["api"]["partner"]
    assert [b["id"] for b in partner.get("/api/handoffs").json] == [batch["id"]]
    assert {o["id"] for o in partner.get("/api/orders").json} == {o.id for o in world["orders"][:2]}
    assert partner.get(f"/api/orders/{world['orders'][2].id}").status_code == 404


def test_shipments_need_the_pickup_first_and_only_the_partner_adds_them(world):
    batch = hand_two(world)
    partner, first = world["api"]["partner"], world["orders"][0].id
    shipment = {"carrier": "中国邮政", "tracking_no": "9876 5432 1012"}
    early = partner.post(f"/api/orders/{first}/shipment", json=shipment)
    assert early.status_code == 409 and "确认取件" in early.json["error"]
    assert world["api"]["coordinator"].post(f"/api/handoffs/{batch['id']}/ack").status_code == 403

    acked = partner.post(f"/api/handoffs/{batch['id']}/ack")
    assert acked.status_code == 200 and acked.json["acked_by"] == "coop" and acked.json["acked_at"]
    assert partner.post(f"/api/handoffs/{batch['id']}/ack").json["acked_at"] == acked.json["acked_at"]

    assert world["api"]["coordinator"].post(f"/api/orders/{first}/shipment", json=shipment).status_code == 403
    shipped = partner.post(f"/api/orders/{first}/shipment", json=shipment)
    assert shipped.status_code == 200
    assert (shipped.json["status"], shipped.json["carrier"], shipped.json["tracking_no"]) == ("shipped", "中国邮政", "987654321012")
    bad = partner.post(f"/api/orders/{first}/shipment", json={"carrier": "顺丰", "tracking_no": "单号?"})
    assert bad.status_code == 400

    delivered = partner.post(f"/api/orders/{first}/delivered")
    assert delivered.status_code == 200 and delivered.json["status"] == "delivered"
    trail = [(e["from"], e["to"], e["by"]) for e in world["api"]["coordinator"].get(f"/api/orders/{first}").json["events"]]
    assert trail == [(None, "new", "wang"), ("new", "handed_off", "coord"), ("handed_off", "handed_off", "coop"),
                     ("handed_off", "shipped", "coop"), ("shipped", "delivered", "coop")]


def test_the_manifest_csv_has_a_bom_and_one_row_per_order(world):
    batch = hand_two(world)
    response = world["api"]["partner"].get(f"/api/handoffs/{batch['id']}/manifest.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.data
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["订单号"], r["商品"], r["数量"], r["单位"], r["件数"], r["收货人"], r["电话"], r["地址"]) for r in rows] == [
        (str(world["orders"][0].id), "富硒大米", "2", "斤", "1", "李四", "13800138000", "浙江省杭州市西湖区文三路 1 号"),
        (str(world["orders"][1].id), "土蜂蜜", "1", "瓶", "2", "张三", "13912345678", "江苏省南京市鼓楼区中山路 8 号"),
    ]
    assert {r["交接单"] for r in rows} == {str(batch["id"])}


def test_the_manifest_pdf_carries_the_chinese_product_names_and_signature_lines(world, tmp_path):
    batch = hand_two(world)
    response = world["api"]["coordinator"].get(f"/api/handoffs/{batch['id']}/manifest.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "manifest.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("交接单", "富硒大米", "土蜂蜜", "李四", "张三", "13912345678", "县物流合作社",
                     "共 2 单，3 件包裹", "取件人（发货方）签字"):
        assert expected in text, expected
    assert "王五" not in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "WenQuanYi" in fonts or "Noto" in fonts, fonts
    assert " yes " in fonts  # embedded


def test_tracking_numbers_upload_from_the_filled_in_manifest(world):
    batch = hand_two(world)
    partner = world["api"]["partner"]
    partner.post(f"/api/handoffs/{batch['id']}/ack")
    rows = list(csv.reader(io.StringIO(partner.get(f"/api/handoffs/{batch['id']}/manifest.csv").data.decode("utf-8-sig"))))
    header = rows[0]
    rows[1][header.index("快递公司")], rows[1][header.index("运单号")] = "顺丰", "SF1234567890"
    rows[2][header.index("快递公司")], rows[2][header.index("运单号")] = "中通", "ZT-778899"
    upload = io.StringIO()
    csv.writer(upload).writerows(rows + [[str(batch["id"]), str(world["orders"][2].id)] + [""] * 12 + ["X1234"]])
    data = upload.getvalue().encode("utf-8-sig")

    refused = partner.post(f"/api/handoffs/{batch['id']}/tracking",
                           data={"file": (io.BytesIO(data), "m.csv")}, content_type="multipart/form-data")
    assert refused.status_code == 400
    assert refused.json["errors"] == [{"row": 4, "error": refused.json["errors"][0]["error"]}]
    assert "不在交接单" in refused.json["errors"][0]["error"]
    assert partner.get(f"/api/orders/{world['orders'][0].id}").json["status"] == "handed_off"

    accepted = partner.post(f"/api/handoffs/{batch['id']}/tracking?partial=1",
                            data={"file": (io.BytesIO(data), "m.csv")}, content_type="multipart/form-data")
    assert accepted.status_code == 200 and accepted.json["created"] == 2
    shipped = {o["id"]: (o["status"], o["tracking_no"]) for o in partner.get("/api/orders").json}
    assert shipped == {world["orders"][0].id: ("shipped", "SF1234567890"), world["orders"][1].id: ("shipped", "ZT-778899")}
    again = partner.post(f"/api/handoffs/{batch['id']}/tracking?partial=1",
                         data={"file": (io.BytesIO(data), "m.csv")}, content_type="multipart/form-data")
    assert again.json["unchanged"] == 2 and again.json["created"] == 0


def test_tracking_numbers_upload_from_the_manifest_filled_in_and_saved_as_a_workbook(world):
    batch = hand_two(world)
    partner = world["api"]["partner"]
    partner.post(f"/api/handoffs/{batch['id']}/ack")
    rows: list[list[object]] = list(csv.reader(io.StringIO(
        partner.get(f"/api/handoffs/{batch['id']}/manifest.csv").data.decode("utf-8-sig"))))
    header = rows[0]
    for row, (carrier, number) in zip(rows[1:3], [("顺丰", "SF1234567890"), ("京东", 98765432101)]):
        row[header.index("快递公司")], row[header.index("运单号")] = carrier, number  # Excel keeps digits as a number
        row[header.index("订单号")] = int(str(row[header.index("订单号")]))
    accepted = partner.post(f"/api/handoffs/{batch['id']}/tracking",
                            data={"file": (io.BytesIO(factories.workbook(rows)), "m.xlsx")},
                            content_type="multipart/form-data")
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["created"] == 2
    shipped = {o["id"]: o["tracking_no"] for o in partner.get("/api/orders").json}
    assert shipped == {world["orders"][0].id: "SF1234567890", world["orders"][1].id: "98765432101"}
