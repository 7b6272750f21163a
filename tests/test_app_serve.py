"""The production server: serves /healthz on CUNBO_HOST:CUNBO_PORT and stops cleanly on SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.media_fixtures import stray_processes

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_setup_then_serve_then_sigterm(tmp_path, database_url):
    port = free_port()
    env = {
        **os.environ,
        "CUNBO_DATA_DIR": str(tmp_path / "data"),
        "CUNBO_PORT": str(port),
        "CUNBO_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    first = subprocess.run([*flask, "setup"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "admin" in first.stdout and "密码：" in first.stdout and "password" not in first.stdout.lower()
    again = subprocess.run([*flask, "setup"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "密码" not in again.stdout, "the first admin's password is printed only once"

    server = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert json.load(response) == {"status": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not answer /healthz"
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        output = server.stdout.read() if server.stdout else ""
        if server.stdout:
            server.stdout.close()
    assert "Traceback" not in output


def test_sigterm_during_a_live_broadcast_with_a_viewer_ends_it_cleanly(tmp_path):
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "CUNBO_DATA_DIR": str(tmp_path / "data"), "CUNBO_PORT": str(port),
           "CUNBO_DATABASE_URL": db_url}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "setup"], cwd=ROOT, env=env, capture_output=True, check=True)
    subprocess.run([*flask, "user", "create", "wang", "--role", "farmer", "--password", "password123"],
                   cwd=ROOT, env=env, capture_output=True, check=True)
    token = subprocess.run([*flask, "user", "token", "wang"], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    server = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        start = urllib.request.Request(f"{base}/api/live/start", method="POST", headers=headers,
                                       data=json.dumps({"video": "testsrc", "audio": "none", "preset": "480p30"}).encode())
        with urllib.request.urlopen(start, timeout=10) as response:
            assert response.status == 201
        viewer = urllib.request.urlopen(urllib.request.Request(f"{base}/live/preview.mjpg", headers=headers), timeout=10)
        assert viewer.read(4096), "the preview streams"
        server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert server.wait(timeout=15) == 0
        took = time.monotonic() - started
        viewer.close()
        assert took < 4, f"stopping took {took:.1f} s: a preview viewer held the server up"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    import db as database
    from sqlalchemy import text

    engine = database.make_engine(db_url)
    with engine.connect() as conn:
        ended, reason = conn.execute(text("SELECT ended_at, end_reason FROM live_sessions")).one()
        recordings = conn.execute(text("SELECT path FROM recordings")).scalars().all()
    engine.dispose()
    assert ended is not None and reason is None and recordings, "the broadcast was ended and its recording kept"
    assert not stray_processes(tmp_path), "a deliberate stop leaves no worker or ffmpeg behind"
