"""Helpers for live tests: what a frame should look like for a scene, waiting, a real server process."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from capture.overlay import Compositor, OverlayScene


def expected_frame(scene: OverlayScene, background_bgr: tuple[int, int, int], size: tuple[int, int],
                   portrait: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The composited frame Cunbo should produce over a flat background, and the product card box."""
    width, height = size
    compositor = Compositor(width, height, portrait)
    compositor.set_scene(scene)
    flat = np.full((height, width, 3), background_bgr, np.uint8)
    composed, _ = compositor.compose(cv2.cvtColor(flat, cv2.COLOR_BGR2YUV_I420))
    box = compositor.boxes()["product"]
    return cv2.cvtColor(composed, cv2.COLOR_YUV2BGR_I420), (box.x, box.y, box.w, box.h)


def shows_scene(frame: np.ndarray, scene: OverlayScene, other: OverlayScene,
                background_bgr: tuple[int, int, int], portrait: bool = False) -> bool:
    """True when ``frame`` looks like ``scene`` and not like ``other`` where the two differ.

    Only the pixels where the two expected pictures differ are compared (a stock line, a price),
    so video compression elsewhere does not blur the answer.
    """
    height, width = frame.shape[:2]
    want, _ = expected_frame(scene, background_bgr, (width, height), portrait)
    not_want, _ = expected_frame(other, background_bgr, (width, height), portrait)
    differs = np.abs(want.astype(np.int16) - not_want.astype(np.int16)).max(axis=2) > 60
    assert differs.sum() > 50, "the two scenes look the same: nothing to tell apart"
    got = frame.astype(np.int16)[differs]
    to_want = float(np.mean(np.abs(got - want.astype(np.int16)[differs])))
    to_other = float(np.mean(np.abs(got - not_want.astype(np.int16)[differs])))
    return to_want < to_other / 2


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true (→ True) or ``timeout`` seconds pass (→ False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class ServerProcess:
    """``python -m app.serve`` as the village PC runs it, with one farmer and an API token; it can
    be killed with -9 and started again on the same data dir and database."""

    def __init__(self, root: Path, data_dir: Path, database_url: str) -> None:
        self.root, self.data_dir = root, data_dir
        self.port = _free_port()
        self.env = {**os.environ, "CUNBO_DATA_DIR": str(data_dir), "CUNBO_PORT": str(self.port),
                    "CUNBO_DATABASE_URL": database_url}
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""

    def flask(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, check=True, timeout=60)
        return done.stdout

    def setup(self, username: str = "wang") -> None:
        """Migrate, make a farmer and a token for the API."""
        self.flask("setup")
        self.flask("user", "create", username, "--role", "farmer", "--password", "password123",
                   "--display-name", "王大姐")
        self.token = self.flask("user", "token", username).strip().splitlines()[-1]

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=self.root, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(self._healthy, timeout=timeout, interval=0.2), "the server did not answer /healthz"

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "the server exited"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2).close()
            return True
        except OSError:
            return False

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None,
            timeout: float = 20.0) -> tuple[int, Any]:
        """(status, JSON answer) of one API call with the farmer's token."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
