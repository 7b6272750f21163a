"""Faults during a live, driven through the app (LiveService behind the HTTP API), each checked
for what the farmer's console shows and that nothing is lost: the source lost and back, the
platform's server down 30 s and back, ffmpeg killed, the disk under the recordings full, the
database locked by another process, and ``kill -9`` of the server while many clients log orders
during a planned live.

Faults of the bare pipeline and kill -9 of server and worker mid-live are in
tests/test_capture_faults.py and tests/test_live_faults.py; this file does not repeat them.
Real parts: a generated video through cv2.VideoCapture, real ffmpeg, nginx-rtmp read back with
ffprobe, ``python -m app.serve`` killed for real, a tmpfs mounted as the recordings folder.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.models import User
from bench.soak import ledger
from capture.testing import decode_count, ffprobe
from tests import factories
from tests.live_helpers import wait_until
from tests.test_live_faults import station  # noqa: F401  (the fixture: a real ``python -m app.serve``)

ROOT = Path(__file__).resolve().parent.parent
LIVE = ("live", "reconnecting", "starting")


@pytest.fixture
def api(api_as, session):
    """王大姐's API client: she is the host of every live here."""
    return api_as(factories.user(session, "farmer", "wang", display_name="王大姐"))


@pytest.fixture
def millet(session, api):
    farmer = session.scalar(select(User).where(User.username == "wang"))
    return factories.product(session, farmer, name="巨鹿小米", price_fen=1800, stock=10_000, link_no=1)


def order_body(product_id: int, session_id: int, n: int = 0) -> dict:
    return {"product_id": product_id, "quantity": 1, "buyer_name": f"买家{n}", "buyer_phone": "13800138000",
            "address": "河北省邢台市巨鹿县", "channel": "douyin", "session_id": session_id}


def go_live(api, video: Path, destinations: list[str] | None = None) -> int:
    response = api.post("/api/live/start", json={"video": str(video), "audio": "none", "preset": "480p30",
                                                 "destinations": destinations or []})
    assert response.status_code == 201, response.json
    assert wait_until(lambda: api.get("/api/live/status").json["state"] == "live", timeout=20)
    return int(response.json["session_id"])


def console_words(client, language: str) -> dict[str, str]:
    """The words the console shows for each status (the page's text table, in ``language``)."""
    client.get(f"/lang/{language}")
    page = client.get("/live/").get_data(as_text=True)
    start = page.index('id="console-text">') + len('id="console-text">')
    return json.loads(page[start:page.index("</script>", start)])


def stop_counting(api) -> tuple[dict, int]:
    """Stop the live: (the stop's answer, frames that had gone out to the encoder just before)."""
    frames_out = api.get("/api/live/status").json["frames_out"]
    return api.post("/api/live/stop").json, frames_out


def whole(path: str, frames_out: int) -> bool:
    """The recording decodes without errors and holds every frame that went out (frames the
    output loop dropped on a loaded machine never reached it; frame timestamps count frames, so
    a gap would show as missing frames, not as a jump)."""
    frames, _, errors = decode_count(path)
    return frames >= frames_out - 15 and not errors.strip()


pytestmark = [pytest.mark.usefixtures("no_stray_processes"), pytest.mark.timeout(150)]


# --- the source --------------------------------------------------------------------------------

def test_source_lost_and_back_the_console_says_camera_down_and_the_recording_keeps_going(
        app, api, client, millet, video_factory, tmp_path):
    from tests.conftest import login

    source = tmp_path / "data" / "media" / "camera.mp4"
    source.parent.mkdir(parents=True)
    shutil.copy(video_factory(seconds=1.0, pattern="color"), source)
    session_id = go_live(api, source)
    assert api.post("/api/live/show", json={"product_id": millet.id}).status_code == 200
    login(client, "wang")
    words = console_words(client, "zh")

    source.unlink()  # the camera's cable pulled: the next loop of the file cannot reopen it
    assert wait_until(lambda: api.get("/api/live/status").json["source_state"] == "lost", timeout=10)
    status = api.get("/api/live/status").json
    assert status["state"] == "reconnecting", status  # the console: 摄像头断开, the video: the slate
    assert words["camera_down"] == "摄像头断开"
    frames = status["frames_out"]
    ordered = [api.post("/api/orders", json=order_body(millet.id, session_id, n)) for n in range(3)]
    assert [r.status_code for r in ordered] == [201] * 3, "orders go on while the picture is lost"
    time.sleep(1.0)
    assert api.get("/api/live/status").json["frames_out"] >= frames + 20, "the stream never froze"

    shutil.copy(video_factory(seconds=1.0, pattern="color"), source)
    assert wait_until(lambda: (s := api.get("/api/live/status").json)["source_state"] == "ok" and s["state"] == "live",
                      timeout=20)
    status = api.get("/api/live/status").json
    assert status["slate_frames"] > 0 and status["product_id"] == millet.id
    stopped, frames_out = stop_counting(api)
    assert len(stopped["recordings"]) == 1, "the same recording all along"
    assert whole(stopped["recordings"][0], frames_out)
    assert api.get(f"/api/sessions/{session_id}").json["orders"] == 3


