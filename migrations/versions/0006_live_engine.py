"""live engine: the session row holds what is on screen, its station and worker; recordings by row

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:00:00

The broadcast now runs in a worker process that outlives the web server, so the session row
must carry everything needed to reattach or to close it after a crash: the station it runs on,
the worker's key, when it was last seen alive, why it ended abnormally, and the on-screen state
(product, promo, QR code, countdown, layout) from which the overlay scene is derived. Recording
files become rows added as each opens, instead of a text column written only at stop (a
``kill -9`` left sessions with no recording listed). Existing text values are moved into rows.
"""
from alembic import op
import sqlalchemy as sa

from db import UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("live_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("session_id", "path"),
    )
    op.create_index("ix_recordings_session_id", "recordings", ["session_id"])
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, recordings, started_at FROM live_sessions")).all()
    recordings = sa.table("recordings", sa.column("session_id"), sa.column("path"), sa.column("opened_at"))
    for session_id, text, started_at in rows:
        paths = list(dict.fromkeys(p for p in (text or "").splitlines() if p))
        if paths:
            conn.execute(recordings.insert(), [{"session_id": session_id, "path": p, "opened_at": started_at}
                                               for p in paths])
    with op.batch_alter_table("live_sessions") as batch:
        batch.drop_column("recordings")
        batch.add_column(sa.Column("station_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("last_seen_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("end_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("preset", sa.String(16), nullable=False, server_default="720p30"))
        batch.add_column(sa.Column("layout", sa.String(16), nullable=False, server_default="landscape"))
        batch.add_column(sa.Column("worker_key", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("product_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("show_promo", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("qr_on", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("qr_text", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("countdown_ends_at", UTCDateTime(), nullable=True))
        batch.create_foreign_key("fk_live_sessions_product_id_products", "products", ["product_id"], ["id"])
        batch.create_index("ix_live_sessions_station_id", ["station_id"])


def downgrade() -> None:
    with op.batch_alter_table("live_sessions") as batch:
        batch.drop_index("ix_live_sessions_station_id")
        batch.drop_constraint("fk_live_sessions_product_id_products", type_="foreignkey")
        for column in ("countdown_ends_at", "qr_text", "qr_on", "show_promo", "product_id", "worker_key", "layout",
                       "preset", "end_reason", "last_seen_at", "station_id"):
            batch.drop_column(column)
        batch.add_column(sa.Column("recordings", sa.Text(), nullable=False, server_default=""))
    conn = op.get_bind()
    for session_id, path in conn.execute(sa.text("SELECT session_id, path FROM recordings ORDER BY id")).all():
        conn.execute(sa.text("UPDATE live_sessions SET recordings = CASE WHEN recordings = '' THEN :p "
                             "ELSE recordings || :nl || :p END WHERE id = :id"), {"p": path, "nl": "\n", "id": session_id})
    op.drop_index("ix_recordings_session_id", table_name="recordings")
    op.drop_table("recordings")
