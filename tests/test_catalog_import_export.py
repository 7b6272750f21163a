"""CSV import and export as Excel on a Chinese Windows PC writes and reads them."""
from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime

import pytest
from sqlalchemy import func, select

from catalog import photos, services, spreadsheet
from catalog.errors import ImportFileRejected, NotAllowed
from catalog.models import Product, ProductChange, ProductPhoto
from tests import factories

HEADER_ZH = ["编号", "名称", "农户", "单位", "单价", "促销价", "库存", "链接号", "产地"]


@pytest.fixture
def coord(session):
    factories.user(session, "farmer", "wang", display_name="王大姐")
    factories.user(session, "farmer", "li", display_name="李大哥")
    return factories.user(session, "coordinator", "zhang")


def run(session, coord, rows, encoding="utf-8-sig", **kw):
    report = spreadsheet.import_products(session, factories.catalog_csv(rows, encoding), coord, **kw)
    session.commit()
    return report


def farmer(session, username):
    return session.scalar(select(services.User).where(services.User.username == username))


def catalog(session):
    return {p.sku: p for p in session.scalars(select(Product))}


GOOD = [
    HEADER_ZH,
    ["A001", "五常大米", "wang", "袋", "￥59.90", "49.9", "20", "1", "黑龙江"],  # GBK has only the full-width ￥
    ["A002", "土鸡蛋", "王大姐", "盒", "25元", "", "１００", "2", ""],
    ["", "", "", "", "", "", "", "", ""],  # Excel's blank line
    ["A003", "核桃", "li", "斤", "２５．５", "", "5", "", "河北"],
]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk", "gb18030"])
def test_excel_files_in_every_chinese_encoding_are_read(session, coord, encoding):
    report = run(session, coord, GOOD, encoding)
    assert (report.created, report.updated, report.unchanged, report.errors) == (3, 0, 0, [])
    products = catalog(session)
    assert products["A001"].name == "五常大米" and products["A001"].price_fen == 5990
    assert products["A001"].promo_price_fen == 4990 and products["A001"].origin == "黑龙江"
    assert products["A002"].farmer.username == "wang" and products["A002"].stock == 100
    assert products["A003"].price_fen == 2550 and products["A003"].link_no is None


def test_the_gbk_and_bom_files_really_are_what_excel_writes():
    gbk = factories.catalog_csv(GOOD, "gbk")
    assert not gbk.startswith(b"\xef\xbb\xbf") and "五常大米".encode("gbk") in gbk
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert factories.catalog_csv(GOOD, "utf-8-sig").startswith(b"\xef\xbb\xbf")


def test_english_headers_in_any_order_and_unknown_columns_are_skipped(session, coord):
    rows = [["Price (CNY)", "name", "Unit", "SKU", "stock", "farmer", "Remarks"],
            ["12", "Honey 蜂蜜", "瓶", "H1", "3", "li", "whatever"]]
    report = run(session, coord, rows)
    assert report.created == 1 and report.ignored_columns == ["Remarks"]
    assert catalog(session)["H1"].price_fen == 1200


def test_tab_separated_utf16_unicode_text_is_read(session, coord):
    data = "名称\t单位\t单价\t编号\r\n苹果\t斤\t8\tP1\r\n".encode("utf-16")
    report = spreadsheet.import_products(session, data, coord, farmer=farmer(session, "wang"))
    assert report.created == 1


def test_upsert_by_sku_counts_created_updated_and_unchanged_and_keeps_history(session, coord):
    run(session, coord, GOOD)
    rows = [HEADER_ZH[:5] + ["库存"],
            ["A001", "五常大米", "wang", "袋", "62", "20"],   # price changes
            ["A002", "土鸡蛋", "wang", "盒", "25.00", "100"],  # nothing changes
            ["", "小米", "li", "斤", "8", "50"]]              # no sku: a new product, sku generated
    report = run(session, coord, rows)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    products = catalog(session)
    assert products["A001"].price_fen == 6200 and products["A001"].promo_price_fen == 4990  # column absent: kept
    new = [p for p in products.values() if p.name == "小米"][0]
    assert new.sku.startswith("CB") and new.name_initials == "xm"
    change = session.scalars(select(ProductChange).where(ProductChange.reason_code == "imported",
                                                         ProductChange.old_value == 5990)).one()
    assert (change.field, change.new_value, change.changed_by_id) == ("price_fen", 6200, coord.id)


