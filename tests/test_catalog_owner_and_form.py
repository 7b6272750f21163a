"""Whose products an import makes, the dry run a coordinator reads before confirming, the product
form's required fields and photo, and the coordinator's console by farmer (issue 16 #12)."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from catalog.models import Product, ProductPhoto
from catalog.spreadsheet import NO_OWNER, PREVIEW_ROWS
from tests import factories
from tests.conftest import csrf_token, login
from tests.test_catalog_api import upload
from tests.test_catalog_pages import form_data

NO_FARMER_COLUMN = [["编号", "名称", "单位", "单价", "库存"], ["N1", "苹果", "斤", "8", "30"], ["N2", "梨", "斤", "６.5", "１２"]]


@pytest.fixture
def people(session):
    return {
        "coord": factories.user(session, "coordinator", "zhang", display_name="张站长"),
        "admin": factories.user(session, "admin", "boss", display_name="管理员甲"),
        "wang": factories.user(session, "farmer", "wang", display_name="王大姐"),
        "li": factories.user(session, "farmer", "li", display_name="李大哥"),
    }


def owners(session):
    session.expire_all()
    return {p.sku: p.farmer.username for p in session.scalars(select(Product))}


def test_an_import_without_a_farmer_column_gives_new_rows_to_the_farmer_chosen_for_the_file(session, api_as, people):
    response = upload(api_as(people["coord"]), factories.catalog_csv(NO_FARMER_COLUMN), farmer="wang")
    assert response.status_code == 200 and response.json["created"] == 2
    assert owners(session) == {"N1": "wang", "N2": "wang"}


def test_a_blank_farmer_cell_falls_back_to_the_file_farmer_and_a_named_one_wins(session, api_as, people):
    rows = [["编号", "名称", "农户", "单位", "单价"], ["M1", "米", "", "袋", "50"], ["M2", "蛋", "李大哥", "盒", "30"]]
    assert upload(api_as(people["coord"]), factories.catalog_csv(rows), farmer="wang").status_code == 200
    assert owners(session) == {"M1": "wang", "M2": "li"}


def test_new_rows_that_name_no_farmer_are_refused_instead_of_going_to_the_coordinator(session, api_as, people):
    response = upload(api_as(people["coord"]), factories.catalog_csv(NO_FARMER_COLUMN))
    assert response.status_code == 400
    assert response.json["errors"] == [{"row": 2, "error": NO_OWNER}, {"row": 3, "error": NO_OWNER}]
    assert owners(session) == {}


def test_a_row_that_updates_a_product_keeps_its_owner_without_a_farmer(session, api_as, people):
    factories.product(session, people["li"], sku="OLD", name="核桃", price_fen=2000)
    rows = [["编号", "单价"], ["OLD", "21"]]
    response = upload(api_as(people["coord"]), factories.catalog_csv(rows))
    assert response.status_code == 200 and response.json["updated"] == 1
    assert owners(session) == {"OLD": "li"}


@pytest.mark.parametrize("name", ["zhang", "boss", "nobody"])
def test_only_a_farmer_can_own_the_file(session, api_as, people, name):
    response = upload(api_as(people["coord"]), factories.catalog_csv(NO_FARMER_COLUMN), farmer=name, dry_run="1")
    assert response.status_code == 400 and ("不是农户" in response.json["error"] or "找不到农户" in response.json["error"])
    assert owners(session) == {}


def test_the_dry_run_names_the_owner_and_the_parsed_price_and_stock_of_each_row(session, api_as, people):
    factories.product(session, people["li"], sku="OLD", name="核桃", price_fen=2000, stock=7)
    rows = NO_FARMER_COLUMN + [["OLD", "核桃", "斤", "¥21", ""]]
    response = upload(api_as(people["coord"]), factories.catalog_csv(rows), farmer="wang", dry_run="1")
    assert response.status_code == 200
    shown = [(p["sku"], p["action"], p["owner"], p["price"], p["stock"]) for p in response.json["preview"]]
    assert shown == [("N1", "create", "王大姐", "8.00", 30), ("N2", "create", "王大姐", "6.50", 12),
                     ("OLD", "update", "李大哥", "21.00", 7)]
    assert response.json["preview_more"] == 0 and owners(session) == {"OLD": "li"}


def test_a_long_dry_run_lists_the_first_rows_and_counts_the_rest(session, api_as, people):
    rows = [["名称", "农户", "单位", "单价", "库存"]] + [[f"菜{i}", "wang", "斤", "1", "1"] for i in range(PREVIEW_ROWS + 37)]
    response = upload(api_as(people["coord"]), factories.catalog_csv(rows), dry_run="1")
    assert response.json["created"] == PREVIEW_ROWS + 37
    assert len(response.json["preview"]) == PREVIEW_ROWS and response.json["preview_more"] == 37


def test_the_product_form_and_the_import_page_offer_only_farmers(client, session, people):
    login(client, "zhang")
    for path in ("/catalog/new", "/catalog/import"):
        page = client.get(path).get_data(as_text=True)
        select = page[page.index('name="farmer"'):]
        offered = re.findall(r'<option[^>]*value="([^"]+)"', select[:select.index("</select>")])
        assert set(offered) == {"wang", "li"}, path


def test_an_empty_product_form_names_every_required_field_beside_it(client, session, people):
    login(client, "zhang")
    empty = form_data(client, name="", farmer="", unit="", price="", stock="")
    response = client.post("/catalog/new", data=empty)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field, label in (("name", "名称"), ("farmer", "农户"), ("unit", "单位"), ("price", "单价"), ("stock", "库存")):
        beside = re.search(rf'name="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*name="{field}"', page)
        assert beside, field
        # The error is the next thing under this input's label, before the next input's label.
        beside_it = page[beside.end():page.find("<label", beside.end())]
        assert f'<p class="field-error">{label}不能为空</p>' in beside_it, field
    assert "不是整数：<" not in page and "不是整数：\n" not in page
    assert session.scalars(select(Product)).all() == []


def test_a_photo_is_added_while_creating_the_product(client, session, people):
    login(client, "zhang")
    data = form_data(client, photo=(io.BytesIO(factories.image_bytes()), "rice.jpg"))
    response = client.post("/catalog/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    product = session.scalars(select(Product)).one()
    assert [p.product_id for p in session.scalars(select(ProductPhoto))] == [product.id]
    assert "/card.jpg" in client.get(response.location).get_data(as_text=True)


def test_a_bad_photo_saves_neither_the_product_nor_the_photo_and_keeps_what_was_typed(client, session, people):
    login(client, "zhang")
    data = form_data(client, name="黑木耳", photo=(io.BytesIO(b"#!/bin/sh\necho hi"), "a.jpg"))
    response = client.post("/catalog/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="黑木耳"' in page
    assert re.search(r'aria-invalid="true"[^>]*name="photo"|name="photo"[^>]*aria-invalid="true"', page)
    assert "不是能打开的图片" in page
    assert session.scalars(select(Product)).all() == [] and session.scalars(select(ProductPhoto)).all() == []


def test_the_product_page_has_an_upload_button_that_comes_back_to_it(client, session, people):
    product = factories.product(session, people["wang"], sku="W1")
    login(client, "zhang")
    page = client.get(f"/catalog/{product.id}").get_data(as_text=True)
    assert f'action="/catalog/{product.id}/photos"' in page and "上传照片" in page
    response = client.post(f"/catalog/{product.id}/photos", content_type="multipart/form-data", data={
        "photo": (io.BytesIO(factories.image_bytes()), "a.jpg"), "back": "detail", "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.location.endswith(f"/catalog/{product.id}#photos")
    assert "/card.jpg" in client.get(f"/catalog/{product.id}").get_data(as_text=True)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "wang")
    assert "上传照片" not in client.get(f"/catalog/{product.id}").get_data(as_text=True)


def test_the_coordinator_console_shows_one_farmers_products_when_filtered(client, session, people):
    factories.product(session, people["wang"], name="王家大米", link_no=1)
    factories.product(session, people["li"], name="李家核桃", link_no=2)
    login(client, "zhang")
    everyone = client.get("/live/").get_data(as_text=True)
    assert "王家大米" in everyone and "李家核桃" in everyone
    only_li = client.get("/live/?farmer=li").get_data(as_text=True)
    lineup = only_li[only_li.index('id="lineup"'):]
    assert "李家核桃" in lineup and "王家大米" not in lineup
    assert '<option value="li" selected>' in only_li
    cards = client.get("/live/cards?farmer=li").get_data(as_text=True)
    assert "李家核桃" in cards and "王家大米" not in cards
