"""Products, prices, promotions, stock and their history, through the catalog's operations."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from catalog import services
from catalog.errors import DuplicateSku, InvalidProduct, NotAllowed, OutOfStock, ProductNotFound, UnknownFarmer
from catalog.models import Product, ProductChange
from tests import factories


@pytest.fixture
def people(session):
    return {
        "coord": factories.user(session, "coordinator", "zhang"),
        "wang": factories.user(session, "farmer", "wang", display_name="王大姐"),
        "li": factories.user(session, "farmer", "li", display_name="李大哥"),
        "partner": factories.user(session, "partner", "ship"),
    }


def make(session, people, **kw):
    values = {"actor": people["coord"], "farmer": "wang", "name": "五常大米", "unit": "袋", "price_fen": 5990, "stock": 20}
    values.update(kw)
    product = services.create_product(session, **values)
    session.commit()
    return product


def test_coordinator_creates_a_product_with_a_generated_sku_and_history(session, people):
    product = make(session, people)
    assert product.sku.startswith("CB") and len(product.sku) == 8
    assert product.farmer.username == "wang"
    assert (product.name_pinyin, product.name_initials) == ("wuchangdami", "wcdm")
    changes = session.scalars(select(ProductChange).order_by(ProductChange.field)).all()
    assert [(c.field, c.old_value, c.new_value, c.changed_by_id) for c in changes] == [
        ("price_fen", None, 5990, people["coord"].id), ("stock", None, 20, people["coord"].id)
    ]


def test_farmer_is_found_by_display_name_and_defaults_to_the_station(session, people):
    assert make(session, people, farmer="王大姐").farmer_id == people["wang"].id
    assert make(session, people, farmer=None).farmer_id == people["coord"].id


@pytest.mark.parametrize(
    "changes, field, reason",
    [
        ({"name": ""}, "name", "名称不能为空"),
        ({"name": "好" * 41}, "name", "最多 40"),
        ({"unit": ""}, "unit", "单位不能为空"),
        ({"unit": "一个很长很长的单位啊"}, "unit", "最多 8"),
        ({"price_fen": -1}, "price_fen", "负数"),
        ({"price_fen": "25"}, "price_fen", "整数"),
        ({"stock": -3}, "stock", "负数"),
        ({"stock": 1.5}, "stock", "整数"),
        ({"link_no": 0}, "link_no", "最小是 1"),
        ({"promo_price_fen": 9000}, "promo_price_fen", "不能高于单价"),
        ({"sku": "A 01"}, "sku", "只能用字母"),
        ({"name": "小米\x07"}, "name", "控制字符"),
    ],
)
def test_bad_fields_are_refused_with_the_field_and_a_reason(session, people, changes, field, reason):
    with pytest.raises(InvalidProduct, match=reason) as exc:
        make(session, people, **changes)
    assert exc.value.field == field
    session.rollback()
    assert session.scalar(select(Product.id)) is None


def test_promotion_window_must_end_after_it_starts(session, people):
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    with pytest.raises(InvalidProduct, match="晚于开始"):
        make(session, people, promo_price_fen=4990, promo_starts_at=start, promo_ends_at=start)


def test_duplicate_sku_unknown_farmer_and_non_managers_are_refused(session, people):
    make(session, people, sku="A001")
    with pytest.raises(DuplicateSku):
        make(session, people, sku="A001")
    with pytest.raises(UnknownFarmer, match="找不到农户 nobody"):
        make(session, people, farmer="nobody")
    with pytest.raises(UnknownFarmer, match="不是农户"):
        make(session, people, farmer="ship")
    with pytest.raises(NotAllowed):
        make(session, people, actor=people["wang"])


def test_update_records_price_changes_and_sets_stock_atomically(session, people):
    product = make(session, people)
    changed = services.update_product(
        session, product, people["coord"], reason="涨价", price_fen=6290, stock=15, origin="黑龙江五常", name="东北大米"
    )
    session.commit()
    assert set(changed) == {"price_fen", "stock", "origin", "name"}
    fresh = services.get_product(session, product.id)
    assert (fresh.price_fen, fresh.stock, fresh.name_initials) == (6290, 15, "dbdm")
    latest = services.history(session, product.id)
    assert {(c.field, c.old_value, c.new_value, c.reason) for c in latest[:2]} == {
        ("price_fen", 5990, 6290, "涨价"), ("stock", 20, 15, "涨价")
    }
    assert services.update_product(session, product, people["coord"], price_fen=6290) == []


def test_update_can_move_a_product_to_another_farmer_but_not_to_a_taken_sku(session, people):
    make(session, people, sku="A001")
    product = make(session, people, sku="A002")
    assert services.update_product(session, product, people["coord"], farmer="li") == ["farmer"]
    with pytest.raises(DuplicateSku):
        services.update_product(session, product, people["coord"], sku="A001")


def test_adjust_stock_refuses_to_go_negative_and_keeps_history(session, people):
    product = make(session, people, stock=5)
    assert services.adjust_stock(session, product.id, -3, people["wang"], "订单 #1") == 2
    assert product.stock == 2  # the loaded object follows the SQL
    with pytest.raises(OutOfStock, match="现有 2，需要 3") as exc:
        services.adjust_stock(session, product.id, -3, people["wang"], "订单 #2")
    assert exc.value.available == 2
    session.commit()
    assert services.get_product(session, product.id).stock == 2
    assert [(c.old_value, c.new_value, c.reason) for c in services.history(session, product.id)][0] == (5, 2, "订单 #1")
    with pytest.raises(ProductNotFound):
        services.adjust_stock(session, 9999, 1, people["coord"], "")


def test_concurrent_stock_decrements_lose_nothing_and_never_oversell(app, session, people):
    product = make(session, people, stock=50)
    factory = app.extensions["cunbo.sessions"]
    sold, refused = [], []

    def buyer() -> None:
        for _ in range(10):
            with factory() as s:
                try:
                    services.adjust_stock(s, product.id, -1, None, "并发测试")
                    s.commit()
                    sold.append(1)
                except OutOfStock:
                    s.rollback()
                    refused.append(1)

    threads = [threading.Thread(target=buyer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    session.expire_all()
    assert len(sold) == 50 and len(refused) == 30
    assert services.get_product(session, product.id).stock == 0
    assert session.query(ProductChange).filter_by(field="stock", reason="并发测试").count() == 50


def test_bulk_adjust_is_all_or_nothing(session, people):
    a = make(session, people, stock=5)
    b = make(session, people, stock=1)
    with pytest.raises(OutOfStock):
        services.adjust_stocks(session, {a.id: 10, b.id: -2}, people["coord"], "盘点")
    session.rollback()
    assert (services.get_product(session, a.id).stock, services.get_product(session, b.id).stock) == (5, 1)
    assert services.adjust_stocks(session, {a.id: 10, b.id: -1}, people["coord"], "盘点") == {a.id: 15, b.id: 0}


def test_farmers_see_only_their_own_products(session, people):
    mine = make(session, people, farmer="wang")
    make(session, people, farmer="li")
    assert [p.id for p in services.list_products(session, viewer=people["wang"])] == [mine.id]
    assert len(services.list_products(session, viewer=people["coord"])) == 2
    assert services.list_products(session, viewer=people["partner"]) == []
    with pytest.raises(ProductNotFound):
        services.get_product(session, mine.id, viewer=people["li"])


def test_search_by_name_sku_english_and_pinyin_initials(session, people):
    rice = make(session, people, name="五常大米", sku="RICE-1", name_en="Wuchang rice")
    millet = make(session, people, name="小米", sku="MIL-1")
    make(session, people, name="重庆小面", sku="NOODLE")
    viewer = people["coord"]

    def found(q):
        return {p.id for p in services.list_products(session, viewer=viewer, q=q)}

    assert found("大米") == {rice.id}
    assert found("xm") == {millet.id}
    assert found("XM") == {millet.id}
    assert found("ｘｍ") == {millet.id}  # full-width letters from a Chinese keyboard
    assert found("xiaomi") == {millet.id} | {p.id for p in services.list_products(session, viewer=viewer, q="面")}
    assert found("rice") == {rice.id}
    assert found("mil-") == {millet.id}
    assert found("%") == set()  # LIKE wildcards are plain text


def test_filter_by_farmer_and_active_and_sort(session, people):
    make(session, people, name="苹果", price_fen=800, farmer="wang")
    make(session, people, name="核桃", price_fen=3000, farmer="li", active=False)
    make(session, people, name="蜂蜜", price_fen=6800, farmer="wang")
    viewer = people["coord"]
    names = lambda **kw: [p.name for p in services.list_products(session, viewer=viewer, **kw)]  # noqa: E731
    assert names() == ["蜂蜜", "核桃", "苹果"]  # by pinyin: fengmi, hetao, pingguo
    assert names(sort="-price") == ["蜂蜜", "核桃", "苹果"]
    assert names(sort="price") == ["苹果", "核桃", "蜂蜜"]
    assert names(farmer="wang") == ["蜂蜜", "苹果"]
    assert names(active=False) == ["核桃"]
    assert services.count_products(session, viewer=viewer, farmer="wang") == 2
    assert names(limit=1, offset=1) == ["核桃"]


def test_product_dict_has_the_api_shape_and_the_price_in_force(session, people):
    now = datetime.now(timezone.utc)
    product = make(session, people, sku="A1", link_no=7, promo_price_fen=4990,
                   promo_starts_at=now - timedelta(hours=1), promo_ends_at=now + timedelta(hours=1))
    data = services.product_to_dict(product)
    assert {k: data[k] for k in ("sku", "name", "unit", "price_fen", "promo_price_fen", "stock", "link_no", "farmer")} == {
        "sku": "A1", "name": "五常大米", "unit": "袋", "price_fen": 5990, "promo_price_fen": 4990,
        "stock": 20, "link_no": 7, "farmer": "wang",
    }
    assert data["price_now_fen"] == 4990
    assert services.product_to_dict(product, now=now + timedelta(hours=2))["price_now_fen"] == 5990
    assert data["promo_ends_at"].endswith("+00:00")


def test_product_changes_are_published_once_the_outer_transaction_commits(session):
    """A savepoint (a duplicate order number's retry, an import's row) publishes nothing by
    itself, and rolling one back keeps what the transaction changed before it."""
    from catalog import changes

    farmer = factories.user(session, "farmer", "pub")
    first = factories.product(session, farmer, name="小米")
    second = factories.product(session, farmer, name="蜂蜜")
    published: list[frozenset[int]] = []
    changes.subscribe(published.append)
    try:
        changes.touched(session, (first.id,))
        with session.begin_nested():
            changes.touched(session, (second.id,))
        assert published == [], "a released savepoint is not a commit"
        savepoint = session.begin_nested()
        changes.touched(session, (second.id,))
        savepoint.rollback()
        session.commit()
        assert published == [frozenset({first.id, second.id})]
        services.adjust_stock(session, first.id, 5, farmer, "到货")
        session.rollback()
        session.commit()
        assert len(published) == 1, "a rolled-back change is never published"
    finally:
        changes.unsubscribe(published.append)
