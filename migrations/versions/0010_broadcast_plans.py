"""broadcast plans and one run record per occurrence

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:00:00

Plans are the truth the scheduler works from (it only wakes up); each occurrence gets one run
record, unique per (plan, slot), so a repeating plan never runs twice for one slot.
"""
from alembic import op
import sqlalchemy as sa

from db import UTCDateTime


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcast_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("host_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.String(32), nullable=False),
        sa.Column("lineup", sa.JSON(), nullable=False),
        sa.Column("video", sa.String(255), nullable=False),
        sa.Column("audio", sa.String(255), nullable=False),
        sa.Column("destinations", sa.JSON(), nullable=True),
        sa.Column("preset", sa.String(16), nullable=False),
        sa.Column("layout", sa.String(16), nullable=False),
        sa.Column("qr_text", sa.String(255), nullable=False),
        sa.Column("auto_start", sa.Boolean(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_broadcast_plans_station_id", "broadcast_plans", ["station_id"])
    op.create_index("ix_broadcast_plans_host_id", "broadcast_plans", ["host_id"])
    op.create_table(
        "plan_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("broadcast_plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("planned_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("late_s", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("live_sessions.id"), nullable=True),
        sa.Column("preflight", sa.JSON(), nullable=True),
        sa.Column("preflight_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("plan_id", "planned_at"),
    )
    op.create_index("ix_plan_runs_plan_id", "plan_runs", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_runs_plan_id", "plan_runs")
    op.drop_table("plan_runs")
    op.drop_index("ix_broadcast_plans_host_id", "broadcast_plans")
    op.drop_index("ix_broadcast_plans_station_id", "broadcast_plans")
    op.drop_table("broadcast_plans")