# --- the platform ------------------------------------------------------------------------------

def test_the_platform_down_30_s_and_back_the_push_resumes_and_the_recording_covers_the_gap(
        app, api, client, millet, flat_video, rtmp_server):
    from tests.conftest import login

    session_id = go_live(api, flat_video, [rtmp_server.url("julu-key")])
    status_of = lambda: api.get("/api/live/status").json  # noqa: E731
    assert wait_until(lambda: status_of()["destinations"][0]["state"] == "live", timeout=15)
    encoder = status_of()["encoder_pid"]
    login(client, "wang")
    words = console_words(client, "zh")

    rtmp_server.kill()
    down = time.monotonic()
    assert wait_until(lambda: status_of()["destinations"][0]["state"] in ("retrying", "connecting"), timeout=15)
    seen: set[str] = set()
    n = 0
    frames_before = status_of()["frames_out"]
    while time.monotonic() - down < 30:
        status = status_of()
        assert status["state"] == "live", status  # the recording and the source are fine...
        seen.add(status["destinations"][0]["state"])  # ...the platform is not: {p}断了，正在重连
        assert api.post("/api/orders", json=order_body(millet.id, session_id, n)).status_code == 201
        n += 1
        time.sleep(1.0)
    assert "retrying" in seen and "live" not in seen, seen
    assert status_of()["frames_out"] - frames_before >= 15 * 25, "the encode went on all along (≥ half of 30 fps)"
    assert words["retrying"] == "{p}断了，正在重连"
    rtmp_server.start()  # the platform is back, same address
    back = time.monotonic()
    # The relay's backoff doubles from 1 s to at most 8 s: the push resumes within about that.
    assert wait_until(lambda: status_of()["destinations"][0]["state"] == "live", timeout=30), status_of()
    print(f"the push resumed {time.monotonic() - back:.1f} s after the platform came back")
    assert any(s["codec_type"] == "video" for s in ffprobe(rtmp_server.url("julu-key"))["streams"])
    assert status_of()["encoder_pid"] == encoder, "the recording was never interrupted"

    stopped, frames_out = stop_counting(api)
    assert len(stopped["recordings"]) == 1
    assert whole(stopped["recordings"][0], frames_out), "the recording has the 30 s without the platform"
    assert api.get(f"/api/sessions/{session_id}").json["orders"] == n


# --- ffmpeg ------------------------------------------------------------------------------------

def test_ffmpeg_killed_the_encoder_and_relay_come_back_and_both_recordings_are_listed(
        app, api, millet, flat_video, rtmp_server):
    session_id = go_live(api, flat_video, [rtmp_server.url("julu-key")])
    status_of = lambda: api.get("/api/live/status").json  # noqa: E731
    assert wait_until(lambda: status_of()["destinations"][0]["state"] == "live", timeout=15)
    time.sleep(1.0)
    encoder = status_of()["encoder_pid"]
    os.kill(encoder, signal.SIGKILL)
    assert wait_until(lambda: (s := status_of())["encoder_pid"] not in (None, encoder) and s["state"] == "live",
                      timeout=15), status_of()
    assert api.post("/api/orders", json=order_body(millet.id, session_id)).status_code == 201

    def relays() -> list[int]:  # the push's own ffmpeg: reads our MPEG-TS, writes to the platform
        return [pid for pid, cmdline in _processes() if f"127.0.0.1:{rtmp_server.port}/" in cmdline]

    # The relay reconnects after the encoder's restart (a new stream begins): wait for its new process.
    assert wait_until(lambda: len(relays()) == 1 and status_of()["destinations"][0]["state"] == "live",
                      timeout=20), (status_of()["destinations"], relays(), _worker_logs(app))
    os.kill(relays()[0], signal.SIGKILL)  # the push's own ffmpeg
    assert wait_until(lambda: status_of()["destinations"][0]["state"] != "live", timeout=10)
    assert wait_until(lambda: status_of()["destinations"][0]["state"] == "live", timeout=40), (
        status_of()["destinations"], relays(), _worker_logs(app))
    assert status_of()["state"] == "live"
    time.sleep(1.0)

    stopped = api.post("/api/live/stop").json
    record = api.get(f"/api/sessions/{session_id}").json
    assert len(record["recordings"]) == 2 and sorted(record["recordings"]) == sorted(stopped["recordings"])
    for path in record["recordings"]:
        assert {s["codec_type"] for s in ffprobe(path)["streams"]} == {"video", "audio"}
        assert decode_count(path)[0] > 20
    assert record["orders"] == 1


