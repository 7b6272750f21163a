"""The factory builds the app from a config, and the config comes from the environment."""
from __future__ import annotations

from pathlib import Path

import pytest

from app import create_app
from app.config import Config, TestConfig
from tests import factories
from tests.conftest import login


def test_factory_uses_the_test_config(app):
    assert app.testing
    assert app.config["DATABASE_URL"]
    assert Path(app.config["DATA_DIR"]).is_dir()


def test_healthz_needs_no_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_config_reads_the_environment(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUNBO_DATA_DIR", str(tmp_path / "village"))
    monkeypatch.setenv("CUNBO_HOST", "0.0.0.0")
    monkeypatch.setenv("CUNBO_PORT", "8123")
    monkeypatch.setenv("CUNBO_FFMPEG", "/opt/ffmpeg")
    monkeypatch.delenv("CUNBO_DATABASE_URL", raising=False)
    monkeypatch.delenv("CUNBO_SECRET_KEY", raising=False)
    config = Config()
    assert config.DATA_DIR == (tmp_path / "village").resolve()
    assert config.DATA_DIR.is_dir(), "the data dir is created on first start"
    assert config.DATABASE_URL == f"sqlite:///{config.DATA_DIR / 'cunbo.db'}"
    assert (config.HOST, config.PORT, config.FFMPEG) == ("0.0.0.0", 8123, "/opt/ffmpeg")


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUNBO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CUNBO_SECRET_KEY", raising=False)
    first = Config().SECRET_KEY
    second = Config().SECRET_KEY
    assert first == second and len(first) >= 32
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0, "the key file is private to its owner"


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUNBO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CUNBO_SECRET_KEY", "from-env")
    assert Config().SECRET_KEY == "from-env"


def test_factory_accepts_a_mapping(tmp_path, database_url):
    config = TestConfig(tmp_path, database_url).as_dict()
    config["PIN_LOGIN_LOCAL_ONLY"] = False
    app = create_app(config)
    assert app.config["PIN_LOGIN_LOCAL_ONLY"] is False
    app.extensions["cunbo.engine"].dispose()


def test_unknown_page_is_a_chinese_404(client, session):
    factories.user(session, "coordinator", "zhang")
    login(client, "zhang")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "找不到页面" in response.get_data(as_text=True)


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code in (401, 404)
    assert "error" in response.json