def test_dry_run_reports_changes_and_writes_nothing(session, coord):
    run(session, coord, GOOD)
    rows = [["编号", "单价", "库存"], ["A001", "60", "20"], ["A009", "1", "1"]]
    report = run(session, coord, rows, dry_run=True)
    assert (report.updated, report.created, report.written) == (1, 0, False)
    assert report.errors == [{"row": 3, "error": "新商品要填名称、单位"}]
    assert report.preview[0] == {"row": 2, "action": "update", "sku": "A001", "name": "五常大米",
                                 "changes": {"price_fen": ["59.90", "60.00"]}, "error": "", "owner": "王大姐",
                                 "price": "60.00", "stock": 20}
    assert catalog(session)["A001"].price_fen == 5990


BAD_ROWS = [
    (["B1", "坏价格", "wang", "斤", "-5", "", "1", "", ""], "单价：价格不能是负数"),
    (["B2", "坏价格", "wang", "斤", "abc", "", "1", "", ""], "单价：价格不是数字"),
    (["B3", "坏库存", "wang", "斤", "5", "", "-1", "", ""], "库存不能是负数"),
    (["B4", "坏库存", "wang", "斤", "5", "", "很多", "", ""], "库存不是整数"),
    (["B5", "谁的", "nobody", "斤", "5", "", "1", "", ""], "找不到农户 nobody"),
    (["A001", "重复", "wang", "斤", "5", "", "1", "", ""], "编号 A001 与第 2 行重复"),
    (["B6", "", "wang", "斤", "5", "", "1", "", ""], "名称不能为空"),
    (["B7", "太长" * 21, "wang", "斤", "5", "", "1", "", ""], "最多 40 个字"),
    (["B8", "促销", "wang", "斤", "5", "6", "1", "", ""], "不能高于单价"),
    (["B9", "链接", "wang", "斤", "5", "", "1", "x", ""], "链接号不是整数"),
]


@pytest.mark.parametrize("row, reason", BAD_ROWS, ids=[r[1] for r in BAD_ROWS])
def test_one_bad_row_means_nothing_is_written(session, coord, row, reason):
    rows = [HEADER_ZH, GOOD[1], row]
    report = run(session, coord, rows)
    assert report.errors and report.errors[0]["row"] == 3 and reason in report.errors[0]["error"]
    assert (report.created, report.written) == (0, False)
    assert catalog(session) == {}


def test_partial_import_writes_the_good_rows_and_reports_the_bad(session, coord):
    rows = [HEADER_ZH, GOOD[1], BAD_ROWS[0][0], GOOD[2]]
    report = run(session, coord, rows, partial=True)
    assert (report.created, report.written) == (2, True)
    assert [e["row"] for e in report.errors] == [3]
    assert set(catalog(session)) == {"A001", "A002"}


def test_every_bad_row_is_reported_with_its_excel_row_number(session, coord):
    rows = [HEADER_ZH, BAD_ROWS[0][0], [], BAD_ROWS[2][0], GOOD[1]]
    report = run(session, coord, rows, dry_run=True)
    assert [e["row"] for e in report.errors] == [2, 4]


def test_html_in_names_is_kept_as_text(session, coord):
    rows = [["名称", "单位", "单价", "编号"], ["<script>alert(1)</script>", "斤", "1", "X1"]]
    run(session, coord, rows, farmer=farmer(session, "wang"))
    assert catalog(session)["X1"].name == "<script>alert(1)</script>"


def _zip_of(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2000), "不是表格"),
        (os.urandom(4000).replace(b"\x00", b"\x01"), "不是表格"),
        (b"PK\x03\x04" + b"\x00" * 100, "Excel 文件打不开"),
        (_zip_of("notes.txt", b"hello"), "Excel 文件打不开"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "旧版 Excel"),
        (b"", "空的"),
        (b"\r\n\r\n", "空的"),
        ("价格很贵,随便\r\n1,2\r\n".encode(), "表头"),
        ("名称,name\r\n".encode(), "同一列"),
    ],
    ids=["png-named-csv", "random-binary", "broken-xlsx", "zip-not-workbook", "old-xls", "empty", "blank-lines",
         "no-known-header", "duplicate-column"],
)
def test_files_that_are_not_catalog_csvs_are_refused_with_a_reason(session, coord, data, reason):
    with pytest.raises(ImportFileRejected, match=reason):
        spreadsheet.import_products(session, data, coord)
    assert catalog(session) == {}


