"""Spreadsheet imports with whatever a cell may hold (formulas, huge numbers, any unicode, empty and
merged cells), as CSV and as .xlsx, through the real upload routes: never a 500, never part of a
file written, and a message for each bad row."""
from __future__ import annotations

import io

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from catalog.models import Product
from orders.models import Order
from tests import factories

CELLS = st.one_of(
    st.just(""),
    st.text(max_size=12),
    st.sampled_from(["=1+1", '=HYPERLINK("http://evil/","点我")', "'=cmd|' /C calc'!A0", "+SUM(1)", "-2", "@A1",
                     "1e308", "-0", "NaN", "inf", "9" * 40, "0.001", "12,5", "２５．５", "¥25.50", "25元", "斤",
                     "是", "否", "2025-06-01", "9999-12-31", "0001-01-01", "2025-02-30", "\u202e", "\u200b", "\x00"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
)
CATALOG_HEADER = ["编号", "名称", "单位", "单价", "促销价", "促销开始", "促销结束", "库存", "链接号", "产地", "生产日期", "上架"]
ORDER_HEADER = ["订单号", "商家编码", "数量", "收货人", "手机", "收货地址"]
SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _rows(header: list[str]) -> st.SearchStrategy[list[list[str]]]:
    row = st.lists(CELLS, min_size=0, max_size=len(header) + 2)
    return st.lists(row, min_size=1, max_size=6).map(lambda body: [header, *body])


def _csv(rows: list[list[str]]) -> bytes:
    return factories.catalog_csv([[c.replace("\x00", "") for c in r] for r in rows])


def _xlsx(rows: list[list[str]], merge: bool) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        # A cell that starts with "=" becomes a formula, as a person typing it in Excel makes one.
        sheet.append([_number_or_text(c) for c in row])
    if merge and len(rows) > 2:
        sheet.merge_cells(start_row=2, start_column=1, end_row=3, end_column=2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _number_or_text(cell: str) -> object:
    cleaned = "".join(ch for ch in cell if ch >= " " or ch in "\t\n")  # what a worksheet cell can hold
    try:
        number = float(cleaned)
    except ValueError:
        return cleaned
    return number if cleaned.strip() and number == number and abs(number) != float("inf") else cleaned


def _check_report(answer, data_rows: int) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)
    body = answer.json
    assert body is not None and isinstance(body["errors"], list)
    for error in body["errors"]:
        assert isinstance(error["row"], int) and 0 <= error["row"] <= data_rows + 1, error
        assert str(error["error"]).strip(), error
    if answer.status_code == 400:
        assert body.get("error") or body["errors"]


@pytest.fixture
def coordinator_api(session, api_as):
    farmer = factories.user(session, "farmer", "wang")
    factories.product(session, farmer, sku="A001", name="富硒大米", stock=20)
    return api_as(factories.user(session, "coordinator", "coord"))


GOOD_PRODUCT = ["B001", "小米", "斤", "12.5", "", "", "", "10", "", "山西", "2025-06-01", "是"]
GOOD_ORDER = ["TB1001", "A001", "2", "李四", "13800138000", "浙江省杭州市西湖区文三路 1 号"]


@SETTINGS
@given(rows=_rows(CATALOG_HEADER), as_workbook=st.booleans(), merge=st.booleans())
@example(rows=[CATALOG_HEADER, GOOD_PRODUCT], as_workbook=True, merge=False)  # the written branch, for sure
@example(rows=[CATALOG_HEADER, GOOD_PRODUCT, ["B002", "=1+1", "斤", "1e308"]], as_workbook=False, merge=False)
def test_a_catalog_file_with_any_cells_is_imported_whole_or_not_at_all(coordinator_api, session, rows,
                                                                       as_workbook, merge):
    before = session.scalar(select(func.count(Product.id)))
    data = _xlsx(rows, merge) if as_workbook else _csv(rows)
    name = "catalog.xlsx" if as_workbook else "catalog.csv"
    answer = coordinator_api.post("/api/products/import", data={"file": (io.BytesIO(data), name)},
                                  content_type="multipart/form-data")
    _check_report(answer, len(rows))
    session.expire_all()
    after = session.scalar(select(func.count(Product.id)))
    body = answer.json
    if answer.status_code == 200:
        assert not body["errors"] and after == before + body["created"]
    else:
        assert after == before, "a refused file wrote products"


@SETTINGS
@given(rows=_rows(ORDER_HEADER), as_workbook=st.booleans(), merge=st.booleans())
@example(rows=[ORDER_HEADER, GOOD_ORDER], as_workbook=True, merge=False)
@example(rows=[ORDER_HEADER, GOOD_ORDER, ["TB1002", "A001", "9" * 40, "=HYPERLINK(\"http://evil/\")", "138", ""]],
         as_workbook=False, merge=False)
def test_an_order_export_with_any_cells_is_imported_whole_or_not_at_all(coordinator_api, session, rows,
                                                                        as_workbook, merge):
    # Give the rows a chance to be real orders: the sku of the catalog, a phone, a small quantity.
    for row in rows[1:]:
        if len(row) >= 6 and row[1] == "":
            row[1:3] = ["A001", "1"]
            row[4] = "13800138000"
    before = session.scalar(select(func.count(Order.id)))
    last_id = session.scalar(select(func.max(Order.id))) or 0
    stock_before = session.scalar(select(Product.stock).where(Product.sku == "A001"))
    data = _xlsx(rows, merge) if as_workbook else _csv(rows)
    name = "orders.xlsx" if as_workbook else "orders.csv"
    answer = coordinator_api.post("/api/orders/import", data={"file": (io.BytesIO(data), name), "channel": "taobao"},
                                  content_type="multipart/form-data")
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)
    body = answer.json
    assert "rows" in body or str(body["error"]).strip()  # a report per row, or why the file was refused
    session.expire_all()
    after = session.scalar(select(func.count(Order.id)))
    stock_after = session.scalar(select(Product.stock).where(Product.sku == "A001"))
    if answer.status_code == 200:
        _check_report(answer, len(rows))
        assert not body["errors"] and after == before + body["created"]
        new = session.scalars(select(Order.quantity).where(Order.id > last_id)).all()
        assert stock_before - stock_after == sum(new), "the stock taken is not the new orders' quantities"
    else:
        if "rows" in body:
            _check_report(answer, len(rows))
        assert (after, stock_after) == (before, stock_before), "a refused file wrote orders or took stock"



def _damaged(book: bytes, member: str, data: bytes) -> bytes:
    """``book`` with one archive member replaced by ``data``."""
    import zipfile

    source, out = zipfile.ZipFile(io.BytesIO(book)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for item in source.infolist():
            damaged.writestr(item.filename, data if item.filename == member else source.read(item))
    return out.getvalue()


WORKBOOK = factories.workbook([["名称", "单位", "单价"], ["小米", "斤", "12.5"]])
MEMBERS = ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "[Content_Types].xml", "xl/styles.xml",
           "xl/_rels/workbook.xml.rels", "_rels/.rels"]


@settings(max_examples=60, deadline=None, database=None)
@given(member=st.sampled_from(MEMBERS), cut=st.integers(0, 400), junk=st.binary(max_size=40))
def test_a_damaged_workbook_is_rows_or_a_readable_refusal_never_a_crash(member, cut, junk):
    import zipfile

    from catalog.errors import ImportFileRejected
    from catalog.spreadsheet import read_table

    original = zipfile.ZipFile(io.BytesIO(WORKBOOK)).read(member)
    data = _damaged(WORKBOOK, member, original[:cut] + junk)
    try:
        rows = list(read_table(data))
    except ImportFileRejected as exc:
        assert str(exc).strip()
    else:
        assert all(isinstance(cell, str) for row in rows for cell in row)


def test_a_workbook_with_broken_xml_inside_is_refused_with_a_message_not_a_500(coordinator_api):
    data = _damaged(WORKBOOK, "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row>")
    for route, fields in (("/api/products/import", {}), ("/api/orders/import", {"channel": "taobao"})):
        answer = coordinator_api.post(route, data={"file": (io.BytesIO(data), "book.xlsx"), **fields},
                                      content_type="multipart/form-data")
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert answer.json["error"]
