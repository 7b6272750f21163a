"""host profiles remember the product recognition mode (off / suggest / follow)

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02 02:20:00

The mode a host picked on the console is where their next live starts, and where a live that a
restarted server takes over continues. Existing hosts start with recognition off, as before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("host_profiles") as batch:
        batch.add_column(sa.Column("recognition", sa.String(length=8), nullable=False, server_default="off"))


def downgrade() -> None:
    with op.batch_alter_table("host_profiles") as batch:
        batch.drop_column("recognition")
