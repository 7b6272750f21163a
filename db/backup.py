"""Backups: a consistent snapshot of the database, this PC's settings and the product photos in
one private archive, taken while the server runs; and the restore that puts it back.

The database is copied by its own tools, never by copying the file: SQLite's online backup API
(a snapshot as of one moment, while orders go on being written through the WAL) and ``pg_dump``
for PostgreSQL (one transaction, so one moment too). Settings are the small files at the top of
the data dir (``secret_key``, ``settings.json``, …). Recordings and clips are left out: they are
large, and already files a person can copy.

Archive layout (``.tar.gz``, mode 0600): ``manifest.json``, ``database.sqlite3`` or
``database.pgdump``, ``settings/<file>``, ``photos/<file>``.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from db import N_

FORMAT = 1
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
# A member of an archive this module wrote; anything else (an absolute path, "..", a link) is refused.
MEMBER_RE = re.compile(r"^(manifest\.json|database\.sqlite3|database\.pgdump|(settings|photos)/[A-Za-z0-9_.\-]{1,100})$")
BUSY_TIMEOUT_MS = 10_000
PG_TIMEOUT_S = 600


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why, for the person at the console.

    ``msgid`` is Chinese and ``params`` fill its slots: the command line shows it in its language.
    """

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params


@dataclass(frozen=True)
class BackupSummary:
    """What an archive holds."""

    path: Path
    database: str
    settings: int
    photos: int


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError(N_("内存数据库没有可备份的文件"))
    return Path(url.database)


def _libpq_url(url: URL) -> str:
    """``postgresql+psycopg://…`` → the ``postgresql://…`` that pg_dump and pg_restore read."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _settings_files(data_dir: Path, database: Path | None) -> list[Path]:
    """The small files at the top of the data dir, without the database and its -wal/-shm."""
    skip = {database.name, f"{database.name}-wal", f"{database.name}-shm"} if database else set()
    return sorted(p for p in data_dir.iterdir() if p.is_file() and p.name not in skip
                  and MEMBER_RE.match(f"settings/{p.name}") and not p.name.endswith(".part"))


def _snapshot_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database through the online backup API."""
    if not source.is_file():
        raise BackupError(N_("找不到数据库文件 %(path)s"), path=str(source))
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: the snapshot is of one moment
        finally:
            dst.close()
    finally:
        src.close()


def _run(argv: list[str], what: str) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=PG_TIMEOUT_S)
    except FileNotFoundError as exc:
        raise BackupError(N_("找不到 %(program)s：请安装 postgresql-client"), program=argv[0]) from exc
    except subprocess.TimeoutExpired as exc:
        raise BackupError(N_("%(program)s 超过 %(seconds)d 秒没有完成"), program=what, seconds=PG_TIMEOUT_S) from exc
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise BackupError(N_("%(program)s 失败：%(detail)s"), program=what, detail=detail[0]) from exc


def backup(database_url: str | URL, data_dir: Path, target_dir: Path, *,
           now: datetime | None = None) -> BackupSummary:
    """Write ``cunbo-backup-<UTC time>.tar.gz`` (0600) into ``target_dir`` and describe it.

    Safe while the server runs. Raises :class:`BackupError` when the database cannot be read or
    pg_dump fails.
    """
    url = make_url(database_url)
    when = now or datetime.now(timezone.utc)
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = target_dir / f"cunbo-backup-{when:%Y%m%d-%H%M%S}.tar.gz"
    database_file = _sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    photos = sorted(p for p in (data_dir / "photos").glob("*.jpg")) if (data_dir / "photos").is_dir() else []
    settings = _settings_files(data_dir, database_file)
    with tempfile.TemporaryDirectory(prefix="cunbo-backup-") as work:
        if database_file is not None:
            dump, member = Path(work) / SQLITE_MEMBER, SQLITE_MEMBER
            _snapshot_sqlite(database_file, dump)
        else:
            dump, member = Path(work) / PG_MEMBER, PG_MEMBER
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}",
                  f"--dbname={_libpq_url(url)}"], "pg_dump")
        manifest = {"format": FORMAT, "created_at": when.isoformat(), "database": url.get_backend_name(),
                    "settings": [p.name for p in settings], "photos": len(photos)}
        partial = path.with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as archive:
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(data), int(when.timestamp()), 0o600
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, member)
            for file in settings:
                archive.add(file, f"settings/{file.name}")
            for file in photos:
                archive.add(file, f"photos/{file.name}")
        os.replace(partial, path)
    return BackupSummary(path, url.get_backend_name(), len(settings), len(photos))


def _members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = archive.getmembers()
    for member in members:
        if not member.isfile() or not MEMBER_RE.match(member.name):
            raise BackupError(N_("这不是村播的备份文件：里面有 %(name)s"), name=repr(member.name))
    return members


def restore(database_url: str | URL, data_dir: Path, archive_path: Path) -> BackupSummary:
    """Put a backup back: the database (its current content is replaced), the settings files and
    the photos. Stop the server first. Raises :class:`BackupError` for a file that is not a
    backup, one of the other kind of database, or a failing pg_restore.
    """
    url = make_url(database_url)
    try:
        archive = tarfile.open(archive_path, mode="r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(N_("打不开备份文件 %(path)s"), path=str(archive_path)) from exc
    with archive, tempfile.TemporaryDirectory(prefix="cunbo-restore-") as work:
        members = _members(archive)
        names = {m.name for m in members}
        if "manifest.json" not in names:
            raise BackupError(N_("这不是村播的备份文件：里面没有 manifest.json"))
        archive.extractall(work, members=members, filter="data")
        manifest = json.loads((Path(work) / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("database") != url.get_backend_name():
            raise BackupError(N_("这个备份是 %(kind)s 数据库的，不能恢复到 %(target)s 数据库"),
                              kind=str(manifest.get("database")), target=url.get_backend_name())
        if url.get_backend_name() == "sqlite":
            target = _sqlite_path(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Through the backup API again, into the live file: the WAL and -shm stay coherent.
            _snapshot_sqlite(Path(work) / SQLITE_MEMBER, target)
        else:
            _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                  f"--dbname={_libpq_url(url)}", str(Path(work) / PG_MEMBER)], "pg_restore")
        restored: dict[str, int] = {"settings": 0, "photos": 0}
        for kind in restored:
            folder = Path(work) / kind
            if not folder.is_dir():
                continue
            destination = data_dir if kind == "settings" else data_dir / "photos"
            destination.mkdir(mode=0o700, parents=True, exist_ok=True)
            for file in folder.iterdir():
                shutil.copyfile(file, destination / file.name)
                (destination / file.name).chmod(0o600)
                restored[kind] += 1
    return BackupSummary(archive_path, url.get_backend_name(), restored["settings"], restored["photos"])
