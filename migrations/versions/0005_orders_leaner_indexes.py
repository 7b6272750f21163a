"""orders and product history: one index per query, so that each new order writes fewer pages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:00:00

A new order wrote 14 database pages; each index is one of them. Here:
- ``orders.product_id``: no query selects orders by product (products are never deleted) → gone;
- ``orders.session_id`` and ``orders.handoff_id``: looked up only by a given session or batch, so
  the index leaves out orders without one (a new order is in no batch);
- ``product_changes``: the only query is one product's history, newest first → one index on
  (product_id, changed_at) instead of one on each.
Indexes only, no table is rebuilt: the orders_logged trigger (0004) stays.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _set_only(column: str) -> None:
    where = sa.text(f"{column} IS NOT NULL")
    op.create_index(f"ix_orders_{column}", "orders", [column], sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    op.drop_index("ix_orders_product_id", table_name="orders")
    for column in ("session_id", "handoff_id"):
        op.drop_index(f"ix_orders_{column}", table_name="orders")
        _set_only(column)
    op.drop_index("ix_product_changes_changed_at", table_name="product_changes")
    op.drop_index("ix_product_changes_product_id", table_name="product_changes")
    op.create_index("ix_product_changes_product_id_changed_at", "product_changes", ["product_id", "changed_at"])


def downgrade() -> None:
    op.drop_index("ix_product_changes_product_id_changed_at", table_name="product_changes")
    op.create_index("ix_product_changes_product_id", "product_changes", ["product_id"])
    op.create_index("ix_product_changes_changed_at", "product_changes", ["changed_at"])
    for column in ("session_id", "handoff_id"):
        op.drop_index(f"ix_orders_{column}", table_name="orders")
        op.create_index(f"ix_orders_{column}", "orders", [column])
    op.create_index("ix_orders_product_id", "orders", ["product_id"])
