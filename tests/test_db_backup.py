"""`flask backup` takes a consistent snapshot while orders are being written; `flask restore`
puts it back, settings and photos included. On SQLite and, in ./test.sh's second pass, PostgreSQL."""
from __future__ import annotations

import json
import stat
import tarfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog import photos
from orders.models import Order, OrderEvent
from tests import factories


def counts(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(Order)) or 0,
            session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.to_status == "new")) or 0)


def test_a_backup_taken_while_orders_are_written_restores_a_consistent_state(app, session, tmp_path):
    farmer = factories.user(session, "farmer", "wang")
    coordinator = factories.user(session, "coordinator", "coord")
    rice = factories.product(session, farmer, stock=100_000)
    data_dir = Path(app.config["DATA_DIR"])
    photo = photos.add_photo(session, data_dir, rice, factories.image_bytes(), coordinator)
    session.commit()
    (data_dir / "settings.json").write_text(json.dumps({"lan_access": True}), encoding="utf-8")
    for _ in range(5):
        factories.order(session, rice)

    stop = threading.Event()

    def keep_ordering() -> None:
        with app.extensions["cunbo.sessions"]() as writer:
            while not stop.is_set():
                factories.order(writer, rice)

    orderer = threading.Thread(target=keep_ordering, name="orders-during-backup")
    orderer.start()
    try:
        result = app.test_cli_runner().invoke(args=["backup", "--to", str(tmp_path / "backups")])
    finally:
        stop.set()
        orderer.join(timeout=30)
    assert result.exit_code == 0, result.output
    archive = Path(result.output.strip().splitlines()[-1])
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert "settings/settings.json" in names and f"photos/{photo.stem}_card.jpg" in names

    after_backup = counts(session)
    factories.order(session, rice)
    (data_dir / "settings.json").write_text(json.dumps({"lan_access": False}), encoding="utf-8")
    photos.remove_files(data_dir, photo.stem)
    session.close()
    app.extensions["cunbo.engine"].dispose()

    restored = app.test_cli_runner().invoke(args=["restore", str(archive), "--yes"])
    assert restored.exit_code == 0, restored.output
    orders, events = counts(session)
    assert orders == events, "every order in the snapshot has its audit event: one moment, not a torn copy"
    assert 5 <= orders <= after_backup[0]
    assert json.loads((data_dir / "settings.json").read_text(encoding="utf-8")) == {"lan_access": True}
    assert photos.photo_path(data_dir, photo.stem, "card").exists()


def test_restore_refuses_a_file_that_is_not_a_backup(app, tmp_path):
    bogus = tmp_path / "evil.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        member = tmp_path / "x"
        member.write_text("x")
        tar.add(member, "../../etc/cron.d/x")
    result = app.test_cli_runner().invoke(args=["restore", str(bogus), "--yes"])
    assert result.exit_code != 0 and "不是村播的备份" in result.output


@pytest.fixture(autouse=True)
def _pg_tools_present() -> None:
    from tests.conftest import is_postgresql
    import shutil

    if is_postgresql() and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
