"""Notes the system writes into a product's history and an order's trail are stored as a code
and values and shown in the reader's language; what a person typed stays as typed (issue 16,
finding 10; migration 0016 converts the Chinese text rows held before)."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

import db
from accounts.roles import COORDINATOR, FARMER, PARTNER
from app.i18n import note_text
from db.notes import Note, parse
from orders import services as orders
from tests import factories
from tests.conftest import login
from tests.test_db_migrations import empty_url  # noqa: F401 (a fixture)


@pytest.fixture
def people(session):  # type: ignore[no-untyped-def]
    return {"coord": factories.user(session, COORDINATOR, "coord"), "farmer": factories.user(session, FARMER, "wang"),
            "partner": factories.user(session, PARTNER, "coop", display_name="山货物流")}


def _history_cells(html: str) -> list[str]:
    """The 原因 column of a product page's history table (the last cell of each row)."""
    table = html.split('<table class="list">')[-1]
    return [re.sub(r"<[^>]+>", "", cells[-1]).strip()
            for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S))
            if cells]


def _trail_notes(html: str) -> list[str]:
    table = html.split('class="list trail"')[-1].split("</table>")[0]
    return [re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[-1]).strip()
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S) if "<td" in row]


def test_a_products_history_shows_the_system_reasons_in_the_readers_language_and_typed_ones_as_typed(
        app, client, session, people):
    coord = people["coord"]
    login(client, "coord")
    from catalog import services as catalog
    rice = catalog.create_product(session, actor=coord, farmer="wang", name="富硒大米", unit="斤", price_fen=2500,
                                  stock=10)
    session.commit()
    order = factories.order(session, rice, coord, quantity=2)
    orders.cancel_order(session, actor=coord, order_id=order.id)
    catalog.update_product(session, rice, coord, reason="涨价了", price_fen=2800)
    session.commit()

    chinese = _history_cells(client.get(f"/catalog/{rice.id}").get_data(as_text=True))
    assert chinese == ["涨价了", f"取消订单 #{order.id}", f"订单 #{order.id}", "新建商品", "新建商品"]
    client.set_cookie("cunbo_lang", "en")
    english = _history_cells(client.get(f"/catalog/{rice.id}").get_data(as_text=True))
    assert english == ["涨价了", f"Order #{order.id} cancelled", f"Order #{order.id}", "New product", "New product"]


