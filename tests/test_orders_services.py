"""Logging, changing and cancelling orders: stock, frozen prices, audit, who may do what."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from catalog.models import Product, ProductChange
from db import utcnow
from orders import services as orders
from orders.errors import DuplicateOrder, NotAllowed, NotFound, OrderError, OrderFrozen, OutOfStock, WrongState
from orders.models import Order, OrderEvent
from orders.phones import normalise_phone
from live.models import LiveSession
from tests import factories


@pytest.fixture
def people(session):
    return {
        "farmer": factories.user(session, "farmer", "wang", display_name="王大姐"),
        "other_farmer": factories.user(session, "farmer", "zhao"),
        "coordinator": factories.user(session, "coordinator", "coord"),
        "partner": factories.user(session, "partner", "coop"),
        "trainer": factories.user(session, "trainer", "teacher"),
    }


def stock_of(session, product):
    return session.scalar(select(Product.stock).where(Product.id == product.id))


def log(session, actor, product, **kw):
    values = dict(quantity=2, buyer_name="李四", buyer_phone="13800138000", address="杭州市文三路 1 号",
                  channel="wechat")
    values.update(kw)
    order = orders.log_order(session, actor=actor, product_id=product.id, **values)
    session.commit()
    return session.get(Order, order["id"])


@pytest.mark.parametrize("raw", ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000",
                                 "0086-13800138000", "8613800138000", "(+86)138.0013.8000"])
def test_mobile_numbers_are_normalised_from_the_ways_people_type_them(raw):
    assert normalise_phone(raw) == "13800138000"


@pytest.mark.parametrize("raw", ["", "12800138000", "1380013800", "138****8000", "010-12345678", "138001380001"])
def test_numbers_that_are_not_mainland_mobiles_are_refused_with_a_reason(raw):
    with pytest.raises(OrderError, match="手机号码不对"):
        normalise_phone(raw)


def test_an_order_takes_stock_freezes_the_price_and_records_history_and_audit(session, people):
    product = factories.product(session, people["farmer"], name="富硒大米", price_fen=2550, stock=10)
    order = log(session, people["coordinator"], product, quantity=3, buyer_phone="+86 139-1234-5678")

    assert (order.status, order.unit_price_fen, order.total_fen, order.unit) == ("new", 2550, 7650, "斤")
    assert order.buyer_phone == "13912345678"
    assert order.farmer_id == people["farmer"].id and order.logged_by_id == people["coordinator"].id
    assert stock_of(session, product) == 7
    # The database's orders_logged trigger (migrations 0004, 0016) writes both rows from the new order,
    # the stock row's reason as a code and values.
    change = session.scalars(select(ProductChange).where(ProductChange.product_id == product.id)).one()
    assert (change.field, change.old_value, change.new_value, change.reason) == ("stock", 10, 7, "")
    assert (change.reason_code, change.reason_args) == ("order_logged", {"id": order.id})
    assert (change.changed_by_id, change.changed_at) == (people["coordinator"].id, order.created_at)
    event = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)).one()
    assert (event.from_status, event.to_status, event.actor_id) == (None, "new", people["coordinator"].id)
    assert (event.at, event.note, event.note_code) == (order.created_at, "", None)

    # A later price change does not touch the logged order.
    product.price_fen = 9900
    session.commit()
    session.refresh(order)
    assert order.total_fen == 7650


def test_the_promotional_price_applies_only_inside_its_window(session, people):
    now = utcnow()
    product = factories.product(session, people["farmer"], price_fen=3000, promo_price_fen=1990,
                                promo_starts_at=now - timedelta(hours=1), promo_ends_at=now + timedelta(hours=1))
    inside = log(session, people["farmer"], product, quantity=1, now=now)
    after = log(session, people["farmer"], product, quantity=1, now=now + timedelta(hours=2))
    assert (inside.total_fen, after.total_fen) == (1990, 3000)


def test_short_stock_is_refused_and_changes_nothing(session, people):
    product = factories.product(session, people["farmer"], name="土鸡蛋", unit="盒", stock=2)
    with pytest.raises(OutOfStock, match="库存不足：土鸡蛋 只剩 2 盒"):
        log(session, people["farmer"], product, quantity=3)
    session.rollback()
    assert stock_of(session, product) == 2
    assert session.scalars(select(ProductChange)).all() == []


def test_cancelling_returns_the_stock_and_is_audited(session, people):
    product = factories.product(session, people["farmer"], stock=10)
    order = log(session, people["farmer"], product, quantity=4)
    orders.cancel_order(session, actor=people["coordinator"], order_id=order.id)
    session.commit()
    assert order.status == "cancelled"
    assert stock_of(session, product) == 10
    reasons = session.execute(select(ProductChange.reason_code, ProductChange.reason_args).order_by(ProductChange.id)).all()
    assert [tuple(r) for r in reasons] == [("order_logged", {"id": order.id}), ("order_cancelled", {"id": order.id})]
    trail = [(e.from_status, e.to_status) for e in session.scalars(select(OrderEvent).order_by(OrderEvent.id))]
    assert trail == [(None, "new"), ("new", "cancelled")]
    with pytest.raises(WrongState):
        orders.cancel_order(session, actor=people["coordinator"], order_id=order.id)


def test_the_same_platform_order_number_is_one_order(session, people):
    product = factories.product(session, people["farmer"], stock=10)
    first = log(session, people["farmer"], product, channel="taobao", platform_order_no="TB1001")
    with pytest.raises(DuplicateOrder) as caught:
        log(session, people["farmer"], product, channel="taobao", platform_order_no=" TB1001 ")
    assert caught.value.existing_id == first.id
    assert "已经登记过" in str(caught.value)
    session.rollback()
    # Another channel may reuse the number; the stock was taken only for the real orders.
    log(session, people["farmer"], product, channel="douyin", platform_order_no="TB1001")
    assert stock_of(session, product) == 6


def test_a_farmer_logs_orders_only_for_their_own_products_and_sees_only_theirs(session, people):
    mine = factories.product(session, people["farmer"])
    theirs = factories.product(session, people["other_farmer"])
    with pytest.raises(NotFound):
        log(session, people["farmer"], theirs)
    session.rollback()
    own = log(session, people["farmer"], mine)
    other = log(session, people["coordinator"], theirs)
    assert [o.id for o in orders.list_orders(session, people["farmer"])] == [own.id]
    with pytest.raises(NotFound):
        orders.get_order(session, people["farmer"], other.id)
    assert {o.id for o in orders.list_orders(session, people["coordinator"])} == {own.id, other.id}


def test_what_logging_answers_is_the_api_form_of_the_stored_order(session, people):
    product = factories.product(session, people["farmer"], name="蜂蜜", unit="瓶", price_fen=4800, stock=5)
    answer = orders.log_order(session, actor=people["coordinator"], product_id=product.id, quantity=2,
                              buyer_name="王五", buyer_phone="13912345678", address="河北省邢台市巨鹿县 1 号",
                              channel="taobao", platform_order_no="TB77", packages=2)
    session.commit()
    session.expunge_all()
    assert answer == orders.order_to_dict(session.get(Order, answer["id"]))
    assert (answer["product_name"], answer["farmer"], answer["logged_by"]) == ("蜂蜜", "wang", "coord")


def test_nothing_is_taken_for_a_product_the_actor_may_not_sell_or_that_is_off_sale(session, people):
    theirs = factories.product(session, people["other_farmer"], stock=5)
    off_sale = factories.product(session, people["farmer"], name="旧米", stock=5, active=False)
    with pytest.raises(NotFound):
        log(session, people["farmer"], theirs, quantity=1)
    session.rollback()
    with pytest.raises(OrderError, match="旧米 已下架"):
        log(session, people["coordinator"], off_sale, quantity=1)
    session.rollback()
    with pytest.raises(NotFound):
        log(session, people["coordinator"], Product(id=999_999), quantity=1)
    session.rollback()
    assert (stock_of(session, theirs), stock_of(session, off_sale)) == (5, 5)
    assert session.scalars(select(ProductChange)).all() == []


def test_partners_and_trainers_may_not_log_orders(session, people):
    product = factories.product(session, people["farmer"])
    for role in ("partner", "trainer"):
        with pytest.raises(NotAllowed):
            log(session, people[role], product)
    with pytest.raises(NotAllowed):
        orders.list_orders(session, people["trainer"])


def test_bad_input_is_refused_with_a_reason(session, people):
    product = factories.product(session, people["farmer"])
    cases = [
        (dict(quantity=0), "数量"),
        (dict(buyer_name="  "), "收货人"),
        (dict(address=""), "地址"),
        (dict(channel="ebay"), "未知渠道"),
        (dict(buyer_phone="12345"), "手机号码不对"),
        (dict(session_id=999), "直播场次"),
    ]
    for values, message in cases:
        with pytest.raises(OrderError, match=message):
            log(session, people["farmer"], product, **values)


def test_editing_an_order_adjusts_stock_and_is_refused_once_frozen(session, people):
    product = factories.product(session, people["farmer"], stock=10, price_fen=1000)
    order = log(session, people["coordinator"], product, quantity=2)
    orders.update_order(session, actor=people["coordinator"], order_id=order.id, quantity=5,
                        address="新地址 8 号", packages=2)
    session.commit()
    assert (order.quantity, order.total_fen, order.address, order.packages) == (5, 5000, "新地址 8 号", 2)
    assert stock_of(session, product) == 5
    orders.update_order(session, actor=people["coordinator"], order_id=order.id, quantity=1)
    session.commit()
    assert stock_of(session, product) == 9
    with pytest.raises(OutOfStock):
        orders.update_order(session, actor=people["coordinator"], order_id=order.id, quantity=50)
    session.rollback()

    handoff = factories.handoff(session, [order], people["coordinator"], people["partner"])
    for attempt in (
        lambda: orders.update_order(session, actor=people["coordinator"], order_id=order.id, address="x"),
        lambda: orders.cancel_order(session, actor=people["coordinator"], order_id=order.id),
    ):
        with pytest.raises(OrderFrozen, match=f"交接单 #{handoff.id}") as caught:
            attempt()
        assert caught.value.handoff_id == handoff.id
    assert stock_of(session, product) == 9


def test_session_totals_count_orders_of_one_live_session_without_cancelled_ones(session, people):
    live = LiveSession(host_id=people["farmer"].id)
    session.add(live)
    session.commit()
    product = factories.product(session, people["farmer"], price_fen=1000)
    log(session, people["farmer"], product, quantity=2, session_id=live.id)
    cancelled = log(session, people["farmer"], product, quantity=1, session_id=live.id)
    log(session, people["farmer"], product, quantity=7)
    orders.cancel_order(session, actor=people["farmer"], order_id=cancelled.id)
    session.commit()
    assert orders.session_totals(session, live.id) == (1, 2000)
    assert orders.session_totals(session, live.id + 1) == (0, 0)