def test_a_50_mb_file_is_refused(session, coord):
    big = factories.catalog_csv([HEADER_ZH] + [GOOD[1]] * 10) + b" " * (50 * 1024 * 1024)
    with pytest.raises(ImportFileRejected, match="文件太大"):
        spreadsheet.import_products(session, big, coord)


def test_only_managers_import(session, coord):
    wang = session.scalar(select(services.User).where(services.User.username == "wang"))
    with pytest.raises(NotAllowed):
        spreadsheet.import_products(session, factories.catalog_csv(GOOD), wang)


def test_promotion_windows_and_dates_use_village_time(session, coord):
    rows = [["编号", "名称", "单位", "单价", "促销价", "促销开始", "促销结束", "生产日期", "上架"],
            ["P1", "梨", "斤", "5", "4", "2025/6/1 8:00", "2025-06-03", "2025年5月30日", "否"]]
    run(session, coord, rows, farmer=farmer(session, "wang"))
    p = catalog(session)["P1"]
    assert p.promo_starts_at.isoformat() == "2025-06-01T00:00:00+00:00"  # 08:00 in Beijing
    assert p.promo_ends_at.isoformat() == "2025-06-03T16:00:00+00:00"  # the whole of 3 June
    assert p.produced_on.isoformat() == "2025-05-30" and p.active is False


def test_photos_named_after_skus_are_attached_and_bad_ones_block_the_import(session, coord, tmp_path):
    data = factories.catalog_csv(GOOD)
    bad = spreadsheet.import_products(session, data, coord, data_dir=tmp_path,
                                      photos=[("A001.jpg", factories.image_bytes()), ("A002.jpg", b"#!/bin/sh")])
    assert bad.photo_errors == [{"file": "A002.jpg", "error": "这不是能打开的图片，请选 JPG 或 PNG 照片"}]
    assert not bad.written
    session.rollback()
    unknown = spreadsheet.import_products(session, data, coord, data_dir=tmp_path, dry_run=True,
                                          photos=[("Z9.png", factories.image_bytes(fmt="PNG"))])
    assert "没有编号为 Z9" in unknown.photo_errors[0]["error"]
    good = run(session, coord, GOOD, data_dir=tmp_path,
               photos=[("A001.jpg", factories.image_bytes()), ("C:\\相机\\A003.JPG", factories.image_bytes(fmt="PNG"))])
    assert (good.photos, good.photo_errors, good.created) == (2, [], 3)
    assert session.scalar(select(func.count()).select_from(ProductPhoto)) == 2
    assert photos.card_path(tmp_path, catalog(session)["A003"]).exists()


def test_export_is_utf8_with_bom_and_chinese_headers_and_escapes_formulas(session, coord):
    run(session, coord, GOOD)
    farmer = session.scalar(select(services.User).where(services.User.username == "wang"))
    factories.product(session, farmer, sku="F1", name="=HYPERLINK(1)", unit="斤")
    data = spreadsheet.export_csv(session, coord)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "编号,名称,英文名,农户,单位,单价,促销价,促销开始,促销结束,库存,链接号,产地,生产日期,描述,上架"
    assert "A001,五常大米,,wang,袋,59.90,49.90,,,20,1,黑龙江,,,是" in text
    assert "'=HYPERLINK(1)" in text


