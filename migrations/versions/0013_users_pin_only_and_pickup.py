"""users: PIN-only farmers (no password) and a pick-up address and phone for hand-offs

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:00:00

A farmer who logs in only with a PIN on the village PC has no password: password_hash becomes
nullable (a null hash matches no password). The aid partner picks parcels up at a farmer's or the
station's address and calls its phone: both are kept on the user, empty until the admin sets them.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.alter_column("password_hash", existing_type=sa.String(255), nullable=True)
        batch.add_column(sa.Column("phone", sa.String(20), nullable=False, server_default=""))
        batch.add_column(sa.Column("pickup_address", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    # A PIN-only farmer gets a hash no password matches, so the column can be NOT NULL again.
    op.execute(sa.text("UPDATE users SET password_hash = '!' WHERE password_hash IS NULL"))
    with op.batch_alter_table("users") as batch:
        batch.drop_column("pickup_address")
        batch.drop_column("phone")
        batch.alter_column("password_hash", existing_type=sa.String(255), nullable=False)