def _worker_logs(app) -> str:
    return "\n".join(p.read_text()[-3000:] for p in (Path(app.config["DATA_DIR"]) / "live").glob("*.log"))


def _processes() -> list[tuple[int, str]]:
    import psutil

    return [(p.info["pid"], " ".join(p.info["cmdline"] or [])) for p in psutil.process_iter(["pid", "cmdline"])]


# --- the disk ----------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """The data dir's recordings folder on a 1 MB tmpfs that other files have nearly filled: about
    300 KB are left, a few seconds of 480p."""
    folder = tmp_path / "data" / "recordings"  # the app made it (data dir 0700, files 0600)
    folder.mkdir(parents=True, exist_ok=True)
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small disk needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(folder)], capture_output=True,
                          timeout=10, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        (folder / "other-files.bin").write_bytes(bytes(700 * 1024))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10, check=False)


def test_a_full_disk_stops_the_recording_with_a_clear_message_and_the_push_goes_on(
        app, api, client, millet, video_factory, rtmp_server, small_disk):
    from tests.conftest import login

    session_id = go_live(api, video_factory(pattern="testsrc2"), [rtmp_server.url("julu-key")])
    status_of = lambda: api.get("/api/live/status").json  # noqa: E731
    assert status_of()["recording_error"] is None
    assert wait_until(lambda: status_of()["recording_error"] == "disk_full", timeout=40), status_of()
    status = status_of()
    assert status["state"] == "live" and status["destinations"][0]["state"] == "live", status
    login(client, "wang")
    assert console_words(client, "zh")["disk_full"] == "硬盘满了，录像已停止，直播还在继续"
    assert console_words(client, "en")["disk_full"] == "The disk is full: the recording has stopped; you are still live"
    assert api.post("/api/orders", json=order_body(millet.id, session_id)).status_code == 201
    frames = status["frames_out"]
    time.sleep(2.0)
    assert status_of()["frames_out"] >= frames + 45, "the broadcast goes on"
    assert any(s["codec_type"] == "video" for s in ffprobe(rtmp_server.url("julu-key"))["streams"]), \
        "the platform still receives the push after the disk filled"

    stopped = api.post("/api/live/stop").json
    record = api.get(f"/api/sessions/{session_id}").json
    assert record["recordings"] == stopped["recordings"] and len(record["recordings"]) == 1
    frames, last_s, _ = decode_count(record["recordings"][0])
    assert frames > 60 and last_s > 2, "what fitted on the disk plays"
    assert record["orders"] == 1


# --- the database ------------------------------------------------------------------------------

LOCKER = """
import sys, time
from sqlalchemy import create_engine, text
url, seconds = sys.argv[1], float(sys.argv[2])
engine = create_engine(url)
with engine.connect() as conn:
    if engine.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN EXCLUSIVE")
        conn.execute(text("UPDATE products SET stock = stock WHERE id > 0"))  # a write, as another program's would be
    else:
        conn.execute(text("LOCK TABLE orders, products IN ACCESS EXCLUSIVE MODE"))
    print("locked", flush=True)
    time.sleep(seconds)
    conn.commit()
