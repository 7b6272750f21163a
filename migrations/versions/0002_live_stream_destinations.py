"""stream destinations and host profiles

Revision ID: 0002_live
Revises: 0001
Create Date: 2026-11-23 14:30:00
"""
from alembic import op
import sqlalchemy as sa
import db


revision = "0002_live"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_destinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=24), nullable=False),
        sa.Column("server_url", sa.String(length=255), nullable=False),
        sa.Column("stream_key", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_stream_destinations_owner_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_destinations")),
    )
    with op.batch_alter_table("stream_destinations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_destinations_owner_id"), ["owner_id"], unique=False)
    op.create_table(
        "host_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("video", sa.String(length=255), nullable=False),
        sa.Column("audio", sa.String(length=255), nullable=False),
        sa.Column("preset", sa.String(length=16), nullable=False),
        sa.Column("layout", sa.String(length=16), nullable=False),
        sa.Column("qr_text", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_host_profiles_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_host_profiles")),
    )


def downgrade() -> None:
    op.drop_table("host_profiles")
    with op.batch_alter_table("stream_destinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_destinations_owner_id"))
    op.drop_table("stream_destinations")
