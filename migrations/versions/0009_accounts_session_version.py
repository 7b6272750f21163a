"""accounts: a session version per user, bumped by logout, so that a replayed cookie stops working

Revision ID: 0009_accounts_session_version
Revises: 0008
Create Date: 2026-12-01 23:30:00

The session cookie is signed, not stored: before this, a copy of it kept working after logout.
The login now records the user's ``session_version`` in the cookie and every request compares it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
