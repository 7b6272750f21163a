"""clips: one row per product segment and shape cut from a session's recording, with its progress

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:00:00

Clip export runs in the background and must survive a restart: the row, not the worker's memory,
says what is queued, running (put back to pending at start-up), done (its file exists) or failed.
"""
from alembic import op
import sqlalchemy as sa

from db import UTCDateTime


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clips",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("live_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("aspect", sa.String(8), nullable=False),
        sa.Column("plan_start_s", sa.Float(), nullable=False),
        sa.Column("plan_end_s", sa.Float(), nullable=False),
        sa.Column("trimmed", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("session_id", "product_id", "seq", "aspect"),
    )
    op.create_index("ix_clips_session_id", "clips", ["session_id"])
    op.create_index("ix_clips_state", "clips", ["state"])


def downgrade() -> None:
    op.drop_index("ix_clips_state", table_name="clips")
    op.drop_index("ix_clips_session_id", table_name="clips")
    op.drop_table("clips")
