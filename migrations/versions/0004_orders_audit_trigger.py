"""orders: the database writes a new order's first audit event and its stock history row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:55:00

Logging an order is the hot path of a live broadcast, and two of its four statements only copied
values of the new order into the audit trail. An AFTER INSERT trigger now writes them inside the
INSERT itself: two statements fewer per order in Python, and no code path that inserts an order
can leave out its trail.

The trigger reads the product's stock as the order's own transaction left it, so it relies on
``orders.services.log_order`` (the only code that inserts orders) having taken the stock first.

On SQLite, ``batch_alter_table("orders")`` rebuilds the table and loses its triggers: a later
migration that does so must create this trigger again (tests/test_orders_services.py checks that
the trail is written at the head revision).
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Both statements copy the new row; they are the same on both databases apart from the cast.
_EVENT = """
    INSERT INTO order_events (order_id, from_status, to_status, actor_id, at, note)
    VALUES (NEW.id, NULL, NEW.status, NEW.logged_by_id, NEW.created_at, '');
"""
_STOCK = """
    INSERT INTO product_changes (product_id, field, old_value, new_value, reason, changed_by_id, changed_at)
    SELECT NEW.product_id, 'stock', products.stock + NEW.quantity, products.stock,
           '订单 #' || {id_text}, NEW.logged_by_id, NEW.created_at
    FROM products WHERE products.id = NEW.product_id;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION orders_logged() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            + _EVENT + _STOCK.format(id_text="NEW.id::text")
            + " RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER orders_logged AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_logged()"
        )
    else:
        op.execute(
            "CREATE TRIGGER orders_logged AFTER INSERT ON orders FOR EACH ROW BEGIN"
            + _EVENT + _STOCK.format(id_text="NEW.id") + " END"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS orders_logged" + (" ON orders" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS orders_logged()")
