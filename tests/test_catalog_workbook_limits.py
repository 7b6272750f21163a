"""A workbook that unpacks big is answered at once and never read whole (issue 15 #3)."""
from __future__ import annotations

import io
import time

import pytest

from catalog import spreadsheet
from catalog.errors import ImportFileRejected
from orders.csvfiles import read_rows
from orders.errors import OrderError
from orders.importer import PLATFORM_COLUMNS, REQUIRED
from tests import factories


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """About 1.3 M one-digit cells: a few hundred KB packed, 18 MB unpacked, no needed column."""
    return factories.bomb_workbook(rows=6_500, columns=200)


def test_a_workbook_without_the_needed_columns_is_answered_from_its_header_row(bomb, session):
    coordinator = factories.user(session, "coordinator", "coord")
    started = time.perf_counter()
    with pytest.raises(ImportFileRejected, match="表头"):
        spreadsheet.import_products(session, bomb, coordinator, dry_run=True)
    with pytest.raises(OrderError, match="缺少这些列"):
        list(read_rows(bomb, PLATFORM_COLUMNS, REQUIRED))
    assert time.perf_counter() - started < 2.0, "both answers come from row 1, not after reading 1.3 M cells"


def test_rows_are_streamed_so_the_header_is_checked_before_the_body_is_read(bomb):
    rows = spreadsheet.read_table(bomb)
    assert not isinstance(rows, list)
    assert next(iter(rows))[:3] == ["0", "1", "2"]


def test_a_sheet_with_too_many_cells_is_refused_part_way(monkeypatch):
    monkeypatch.setattr(spreadsheet, "MAX_SHEET_CELLS", 1_000)
    book = factories.workbook([["编号", "名称", "单位", "单价", "库存"]] + [[f"S{i}", "米", "斤", 1, 1] for i in range(400)])
    with pytest.raises(ImportFileRejected, match="单元格"):
        list(spreadsheet.read_table(book))
    data = factories.catalog_csv([["编号", "名称"]] + [[f"S{i}", "米"] for i in range(600)])
    with pytest.raises(ImportFileRejected, match="单元格"):
        list(spreadsheet.read_table(data))


def test_the_api_answers_a_workbook_bomb_with_400_at_once(bomb, session, api_as):
    api = api_as(factories.user(session, "coordinator", "coord"))
    started = time.perf_counter()
    response = api.post("/api/orders/import?dry_run=1", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(bomb), "orders.xlsx"), "channel": "taobao"})
    assert response.status_code == 400 and "缺少这些列" in response.json["error"]
    assert time.perf_counter() - started < 2.0
