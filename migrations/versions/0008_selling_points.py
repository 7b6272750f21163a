"""catalog: each product's 卖点 (selling points), shown to the host beside the live preview

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00

Three to five short lines per product, one per line, that the host reads while the product is on
the video (never drawn on the video) and can print as 手卡 cards. Plain text; empty by default.
The lead re-points ``down_revision`` when the other 0007/0008 branches are merged.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("selling_points", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("selling_points")
