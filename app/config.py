"""Configuration classes. Everything a village may change comes from the environment (api.md)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from collections.abc import Callable
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent


def _kept(data_dir: Path, name: str, env_name: str, make: Callable[[], str]) -> str:
    """``$env_name``, else a value made once and kept (0600) in the data dir file ``name``."""
    if os.environ.get(env_name):
        return os.environ[env_name]
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def private_dir(path: Path) -> None:
    """Make ``path`` (the data dir) if needed and let only this user in (0700): it holds the
    database with buyers' phones and addresses, stream keys, recordings and the secret key. A
    folder someone else owns is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid") and path.stat().st_uid == os.getuid():
        path.chmod(0o700)


class Config:
    """Production settings read from the environment when the app is created."""

    TESTING = False
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    VILLAGE_TIMEZONE = "Asia/Shanghai"
    # Product segments longer than this are clipped to their best part (the stretch with most orders).
    CLIP_LIMIT_S = 60.0
    # Forms are checked for CSRF by app.security, which exempts Bearer-token API calls.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure is added per request when it came over https (app.security._SessionCookies).
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024  # room for a 50 MB spreadsheet, refused with a message
    # Farmers may log in with a PIN only from the village PC itself, unless the admin allows the LAN.
    PIN_LOGIN_LOCAL_ONLY = True
    # A SQLite database's write-ahead log is copied back by a background thread rather than inside
    # the commit that fills it (db.WalCheckpointer; bench/orders.py measures why).
    SQLITE_CHECKPOINT_THREAD = True
    # Request threads of the server (waitress). The preview holds one per viewer (at most 4).
    SERVER_THREADS = 16

    def __init__(self) -> None:
        env = os.environ
        self.DATA_DIR = Path(env.get("CUNBO_DATA_DIR", BASE_DIR / "instance")).resolve()
        private_dir(self.DATA_DIR)
        self.DATABASE_URL = env.get("CUNBO_DATABASE_URL") or f"sqlite:///{self.DATA_DIR / 'cunbo.db'}"
        self.HOST = env.get("CUNBO_HOST", "127.0.0.1")
        self.PORT = int(env.get("CUNBO_PORT", "8000"))
        self.FFMPEG = env.get("CUNBO_FFMPEG") or None
        # Folders a broadcast may play video and sound files from, besides DATA_DIR/media.
        self.MEDIA_DIRS = [Path(p).resolve() for p in env.get("CUNBO_MEDIA_DIRS", "").split(os.pathsep) if p]
        self.SECRET_KEY = _kept(self.DATA_DIR, "secret_key", "CUNBO_SECRET_KEY", lambda: secrets.token_hex(32))
        # This PC's id: its broadcasts, plans and scheduler are its own on a shared county database.
        self.STATION_ID = _kept(self.DATA_DIR, "station_id", "CUNBO_STATION_ID", lambda: secrets.token_hex(6))
        # The broadcast scheduler reconciles at least this often (seconds), besides its timed wakes.
        self.SCHEDULER_POLL_S = float(env.get("CUNBO_SCHEDULER_POLL_S", "20"))

    def as_dict(self) -> dict[str, Any]:
        """Every upper-case setting, for ``app.config.from_mapping``."""
        names = {n for cls in type(self).__mro__ for n in vars(cls)} | set(vars(self))
        return {n: getattr(self, n) for n in names if n.isupper()}


class TestConfig(Config):
    __test__ = False  # not a pytest test class

    """Settings for the test suite: a throwaway data dir and database, fast password hashing."""

    TESTING = True
    # Each test makes its own short-lived app; SQLite's own checkpoints serve them, and the tests of
    # the thread turn it on.
    SQLITE_CHECKPOINT_THREAD = False

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        os.environ.setdefault("CUNBO_SECRET_KEY", "test-secret-key")
        previous = os.environ.get("CUNBO_DATA_DIR")
        os.environ["CUNBO_DATA_DIR"] = str(data_dir)
        try:
            super().__init__()
        finally:
            if previous is None:
                del os.environ["CUNBO_DATA_DIR"]
            else:
                os.environ["CUNBO_DATA_DIR"] = previous
        if database_url:
            self.DATABASE_URL = database_url
