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
    assert "admin" in first.stdout and "password" in first.stdout
    again = subprocess.run([*flask, "setup"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "password" not in again.stdout, "the first admin's password is printed only once"

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
