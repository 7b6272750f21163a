"""The broadcast outlives crashes: kill -9 of the server, of the worker, of both.

Real parts throughout: ``python -m app.serve`` as the village PC runs it, a worker process with a
video file through cv2.VideoCapture, real ffmpeg, a real nginx-rtmp read back with ffprobe.
"""
from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

import db
from accounts.models import User
from capture.process import pid_alive
from capture.testing import ffprobe
from live.models import LiveSession, Recording
from orders.models import Order
from tests import factories
from tests.live_helpers import ServerProcess, wait_until

# Each server here has its own SQLite file: the run's database (and so its PostgreSQL pass) is not involved.
pytestmark = [pytest.mark.usefixtures("no_stray_processes"), pytest.mark.media]
ROOT = Path(__file__).resolve().parent.parent


def order_body(product_id: int, session_id: int, n: int) -> dict:
    return {"product_id": product_id, "quantity": 1, "buyer_name": f"买家{n}", "buyer_phone": "13800138000",
            "address": "河北省邢台市巨鹿县", "channel": "douyin", "session_id": session_id}


@pytest.fixture
def station(tmp_path):
    """A set-up server (not started), its database and a product of the farmer's."""
    url = f"sqlite:///{tmp_path / 'station.db'}"
    server = ServerProcess(ROOT, tmp_path / "data", url)
    server.setup()
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    with sessions() as session:
        farmer = session.scalar(select(User).where(User.username == "wang"))
        product = factories.product(session, farmer, name="巨鹿小米", price_fen=1800, stock=100)
        server.product_id = product.id
    server.sessions = sessions
    yield server
    server.stop()
    engine.dispose()


def worker_pid(server: ServerProcess) -> int | None:
    """The running worker's pid from its channel file (None while a restart has none yet)."""
    status = server.api("GET", "/api/live/status")[1]
    assert status["state"] in ("live", "starting", "reconnecting"), status
    channel = next((server.data_dir / "live").glob("*.channel.json"), None)
    return int(json.loads(channel.read_text())["pid"]) if channel else None


def go_live(server: ServerProcess, video: Path, destinations: list[str]) -> int:
    code, answer = server.api("POST", "/api/live/start", {"video": str(video), "audio": "none",
                                                          "destinations": destinations, "preset": "480p30"})
    assert code == 201, answer
    assert wait_until(lambda: server.api("GET", "/api/live/status")[1]["state"] == "live", timeout=15)
    assert server.api("POST", "/api/live/show", {"product_id": server.product_id})[0] == 200
    return int(answer["session_id"])


def playable(path: str) -> bool:
    streams = {s["codec_type"] for s in ffprobe(path)["streams"]}
    return {"video", "audio"} <= streams


def test_kill_9_of_the_server_mid_live_the_push_goes_on_and_the_restarted_server_reattaches(
        station, flat_video, rtmp_server, tmp_path):
    station.start()
    session_id = go_live(station, flat_video, [rtmp_server.url("julu")])
    for n in range(3):
        assert station.api("POST", "/api/orders", order_body(station.product_id, session_id, n))[0] == 201
    pid = worker_pid(station)
    assert pid is not None
    assert wait_until(lambda: station.api("GET", "/api/live/status")[1]["destinations"][0]["state"] == "live")

    station.kill9()
    assert pid_alive(pid), "the broadcast worker outlives the server"
    during_gap = ffprobe(rtmp_server.url("julu"))
    assert any(s["codec_type"] == "video" for s in during_gap["streams"]), "the platform still receives the push"

    station.start()
    status = station.api("GET", "/api/live/status")[1]
    assert status["session_id"] == session_id and status["product_id"] == station.product_id
    assert worker_pid(station) == pid, "reattached to the same worker, not a new one"
    assert wait_until(lambda: station.api("GET", "/api/live/status")[1]["state"] == "live", timeout=5)
    for n in range(3, 6):
        assert station.api("POST", "/api/orders", order_body(station.product_id, session_id, n))[0] == 201

    stopped = station.api("POST", "/api/live/stop")[1]
    assert stopped["session_id"] == session_id and stopped["recordings"]
    assert all(playable(p) for p in stopped["recordings"])
    assert not pid_alive(pid)
    with station.sessions() as session:
        assert session.query(Order).filter(Order.session_id == session_id).count() == 6
        row = session.get(LiveSession, session_id)
        assert row.ended_at is not None and row.end_reason is None


def test_kill_9_of_the_worker_restarts_it_in_a_new_segment_within_3_s(station, flat_video, tmp_path):
    station.start()
    session_id = go_live(station, flat_video, [])
    time.sleep(1.0)
    pid = worker_pid(station)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    saw_reconnecting = []

    def back() -> bool:
        status = station.api("GET", "/api/live/status")[1]
        saw_reconnecting.append(status["state"] == "reconnecting")
        return status["state"] == "live" and worker_pid(station) not in (pid, None)

    assert wait_until(back, timeout=10, interval=0.05)
    took = time.monotonic() - killed
    assert took <= 3.0, f"the broadcast came back after {took:.1f} s"
    assert any(saw_reconnecting), "the console said 正在重连 meanwhile"
    status = station.api("GET", "/api/live/status")[1]
    assert status["session_id"] == session_id and status["product_id"] == station.product_id
    time.sleep(1.0)
    stopped = station.api("POST", "/api/live/stop")[1]
    assert len(stopped["recordings"]) == 2, stopped
    assert all(playable(p) for p in stopped["recordings"])
    with station.sessions() as session:
        paths = session.scalars(select(Recording.path).where(Recording.session_id == session_id)).all()
        assert sorted(paths) == sorted(stopped["recordings"])


def test_kill_9_of_server_and_worker_closes_the_session_with_its_recording(station, flat_video, tmp_path):
    station.start()
    session_id = go_live(station, flat_video, [])
    time.sleep(2.0)
    pid = worker_pid(station)
    assert pid is not None
    station.kill9()
    os.killpg(pid, signal.SIGKILL)  # the worker and its ffmpeg: a power cut, as far as they know
    assert wait_until(lambda: not pid_alive(pid), timeout=5)
    died = time.time()

    station.start()
    assert station.api("GET", "/api/live/status")[1]["state"] == "idle"
    record = station.api("GET", f"/api/sessions/{session_id}")[1]
    assert record["ended_at"] is not None and record["end_reason"] == "worker_lost"
    assert record["recordings"] and all(playable(p) for p in record["recordings"])
    ended = datetime.fromisoformat(record["ended_at"]).timestamp()
    assert died - 7 <= ended <= died + 1, "ended at the last time known, not at the restart"
    assert record["segments"] and record["segments"][0]["end_s"] is not None
    assert not list((tmp_path / "data" / "live").glob("*.channel.json")), "the dead worker is forgotten"
    # The station is free again.
    code, _ = station.api("POST", "/api/live/start", {"video": str(flat_video), "audio": "none", "preset": "480p30"})
    assert code == 201
    assert station.api("POST", "/api/live/stop")[0] == 200