def test_export_imported_into_an_empty_catalog_recreates_the_same_products(app, session, coord):
    rows = [["编号", "名称", "英文名", "单位", "单价", "促销价", "促销开始", "促销结束", "库存", "链接号", "产地", "生产日期", "描述", "上架", "农户"],
            ["P1", "梨", "Pear", "斤", "5", "4", "2025-06-01 08:00", "2025-06-03 20:30:15", "3", "7", "河北", "2025-05-30", "甜\n脆", "否", "li"],
            ["P2", "-负号开头", "", "箱", "0.5", "", "", "", "0", "", "", "", "", "是", "wang"]]
    run(session, coord, rows)
    before = [services.product_to_dict(p) for p in services.list_products(session, viewer=coord, sort="sku")]
    exported = spreadsheet.export_csv(session, coord)
    again = spreadsheet.import_products(session, exported, coord)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)  # reading it back changes nothing
    session.execute(ProductChange.__table__.delete())
    session.execute(Product.__table__.delete())
    session.commit()
    report = spreadsheet.import_products(session, exported, coord)
    session.commit()
    assert report.created == 2 and report.errors == []
    after = [services.product_to_dict(p) for p in services.list_products(session, viewer=coord, sort="sku")]
    strip = lambda d: {k: v for k, v in d.items() if k not in ("id", "updated_at", "photos")}  # noqa: E731
    assert [strip(d) for d in after] == [strip(d) for d in before]


def test_stock_sold_while_an_import_is_checked_is_recorded_truthfully(app, session, coord):
    run(session, coord, GOOD)
    a001 = catalog(session)["A001"].id
    factory = app.extensions["cunbo.sessions"]

    def an_order_comes_in(phase, done, total):
        if phase == "checking" and done == total:
            with factory() as other:
                services.adjust_stock(other, a001, -3, None, "订单")
                other.commit()

    rows = [["编号", "库存"], ["A001", "50"]]
    report = spreadsheet.import_products(session, factories.catalog_csv(rows), coord, progress=an_order_comes_in)
    session.commit()
    assert report.updated == 1
    change = session.scalars(select(ProductChange).where(ProductChange.reason_code == "imported", ProductChange.field == "stock",
                                                         ProductChange.old_value.is_not(None))).one()
    assert (change.old_value, change.new_value) == (17, 50)  # 20 minus the 3 just sold, not the stale 20


def test_an_excel_workbook_imports_as_excel_keeps_its_cells(session, coord):
    """Numbers, dates and empty cells as Excel stores them; errors name the rows Excel shows."""
    rows = [
        ["编号", "名称", "农户", "单位", "单价", "促销价", "库存", "链接号", "产地", "生产日期", "促销开始", "促销结束"],
        ["A001", "五常大米", "wang", "袋", 59.9, 49.9, 20, 1, "黑龙江", datetime(2025, 10, 8), datetime(2025, 11, 1, 8, 30),
         datetime(2025, 11, 11)],
        ["A002", "土鸡蛋", "王大姐", "盒", 25, None, 100, 2, None, None, None, None],
        [None] * 12,  # Excel's blank line
        ["A003", "核桃", "li", "斤", "２５．５", None, 5.0, None, "河北", None, None, None],
    ]
    report = spreadsheet.import_products(session, factories.workbook(rows), coord)
    session.commit()
    assert (report.created, report.errors) == (3, [])
    found = catalog(session)
    rice = found["A001"]
    assert (rice.price_fen, rice.promo_price_fen, rice.stock, rice.link_no) == (5990, 4990, 20, 1)
    assert rice.produced_on.isoformat() == "2025-10-08"
    assert rice.promo_starts_at.isoformat() == "2025-11-01T00:30:00+00:00"  # 08:30 in the village, UTC+8
    assert (found["A002"].price_fen, found["A002"].stock, found["A002"].origin) == (2500, 100, "")
    assert (found["A003"].price_fen, found["A003"].stock) == (2550, 5)

    bad = [[None] * 12, rows[0], ["A004", "小米", "wang", "斤", "很贵", None, 3, None, None, None, None, None]]
    report = spreadsheet.import_products(session, factories.workbook(bad), coord)
    assert [e["row"] for e in report.errors] == [3], "the header is on Excel's row 2, the bad row on 3"
    assert not report.written and "A004" not in catalog(session)


def test_a_workbook_that_unpacks_to_too_much_is_refused_before_it_is_parsed(session, coord, monkeypatch):
    monkeypatch.setattr(spreadsheet, "MAX_WORKBOOK_UNPACKED_BYTES", 1024 * 1024)
    bomb = _zip_of("xl/worksheets/sheet1.xml", b"\x00" * (2 * 1024 * 1024))
    assert len(bomb) < 10 * 1024
    with pytest.raises(ImportFileRejected, match="解开后太大"):
        spreadsheet.import_products(session, bomb, coord)
