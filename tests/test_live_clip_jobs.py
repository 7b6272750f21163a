"""Clip export in the background: queued by the API, cut by the worker, redone after a restart,
paused while a live runs, cancelled on request (real ffmpeg, a recording with 2 s keyframes)."""
from __future__ import annotations

import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from capture.testing import ffprobe
from live.clip_jobs import ClipWorker
from live.models import Clip, LiveSession, Recording, Segment
from tests import factories
from tests.live_helpers import wait_until
from tests.test_live_clips import recording_argv

pytestmark = pytest.mark.media
T0 = datetime(2026, 11, 30, 22, 0, tzinfo=timezone.utc)  # 06:00 on 2026-12-01 in the village


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "live.mkv"
    subprocess.run(recording_argv(out, 20), check=True, timeout=120)
    return out


@pytest.fixture
def farmer(session):
    return factories.user(session, "farmer", "wang")


@pytest.fixture
def broadcast(app, session, farmer, recording):
    """A 20 s live: 小米 on 1–8 s, 蜂蜜 on 8–9 s (too short for a clip), 小米 again from 9 s on."""
    millet = factories.product(session, farmer, name="巨鹿小米")
    honey = factories.product(session, farmer, name="槐花蜂蜜")
    row = LiveSession(host_id=farmer.id, station_id=app.config["STATION_ID"], started_at=T0,
                      ended_at=T0 + timedelta(seconds=20))
    session.add(row)
    session.flush()
    session.add_all([Recording(session_id=row.id, path=str(recording), opened_at=T0),
                     Segment(session_id=row.id, product_id=millet.id, start_s=1.0, end_s=8.0),
                     Segment(session_id=row.id, product_id=honey.id, start_s=8.0, end_s=9.0),
                     Segment(session_id=row.id, product_id=millet.id, start_s=9.0, end_s=None)])
    session.commit()
    return row, millet


def clips_of(api, row):
    return api.get(f"/api/sessions/{row.id}/clips").json


def own_worker(app, api, row, live_state, poll_s=0.2) -> ClipWorker:
    """The app's worker stopped, the session's clips queued, and a worker of the test's own
    (``live_state`` says whether a live runs), started."""
    app.extensions["cunbo.clips"].stop()
    api.post(f"/api/sessions/{row.id}/clips")
    worker = ClipWorker(app.extensions["cunbo.sessions"], Path(app.config["DATA_DIR"]) / "clips",
                        app.config["STATION_ID"], live_state, poll_s=poll_s)
    worker.start()
    return worker


def test_clips_are_queued_then_cut_in_the_background_and_downloadable(api_as, farmer, broadcast):
    row, millet = broadcast
    api = api_as(farmer)
    queued = api.post(f"/api/sessions/{row.id}/clips")
    assert queued.status_code == 202
    assert [(c["product_id"], c["aspect"], c["state"]) for c in queued.json] == [
        (millet.id, "16:9", "pending"), (millet.id, "9:16", "pending"),
        (millet.id, "16:9", "pending"), (millet.id, "9:16", "pending")]
    assert all(c["path"] is None for c in queued.json), "nothing has a file before it is done"
    assert wait_until(lambda: all(c["state"] == "done" for c in clips_of(api, row)), timeout=90, interval=0.5)
    clips = clips_of(api, row)
    assert [c["name"] for c in clips] == ["2026-12-01_巨鹿小米_1_16x9.mp4", "2026-12-01_巨鹿小米_1_9x16.mp4",
                                          "2026-12-01_巨鹿小米_2_16x9.mp4", "2026-12-01_巨鹿小米_2_9x16.mp4"]
    wide, tall = clips[0], clips[1]
    assert -1.0 <= wide["start_s"] <= 1.0 and tall["start_s"] == 1.0 and tall["end_s"] == 8.0
    assert all(c["size_bytes"] == Path(c["path"]).stat().st_size > 0 for c in clips)
    video = next(s for s in ffprobe(tall["path"])["streams"] if s["codec_type"] == "video")
    assert video["width"] * 16 == video["height"] * 9
    download = api.get(f"/api/clips/{tall['id']}/file?download=1")
    assert download.status_code == 200 and download.mimetype == "video/mp4"
    assert "attachment" in download.headers["Content-Disposition"]
    assert len(download.get_data()) == tall["size_bytes"]
    download.close()
    # Asking again keeps what is made: nothing is cut twice.
    assert {c["state"] for c in api.post(f"/api/sessions/{row.id}/clips").json} == {"done"}


def test_no_clips_while_the_session_is_live(api_as, session, farmer, broadcast):
    row, _ = broadcast
    session.execute(update(LiveSession).where(LiveSession.id == row.id).values(ended_at=None))
    session.commit()
    assert api_as(farmer).post(f"/api/sessions/{row.id}/clips").status_code == 409


def test_cancel_stops_the_clips_not_yet_made(api_as, farmer, broadcast):
    row, _ = broadcast
    api = api_as(farmer)
    api.post(f"/api/sessions/{row.id}/clips")
    assert api.post(f"/api/sessions/{row.id}/clips/cancel").json["cancelled"] >= 3
    time.sleep(1.5)
    states = [c["state"] for c in clips_of(api, row)]
    assert "pending" not in states and "running" not in states and states.count("cancelled") >= 3


