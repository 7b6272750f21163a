"""segments keep where the product was found in the picture (for 9:16 clips centred on it)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 23:59:00

When recognition switches the card, the segment it opens records the centre of the product's box
in the frame, as shares of width and height (0–1, resolution-free: the layout may change during a
live). Null when the card was chosen by a tap and nothing was recognised.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("position_x", sa.Float(), nullable=True))
        batch.add_column(sa.Column("position_y", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("position_y")
        batch.drop_column("position_x")
