"""catalog: pinyin search and sort keys for product names

Revision ID: 0002_catalog
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_catalog'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_pinyin', sa.String(length=240), server_default='', nullable=False))
        batch_op.add_column(sa.Column('name_initials', sa.String(length=40), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_products_name_pinyin'), ['name_pinyin'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_name_pinyin'))
        batch_op.drop_column('name_initials')
        batch_op.drop_column('name_pinyin')
