"""history notes the system writes are a code and values, shown in the reader's language

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:40:00

Product history reasons (新建商品, 订单 #12, 取消订单 #12 …) and order trail notes (交接单 #1 → …,
发货方确认取件 …) were stored as Chinese text, so English pages showed them in Chinese.
``product_changes`` gains ``reason_code`` + ``reason_args`` and ``order_events`` gains
``note_code`` + ``note_args`` (codes of ``db.notes.NOTES``); existing rows whose text is one the
system wrote are converted (their text emptied), anything else stays as the person typed it.
The orders trigger of 0004 now writes the code of a logged order's stock row.

Adding a nullable column is a plain ALTER TABLE on both databases: no table is rebuilt, so the
trigger on ``orders`` is only replaced, not lost.
"""
from alembic import op
import sqlalchemy as sa

from db.notes import NOTES, parse


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_EVENT = """
    INSERT INTO order_events (order_id, from_status, to_status, actor_id, at, note)
    VALUES (NEW.id, NULL, NEW.status, NEW.logged_by_id, NEW.created_at, '');
"""
# What the logged order's stock row gets in its reason columns, coded (0016) or as 0004 wrote it.
_STOCK = """
    INSERT INTO product_changes (product_id, field, old_value, new_value, reason, {code_column}changed_by_id, changed_at)
    SELECT NEW.product_id, 'stock', products.stock + NEW.quantity, products.stock,
           {reason}, {code_value}NEW.logged_by_id, NEW.created_at
    FROM products WHERE products.id = NEW.product_id;
"""
_BATCH = 500


def _create_trigger(coded: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    id_text = "NEW.id::text" if postgresql else "NEW.id"
    if coded:
        args = "json_build_object('id', NEW.id)" if postgresql else """'{"id": ' || NEW.id || '}'"""
        stock = _STOCK.format(code_column="reason_code, reason_args, ", reason="''",
                              code_value=f"'order_logged', {args}, ")
    else:
        stock = _STOCK.format(code_column="", reason=f"'订单 #' || {id_text}", code_value="")
    if postgresql:
        op.execute(
            "CREATE FUNCTION orders_logged() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            + _EVENT + stock + " RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER orders_logged AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_logged()"
        )
    else:
        op.execute("CREATE TRIGGER orders_logged AFTER INSERT ON orders FOR EACH ROW BEGIN" + _EVENT + stock + " END")


def _drop_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS orders_logged ON orders")
        op.execute("DROP FUNCTION IF EXISTS orders_logged()")
    else:
        op.execute("DROP TRIGGER IF EXISTS orders_logged")


def _convert(table: str, text_column: str) -> None:
    """Parse each row's text; the ones the system wrote become a code and values."""
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column(text_column, sa.String),
                    sa.column(text_column + "_code", sa.String), sa.column(text_column + "_args", sa.JSON))
    bind = op.get_bind()
    last = 0
    while True:
        batch = bind.execute(
            sa.select(rows.c.id, rows.c[text_column])
            .where(rows.c.id > last, rows.c[text_column] != "")
            .order_by(rows.c.id).limit(_BATCH)
        ).all()
        if not batch:
            return
        last = batch[-1][0]
        found = [(row_id, parse(text)) for row_id, text in batch]
        coded = [{"row_id": row_id, "code": note.code, "args": note.args} for row_id, note in found if note]
        if coded:
            bind.execute(
                rows.update().where(rows.c.id == sa.bindparam("row_id")).values(
                    {text_column: "", text_column + "_code": sa.bindparam("code"),
                     text_column + "_args": sa.bindparam("args", type_=sa.JSON)}),
                coded,
            )


def _restore(table: str, text_column: str) -> None:
    """Downgrade: write the Chinese text back into rows that hold a code."""
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column(text_column, sa.String),
                    sa.column(text_column + "_code", sa.String), sa.column(text_column + "_args", sa.JSON))
    bind = op.get_bind()
    found = bind.execute(sa.select(rows.c.id, rows.c[text_column + "_code"], rows.c[text_column + "_args"])
                         .where(rows.c[text_column + "_code"].is_not(None))).all()
    restored = []
    for row_id, code, args in found:
        values = dict(args or {})
        if code == "order_changed":
            text = "修改 " + "; ".join(f"{c['field']}: {c['old']} → {c['new']}" for c in values.get("changes", []))
        else:
            try:
                text = NOTES[code] % values if "%(" in NOTES[code] else NOTES[code]
            except (KeyError, TypeError, ValueError):
                text = NOTES.get(code, code)
        restored.append({"row_id": row_id, "text": text})
    if restored:
        bind.execute(rows.update().where(rows.c.id == sa.bindparam("row_id"))
                     .values({text_column: sa.bindparam("text")}), restored)


def upgrade() -> None:
    op.add_column("product_changes", sa.Column("reason_code", sa.String(length=32), nullable=True))
    op.add_column("product_changes", sa.Column("reason_args", sa.JSON(), nullable=True))
    op.add_column("order_events", sa.Column("note_code", sa.String(length=32), nullable=True))
    op.add_column("order_events", sa.Column("note_args", sa.JSON(), nullable=True))
    _drop_trigger()
    _create_trigger(coded=True)
    _convert("product_changes", "reason")
    _convert("order_events", "note")


def downgrade() -> None:
    _restore("product_changes", "reason")
    _restore("order_events", "note")
    # The trigger goes first: SQLite's rebuild of a table the trigger writes to refuses to rename
    # while the trigger names the table.
    _drop_trigger()
    with op.batch_alter_table("order_events") as batch:
        batch.drop_column("note_args")
        batch.drop_column("note_code")
    with op.batch_alter_table("product_changes") as batch:
        batch.drop_column("reason_args")
        batch.drop_column("reason_code")
    _create_trigger(coded=False)
