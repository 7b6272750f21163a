"""The coordinator's and the farmer's catalog pages."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from catalog.models import Product, ProductChange
from tests import factories
from tests.conftest import csrf_token, login


@pytest.fixture
def people(session):
    return {
        "coord": factories.user(session, "coordinator", "zhang"),
        "wang": factories.user(session, "farmer", "wang", display_name="王大姐"),
        "li": factories.user(session, "farmer", "li", display_name="李大哥"),
    }


def form_data(client, **kw):
    data = {"name": "五常大米", "farmer": "wang", "unit": "袋", "price": "59.90", "stock": "20", "promo_price": "",
            "promo_starts": "", "promo_ends": "", "link_no": "", "sku": "", "origin": "", "produced_on": "",
            "description": "", "active": "y", "name_en": "", "csrf_token": csrf_token(client)}
    data.update(kw)
    return data


def test_home_shows_the_catalog_card_to_coordinators_and_farmers(client, session, people):
    login(client, "zhang")
    assert "商品目录" in client.get("/").get_data(as_text=True)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    login(client, "wang")
    assert "我的商品" in client.get("/").get_data(as_text=True)


def test_coordinator_adds_a_product_through_the_form(client, session, people):
    login(client, "zhang")
    response = client.post("/catalog/new", data=form_data(client, price="¥59.9", link_no="３", promo_price="49",
                                                          promo_starts="2025-06-01T08:00", promo_ends="2025-06-03T20:00"))
    assert response.status_code == 302, response.get_data(as_text=True)
    product = session.scalars(select(Product)).one()
    assert (product.price_fen, product.link_no, product.promo_price_fen) == (5990, 3, 4900)
    assert product.promo_starts_at.isoformat() == "2025-06-01T00:00:00+00:00"
    page = client.get(response.location).get_data(as_text=True)
    assert "¥59.90" in page and "王大姐" in page


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"price": "-5"}, "价格不能是负数"),
        ({"price": "abc"}, "价格不是数字"),
        ({"stock": "-1"}, "库存不能是负数"),
        ({"name": ""}, "名称不能为空"),
        ({"name": "长" * 41}, "最多 40 个字"),
        ({"promo_price": "99"}, "不能高于单价"),
        ({"farmer": "nobody"}, "不是一个有效的选项|Not a valid choice|找不到农户"),
    ],
)
def test_bad_input_on_the_form_shows_a_clear_message_and_saves_nothing(client, session, people, changes, message):
    login(client, "zhang")
    response = client.post("/catalog/new", data=form_data(client, **changes))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert any(m in page for m in message.split("|")), page
    assert session.scalars(select(Product)).all() == []


def test_html_in_names_is_escaped_on_every_page(client, session, people):
    product = factories.product(session, people["wang"], name="<script>alert(1)</script>", sku="X1")
    login(client, "zhang")
    for path in ("/catalog/", f"/catalog/{product.id}", f"/catalog/{product.id}/edit", "/catalog/stock"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_editing_keeps_history_with_the_reason(client, session, people):
    product = factories.product(session, people["wang"], sku="W1", price_fen=1000, stock=5, name="小米")
    login(client, "zhang")
    form = form_data(client, name="小米", price="12", stock="5", sku="W1", reason="涨价了")
    assert client.post(f"/catalog/{product.id}/edit", data=form).status_code == 302
    page = client.get(f"/catalog/{product.id}").get_data(as_text=True)
    assert "涨价了" in page and "¥10.00" in page and "¥12.00" in page


def test_list_searches_by_pinyin_initials_and_filters_by_farmer(client, session, people):
    factories.product(session, people["wang"], name="小米", sku="W1")
    factories.product(session, people["li"], name="核桃", sku="L1")
    login(client, "zhang")
    page = client.get("/catalog/?q=xm").get_data(as_text=True)
    assert "小米" in page and "核桃" not in page
    page = client.get("/catalog/?farmer=li").get_data(as_text=True)
    assert "核桃" in page and "小米" not in page


def test_farmers_see_their_own_products_read_only(client, session, people):
    mine = factories.product(session, people["wang"], name="小米", sku="W1")
    theirs = factories.product(session, people["li"], name="核桃", sku="L1")
    login(client, "wang")
    page = client.get("/catalog/").get_data(as_text=True)
    assert "小米" in page and "核桃" not in page and "/edit" not in page and "导入" not in page
    assert client.get(f"/catalog/{mine.id}").status_code == 200
    assert client.get(f"/catalog/{theirs.id}").status_code == 404
    assert client.get(f"/catalog/{mine.id}/edit").status_code == 403
    assert client.get("/catalog/new").status_code == 403
    assert client.get("/catalog/import").status_code == 403
    assert client.post("/catalog/stock", data={"csrf_token": csrf_token(client)}).status_code == 403


def test_bulk_stock_adjust_is_all_or_nothing(client, session, people):
    a = factories.product(session, people["wang"], name="小米", sku="W1", stock=5)
    b = factories.product(session, people["li"], name="核桃", sku="L1", stock=1)
    login(client, "zhang")
    refused = client.post("/catalog/stock", data={f"delta-{a.id}": "10", f"delta-{b.id}": "-2",
                                                  "csrf_token": csrf_token(client)})
    assert refused.status_code == 409 and "库存不足" in refused.get_data(as_text=True)
    bad = client.post("/catalog/stock", data={f"delta-{a.id}": "十", "csrf_token": csrf_token(client)})
    assert bad.status_code == 400 and "请填整数" in bad.get_data(as_text=True)
    session.expire_all()
    assert (session.get(Product, a.id).stock, session.get(Product, b.id).stock) == (5, 1)
    ok = client.post("/catalog/stock", data={f"delta-{a.id}": "+10", f"delta-{b.id}": "-1", "reason": "到货",
                                             "csrf_token": csrf_token(client)})
    assert ok.status_code == 302
    session.expire_all()
    assert (session.get(Product, a.id).stock, session.get(Product, b.id).stock) == (15, 0)
    assert session.scalars(select(ProductChange.reason).where(ProductChange.reason == "到货")).all() == ["到货", "到货"]


def test_photo_upload_on_the_edit_page_shows_the_card(client, session, people):
    product = factories.product(session, people["wang"], sku="W1")
    login(client, "zhang")
    response = client.post(f"/catalog/{product.id}/photos",
                           data={"photo": (io.BytesIO(factories.image_bytes()), "a.jpg"), "csrf_token": csrf_token(client)},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(f"/catalog/{product.id}/edit").get_data(as_text=True)
    assert "_card" not in page and "/card.jpg" in page
    bad = client.post(f"/catalog/{product.id}/photos",
                      data={"photo": (io.BytesIO(b"#!/bin/sh\necho hi"), "a.jpg"), "csrf_token": csrf_token(client)},
                      content_type="multipart/form-data", follow_redirects=True)
    assert "不是能打开的图片" in bad.get_data(as_text=True)


def test_import_page_explains_the_columns(client, session, people):
    login(client, "zhang")
    page = client.get("/catalog/import").get_data(as_text=True)
    assert "检查（不会保存）" in page and "促销价" in page and "catalog_import.js" in page