print("released", flush=True)
"""


def test_the_database_locked_by_another_process_for_3_s_requests_wait_then_succeed(
        app, server_url, session, millet, database_url):
    token = factories.token_for(session, millet.farmer)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, database_url, "3"], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()
        answers: list[tuple[int, float]] = []
        lock = threading.Lock()

        def post(n: int) -> None:
            body = json.dumps({**order_body(millet.id, 0, n), "session_id": None}).encode()
            request = urllib.request.Request(f"{server_url}/api/orders", data=body, method="POST", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    code = response.status
            except urllib.error.HTTPError as exc:
                code = exc.code
            with lock:
                answers.append((code, time.monotonic() - locked_at))

        clients = [threading.Thread(target=post, args=(n,)) for n in range(6)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(30)
        assert locker.stdout.readline().strip() == "released"
    finally:
        locker.wait(10)
        if locker.stdout is not None:
            locker.stdout.close()
    assert sorted(code for code, _ in answers) == [201] * 6, answers
    assert min(t for _, t in answers) >= 2.5, f"the orders waited for the lock: {answers}"
    assert max(t for _, t in answers) < 8, f"and went through once it was released: {answers}"
    trail = ledger(database_url, [millet.id], stock=10_000)
    assert trail["orders"] == trail["audit_events"] == trail["stock_changes"] == 6
    assert trail["stock_taken"] == trail["quantity"] == 6


# --- kill -9 of the server while orders come in ------------------------------------------------

@pytest.mark.media  # its own SQLite file: the run's database (and its PostgreSQL pass) is not involved
@pytest.mark.timeout(180)
def test_kill_9_while_many_clients_log_orders_loses_no_answered_order_and_the_plan_carries_on(station, flat_video):  # noqa: F811
    with station.sessions() as session:
        farmer = session.scalar(select(User).where(User.username == "wang"))
        station.product_ids = [factories.product(session, farmer, name=f"巨鹿小米{n}", price_fen=1800 + n,
                                                 stock=100_000).id for n in range(3)]
    station.start()
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
    code, plan = station.api("POST", "/api/broadcasts", {
        "title": "早市", "starts_at": start.isoformat(), "duration_min": 0.75, "video": str(flat_video),
        "audio": "none", "destinations": [], "preset": "480p30", "lineup": station.product_ids})
    assert code == 201, plan
    assert wait_until(lambda: station.api("GET", "/api/live/status")[1]["state"] == "live", timeout=30)
    session_id = station.api("GET", "/api/live/status")[1]["session_id"]

    answered: list[int] = []
    failures: list[str] = []
    refused: list[tuple[int, object]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        k = 0
        while not stop.is_set():
            body = order_body(station.product_ids[(n + k) % 3], session_id, n * 1000 + k)
            try:
                code, answer = station.api("POST", "/api/orders", body, timeout=5)
            except (OSError, http.client.HTTPException, ValueError) as exc:  # the server died: no (whole) answer
                with lock:
                    failures.append(type(exc).__name__)
                time.sleep(0.05)
                continue
            with lock:
                if code == 201:
                    answered.append(int(answer["id"]))
                else:
                    refused.append((code, answer))
            k += 1

    clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
    for thread in clients:
        thread.start()
    assert wait_until(lambda: len(answered) >= 80, timeout=30)
    station.kill9()  # mid-way: requests in flight, some committed without their answer
    killed_with = len(answered)
    time.sleep(0.5)
    stop.set()
    for thread in clients:
        thread.join(10)
    assert failures, "the kill landed while orders were being logged"
    assert not refused, refused[:3]

    station.start()
    trail = ledger(station.env["CUNBO_DATABASE_URL"], station.product_ids, stock=100_000)
    with station.sessions() as session:
        stored = set(session.scalars(select_order_ids()).all())
    assert set(answered) <= stored, f"{len(set(answered) - stored)} answered orders are missing"
    assert len(stored) - len(answered) <= 8, "at most one order per client was committed without its answer"
    # No half-written order: each stored order has its one audit event and stock history row, and
    # the stock taken is exactly what the orders hold.
    assert trail["orders"] == len(stored) == trail["audit_events"] == trail["stock_changes"]
    assert trail["stock_taken"] == trail["quantity"] == len(stored)
    assert killed_with >= 80

    status = station.api("GET", "/api/live/status")[1]
    assert status["state"] in LIVE and status["session_id"] == session_id, "the planned live outlived the server"
    assert station.api("POST", "/api/orders", order_body(station.product_ids[0], session_id, 99999))[0] == 201
    runs = lambda: station.api("GET", f"/api/broadcasts/{plan['id']}/runs")[1]  # noqa: E731
    assert runs()[0]["state"] == "started"
    assert wait_until(lambda: runs()[0]["state"] == "ran", timeout=60), runs()  # the plan stopped it at its end
    record = station.api("GET", f"/api/sessions/{session_id}")[1]
    assert record["ended_at"] and record["recordings"]
    for path in record["recordings"]:
        assert {s["codec_type"] for s in ffprobe(path)["streams"]} == {"video", "audio"}
        assert decode_count(path)[0] > 30
    assert record["orders"] == len(stored) + 1


def select_order_ids():  # type: ignore[no-untyped-def]
    from orders.models import Order

    return select(Order.id)
