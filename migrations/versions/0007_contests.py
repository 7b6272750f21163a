"""contests: contests, participants, views/likes entries, trainer decisions; orders by farmer and time

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 23:00:00

A contest's board is one aggregate over its participants' orders inside the window, so
``orders.farmer_id``'s index becomes (farmer_id, created_at) followed by every other column the
board reads (status, total_fen, product_id, buyer_phone; on PostgreSQL also the id, as INCLUDE):
still one index per new order (no extra
index page written, bench/orders.py), and the board reads each participant's window as one range
of the index without visiting the table. ``ix_orders_session_id`` gains created_at, so the orders
logged after a contest closed for a broadcast inside it are found in the index too
(bench/leaderboard.py: p99 at 1M orders went from 203 ms to the figures in the README). Indexes only: the orders table is not
rebuilt, so the orders_logged trigger (0004) stays.
"""
from alembic import op
import sqlalchemy as sa

import db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


BOARD_COLUMNS = ["farmer_id", "created_at", "status", "total_fen", "product_id", "buyer_phone"]
_SET = sa.text("session_id IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_orders_farmer_id_created_at", "orders", BOARD_COLUMNS, postgresql_include=["id"])
    op.drop_index("ix_orders_farmer_id", table_name="orders")
    op.drop_index("ix_orders_session_id", table_name="orders")
    op.create_index("ix_orders_session_id", "orders", ["session_id", "created_at"], sqlite_where=_SET,
                    postgresql_where=_SET)

    op.create_table(
        "contests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("starts_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("weight_views", sa.Float(), nullable=False),
        sa.Column("weight_likes", sa.Float(), nullable=False),
        sa.Column("weight_orders", sa.Float(), nullable=False),
        sa.Column("weight_gmv", sa.Float(), nullable=False),
        sa.Column("rank_step", sa.Float(), nullable=False),
        sa.Column("freeze_min", sa.Integer(), nullable=True),
        sa.Column("poverty_counties", sa.Text(), nullable=False),
        sa.Column("poverty_multiplier", sa.Float(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("metric IN ('gmv', 'orders', 'fulfilled_gmv', 'weighted')", name=op.f("ck_contests_metric")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_contests_window")),
        sa.CheckConstraint("rank_step >= 0", name=op.f("ck_contests_rank_step_not_negative")),
        sa.CheckConstraint("freeze_min IS NULL OR freeze_min > 0", name=op.f("ck_contests_freeze_positive")),
        sa.CheckConstraint("poverty_multiplier >= 1", name=op.f("ck_contests_multiplier_at_least_one")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_contests_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contests")),
    )
    op.create_index(op.f("ix_contests_created_by_id"), "contests", ["created_by_id"])

    op.create_table(
        "contest_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], ondelete="CASCADE",
                                name=op.f("fk_contest_participants_contest_id_contests")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contest_participants_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_participants")),
        sa.UniqueConstraint("contest_id", "user_id", name="uq_contest_participants_contest_user"),
    )
    op.create_index(op.f("ix_contest_participants_user_id"), "contest_participants", ["user_id"])

    op.create_table(
        "contest_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("views >= 0 AND likes >= 0", name=op.f("ck_contest_entries_counts_not_negative")),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], ondelete="CASCADE",
                                name=op.f("fk_contest_entries_contest_id_contests")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contest_entries_user_id_users")),
        sa.ForeignKeyConstraint(["session_id"], ["live_sessions.id"],
                                name=op.f("fk_contest_entries_session_id_live_sessions")),
        sa.ForeignKeyConstraint(["entered_by_id"], ["users.id"], name=op.f("fk_contest_entries_entered_by_id_users")),
        sa.ForeignKeyConstraint(["verified_by_id"], ["users.id"],
                                name=op.f("fk_contest_entries_verified_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_entries")),
    )
    op.create_index("ix_contest_entries_contest_id_user_id", "contest_entries", ["contest_id", "user_id"])

    op.create_table(
        "contest_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("at", db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('points', 'disqualify_order', 'accept_order', 'disqualify', 'reinstate')",
            name=op.f("ck_contest_decisions_kind"),
        ),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], ondelete="CASCADE",
                                name=op.f("fk_contest_decisions_contest_id_contests")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contest_decisions_user_id_users")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_contest_decisions_order_id_orders")),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name=op.f("fk_contest_decisions_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_decisions")),
    )
    op.create_index("ix_contest_decisions_contest_id_at", "contest_decisions", ["contest_id", "at"])


def downgrade() -> None:
    op.drop_table("contest_decisions")
    op.drop_table("contest_entries")
    op.drop_table("contest_participants")
    op.drop_table("contests")
    op.drop_index("ix_orders_session_id", table_name="orders")
    op.create_index("ix_orders_session_id", "orders", ["session_id"], sqlite_where=_SET, postgresql_where=_SET)
    op.create_index("ix_orders_farmer_id", "orders", ["farmer_id"])
    op.drop_index("ix_orders_farmer_id_created_at", table_name="orders")
