"""merge catalog, orders and live branches

Revision ID: 0003
Revises: 0002_catalog, 0002_live, 0002_orders
Create Date: 2026-11-23 14:55:34.427956
"""
from alembic import op
import sqlalchemy as sa
import db


revision = '0003'
down_revision = ('0002_catalog', '0002_live', '0002_orders')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