def test_a_clip_half_made_when_the_server_died_is_redone_at_start(app, api_as, session, farmer, broadcast, tmp_path):
    row, _ = broadcast
    worker_app = app.extensions["cunbo.clips"]
    api = api_as(farmer)
    # The previous server queued the clips, was cutting the first when it died (kill -9).
    worker_app.stop()
    api.post(f"/api/sessions/{row.id}/clips")  # (the app's worker is stopped: nothing runs)
    first = session.scalars(select(Clip).where(Clip.session_id == row.id).order_by(Clip.id)).first()
    session.execute(update(Clip).where(Clip.id == first.id).values(state="running", progress=0.4))
    session.commit()
    clips_dir = Path(app.config["DATA_DIR"]) / "clips"
    (clips_dir / str(row.id)).mkdir(parents=True, exist_ok=True)
    half = clips_dir / str(row.id) / "2026-12-01_巨鹿小米_1_16x9.mp4.part"
    half.write_bytes(b"half a clip")
    assert clips_of(api, row)[0]["state"] == "running" and clips_of(api, row)[0]["path"] is None

    restarted = ClipWorker(app.extensions["cunbo.sessions"], clips_dir, app.config["STATION_ID"], lambda: "idle",
                           poll_s=0.2)
    restarted.start()
    try:
        assert not half.exists(), "the half-made file is removed at start"
        assert wait_until(lambda: all(c["state"] == "done" for c in clips_of(api, row)), timeout=90, interval=0.5)
    finally:
        restarted.stop()
    done = clips_of(api, row)[0]
    assert float(ffprobe(done["path"])["format"]["duration"]) >= 7.0


def test_clip_work_waits_while_a_live_runs(app, api_as, session, farmer, broadcast):
    row, _ = broadcast
    api = api_as(farmer)
    state = ["live"]
    worker = own_worker(app, api, row, lambda: state[0])
    try:
        time.sleep(1.5)
        assert {c["state"] for c in clips_of(api, row)} == {"pending"}, "nothing is cut while live"
        state[0] = "idle"
        assert wait_until(lambda: clips_of(api, row)[0]["state"] == "done", timeout=60, interval=0.3)
    finally:
        worker.stop()


def test_a_clip_whose_recording_is_gone_fails_and_the_worker_goes_on(app, api_as, session, farmer, broadcast):
    row, _ = broadcast
    app.extensions["cunbo.clips"].stop()
    api = api_as(farmer)
    api.post(f"/api/sessions/{row.id}/clips")
    session.execute(update(Recording).where(Recording.session_id == row.id).values(path="/nonexistent/live.mkv"))
    session.commit()
    worker = ClipWorker(app.extensions["cunbo.sessions"], Path(app.config["DATA_DIR"]) / "clips",
                        app.config["STATION_ID"], lambda: "idle", poll_s=0.2)
    worker.start()
    try:
        assert wait_until(lambda: all(c["state"] == "failed" for c in clips_of(api, row)), timeout=60, interval=0.3)
    finally:
        worker.stop()
    assert clips_of(api, row)[0]["error"] == "切片失败：录像文件读不了"


def test_only_a_coordinator_deletes_a_sessions_clips_and_their_files(api_as, session, farmer, broadcast):
    row, _ = broadcast
    api = api_as(farmer)
    api.post(f"/api/sessions/{row.id}/clips")
    assert wait_until(lambda: all(c["state"] == "done" for c in clips_of(api, row)), timeout=90, interval=0.5)
    paths = [Path(c["path"]) for c in clips_of(api, row)]
    assert api.delete(f"/api/sessions/{row.id}/clips").status_code == 403
    coordinator = api_as(factories.user(session, "coordinator", "zhang"))
    sizes = sum(p.stat().st_size for p in paths)
    assert coordinator.delete(f"/api/sessions/{row.id}/clips").json == {"deleted": 4, "size_bytes": sizes}
    assert clips_of(api, row) == [] and not any(p.exists() for p in paths)


def _clip_ffmpeg() -> list:
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if p.name() == "ffmpeg"]


def test_a_live_starting_stops_the_running_cut_at_once_not_at_the_next_look(app, api_as, session, farmer, broadcast):
    import psutil

    row, _ = broadcast
    api = api_as(farmer)
    state = ["idle"]
    # The watcher looks only every 30 s here: what stops the cut is hold(), as LiveService.start calls it.
    worker = own_worker(app, api, row, lambda: state[0], poll_s=30)
    worker.wake()
    try:
        assert wait_until(lambda: bool(_clip_ffmpeg()), timeout=30, interval=0.02)
        state[0] = "starting"
        worker.hold()
        assert wait_until(lambda: all(p.status() == psutil.STATUS_STOPPED for p in _clip_ffmpeg()),
                          timeout=0.5, interval=0.02), "the clip's ffmpeg is stopped within half a second"
        time.sleep(1.0)
        assert not any(c["state"] == "done" for c in clips_of(api, row) if c["aspect"] == "9:16")
    finally:
        worker.stop()


def test_a_live_start_holds_clip_work_before_its_broadcast_worker_opens(app, api_as, farmer, flat_video):
    service = app.extensions["cunbo.live"]
    seen: list[tuple[str, bool]] = []
    service.on_start(lambda: seen.append((service.status()["state"], service.worker is None)))
    api = api_as(farmer)
    started = api.post("/api/live/start", json={"video": str(flat_video), "audio": "none", "destinations": [],
                                                 "preset": "480p30"})
    try:
        assert started.status_code == 201, started.json
    finally:
        api.post("/api/live/stop")
    assert seen == [("starting", True)], "told once, while starting, before any broadcast worker"