def test_an_orders_trail_shows_the_system_notes_in_the_readers_language_on_the_page_and_in_the_api(
        app, client, session, people, api_as):
    coord, partner = people["coord"], people["partner"]
    rice = factories.product(session, people["farmer"], name="富硒大米", stock=10)
    order = factories.order(session, rice, coord, quantity=1)
    orders.update_order(session, actor=coord, order_id=order.id, buyer_name="王五", quantity=2)
    session.commit()
    batch = factories.handoff(session, [order], coord, partner)
    orders.ack_handoff(session, actor=partner, handoff_id=batch.id)
    session.commit()

    login(client, "coord")
    chinese = _trail_notes(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert chinese == ["", "修改 收货人：李四 → 王五；数量：1 → 2", f"交接单 #{batch.id} → 山货物流",
                       f"发货方确认取件（交接单 #{batch.id}）"]
    client.set_cookie("cunbo_lang", "en")
    english = _trail_notes(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert english == ["", "Changed Receiver: 李四 → 王五; Quantity: 1 → 2", f"Hand-off batch #{batch.id} → 山货物流",
                       f"Picked up by the partner (hand-off batch #{batch.id})"]

    api = api_as(coord)
    api.client.set_cookie("cunbo_lang", "en")
    events = api.get(f"/api/orders/{order.id}").json["events"]
    assert [e["note"] for e in events] == english
    assert [e["note_code"] for e in events] == [None, "order_changed", "handed_off", "picked_up"]
    assert events[2]["note_args"] == {"handoff": batch.id, "partner": "山货物流"}


def test_a_note_with_values_that_do_not_fit_its_message_shows_its_text(app):
    assert note_text("旧的", "order_logged", {}) == "旧的"
    assert note_text("我写的") == "我写的"


def test_the_chinese_text_that_rows_held_is_parsed_back_into_codes_and_unknown_text_is_kept():
    assert parse("新建商品") == Note("product_created")
    assert parse("订单 #12") == Note("order_logged", {"id": 12})
    assert parse("取消订单 #12") == Note("order_cancelled", {"id": 12})
    assert parse("修改订单 #12") == Note("order_edited", {"id": 12})
    assert parse("交接单 #1 → 山货 → 物流") == Note("handed_off", {"handoff": 1, "partner": "山货 → 物流"})
    assert parse("发货方确认取件 (交接单 #3)") == Note("picked_up", {"handoff": 3})
    assert parse("修改 buyer_name: 张; 三 → 李四; quantity: 1 → 2") == Note("order_changed", {"changes": [
        {"field": "buyer_name", "old": "张; 三", "new": "李四"}, {"field": "quantity", "old": "1", "new": "2"}]})
    assert parse("Stock count adjustment") == Note("stock_count")
    for typed in ("涨价了", "订单 #12 退货", "", "顺丰 SF123456"):
        assert parse(typed) is None


_USER = ("INSERT INTO users (username, display_name, role, password_hash, village, active, created_at)"
         " VALUES ('wang', '', 'farmer', 'x', '', true, CURRENT_TIMESTAMP)")
_PRODUCT = ("INSERT INTO products (sku, name, name_en, farmer_id, unit, price_fen, stock, origin, description, active,"
            " created_at, updated_at) VALUES ('A1', '米', '', :u, '斤', 100, 5, '', '', true, CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP)")
_ORDER = ("INSERT INTO orders (product_id, farmer_id, quantity, packages, unit, unit_price_fen, total_fen, buyer_name,"
          " buyer_phone, address, channel, status, logged_by_id, carrier, tracking_no, created_at, updated_at)"
          " VALUES (:p, :u, 1, 1, '斤', 100, 100, '李四', '13800138000', '杭州', 'phone', 'new', :u, '', '',"
          " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")


def _json(value):  # type: ignore[no-untyped-def]
    return json.loads(value) if isinstance(value, str) else value


def test_migration_0016_turns_old_chinese_rows_into_codes_keeps_typed_text_and_the_trigger_writes_codes(
        empty_url):  # noqa: F811
    db.upgrade(empty_url, "0015")
    engine = db.make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text(_USER))
        user = conn.execute(text("SELECT id FROM users")).scalar_one()
        conn.execute(text(_PRODUCT), {"u": user})
        product = conn.execute(text("SELECT id FROM products")).scalar_one()
        conn.execute(text(_ORDER), {"p": product, "u": user})  # 0004's trigger writes 订单 #1
        order = conn.execute(text("SELECT id FROM orders")).scalar_one()
        for reason in (f"取消订单 #{order}", "涨价了"):
            conn.execute(text("INSERT INTO product_changes (product_id, field, old_value, new_value, reason,"
                              " changed_by_id, changed_at) VALUES (:p, 'stock', 1, 2, :r, :u, CURRENT_TIMESTAMP)"),
                         {"p": product, "r": reason, "u": user})
        for note in ("交接单 #3 → 山货物流", "顺丰 SF123456"):
            conn.execute(text("INSERT INTO order_events (order_id, from_status, to_status, actor_id, at, note)"
                              " VALUES (:o, 'new', 'handed_off', :u, CURRENT_TIMESTAMP, :n)"),
                         {"o": order, "u": user, "n": note})
    db.upgrade(empty_url)
    with engine.begin() as conn:
        conn.execute(text(_ORDER), {"p": product, "u": user})  # 0016's trigger writes the code
        changes = conn.execute(text("SELECT reason, reason_code, reason_args FROM product_changes ORDER BY id")).all()
        notes = conn.execute(text("SELECT note, note_code, note_args FROM order_events ORDER BY id")).all()
    engine.dispose()
    assert [(r[0], r[1], _json(r[2])) for r in changes] == [
        ("", "order_logged", {"id": order}), ("", "order_cancelled", {"id": order}), ("涨价了", None, None),
        ("", "order_logged", {"id": order + 1})]
    assert [(n[0], n[1], _json(n[2])) for n in notes] == [
        ("", None, None), ("", "handed_off", {"handoff": 3, "partner": "山货物流"}), ("顺丰 SF123456", None, None),
        ("", None, None)]
