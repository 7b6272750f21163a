"""Every CSV Cunbo writes is safe to open in Excel or WPS: no cell a spreadsheet would run as a formula."""
from __future__ import annotations

import csv
import io

import pytest

from orders import earnings
from tests import factories

HOSTILE = {
    "buyer": '=HYPERLINK("http://evil/","点我")',
    "quoted": "'=cmd|' /C calc'!A0",
    "address": "+SUM(1)",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (cell, row)


@pytest.fixture
def hostile_batch(session, api_as):
    farmer = factories.user(session, "farmer", "wang")
    coordinator = factories.user(session, "coordinator", "coord")
    partner = factories.user(session, "partner", "coop")
    factories.product(session, farmer, name="-富硒大米", sku="RICE", unit="@斤", price_fen=2550, stock=10)
    api = api_as(coordinator)
    lines = ["订单编号,商家编码,购买数量,收货人姓名,联系手机,收货地址",
             f'1001,RICE,1,"{HOSTILE["buyer"].replace(chr(34), chr(34) * 2)}",13800138000,{HOSTILE["address"]}',
             f"1002,RICE,1,{HOSTILE['quoted']},13800138000,浙江省杭州市西湖区文三路 1 号"]
    upload = api.post("/api/orders/import", data={
        "file": (io.BytesIO("\r\n".join(lines).encode("utf-8-sig")), "orders.csv"), "channel": "taobao"},
        content_type="multipart/form-data")
    assert upload.status_code == 200, upload.json
    ids = [r["order_id"] for r in upload.json["rows"]]
    batch = api.post("/api/handoffs", json={"order_ids": ids, "partner": "coop"})
    assert batch.status_code == 201, batch.json
    return {"api": api, "batch": batch.json["id"], "partner": partner, "farmer": farmer}


def test_the_manifest_csv_quotes_every_formula_a_buyer_typed(hostile_batch):
    response = hostile_batch["api"].get(f"/api/handoffs/{hostile_batch['batch']}/manifest.csv")
    rows = _cells(response.data)
    _assert_no_formula(rows)
    flat = [cell for row in rows for cell in row]
    assert "'" + HOSTILE["buyer"] in flat and "'" + HOSTILE["address"] in flat
    assert HOSTILE["quoted"] in flat, "the importer keeps the ' that neutralises a formula"
    assert "'-富硒大米" in flat and "'@斤" in flat


def test_the_earnings_csv_quotes_product_names_and_units(hostile_batch, session):
    rows = earnings.farmer_earnings(session, actor=hostile_batch["farmer"])
    data = earnings.earnings_csv(rows)
    cells = _cells(data)
    _assert_no_formula(cells)
    assert "'-富硒大米" in cells[1] and "'@斤" in cells[1]


def test_one_helper_quotes_formula_starts_and_leaves_other_text_alone():
    from catalog.text import formula_safe

    assert formula_safe("=1+1") == "'=1+1"
    assert formula_safe("\t=1") == "'\t=1"
    assert formula_safe("富硒大米") == "富硒大米"
    assert formula_safe("'=1") == "'=1"
    assert formula_safe(12) == 12 and formula_safe(None) is None
