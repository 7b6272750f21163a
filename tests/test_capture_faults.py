"""Faults for real: the ingest server crashes and comes back, the source file vanishes, the
encoder is killed, the whole pipeline process is killed with -9. The broadcast never freezes
and the recording always plays."""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from capture.overlay import SLATE_BG, OverlayScene
from capture.testing import decode_count, ffprobe

pytestmark = [pytest.mark.media, pytest.mark.usefixtures("no_capture_leaks")]

ROOT = Path(__file__).resolve().parents[1]
FLAT_BGR = (153, 102, 51)


def mean_bgr(frame: np.ndarray, y: int, x: int, size: int = 40) -> np.ndarray:
    return frame[y:y + size, x:x + size].reshape(-1, 3).mean(axis=0)


def test_rtmp_server_crash_and_return_the_recording_continues_and_the_push_resumes(
        rtmp_server, capture_settings, start_capture, video_factory, caplog):
    caplog.set_level(logging.DEBUG, logger="capture")
    url = rtmp_server.url("crash-key-abcdef")
    sup = start_capture(capture_settings(video=str(video_factory()), destinations=[url]))
    assert sup.wait_for(lambda s: s["destinations"][0]["state"] == "live", 15), sup.status()
    encoder_pid = sup.status()["encoder_pid"]

    rtmp_server.kill()
    assert sup.wait_for(lambda s: s["destinations"][0]["state"] in ("retrying", "connecting"), 10)
    frames = sup.status()["frames_out"]
    time.sleep(1.5)
    status = sup.status()
    assert status["state"] == "live" and status["frames_out"] > frames + 30  # never froze
    assert status["encoder_pid"] == encoder_pid  # the recording was never interrupted

    rtmp_server.start()  # same port, as a platform coming back
    assert sup.wait_for(lambda s: s["destinations"][0]["state"] == "live", 15), sup.status()
    assert next(s for s in ffprobe(url)["streams"] if s["codec_type"] == "video")["codec_name"] == "h264"

    result = sup.stop()
    assert len(result.recordings) == 1
    frames, last_s, errors = decode_count(result.recordings[0])
    assert frames >= (result.duration_s - 1.0) * 30 and not errors  # no gap while the server was down
    assert "destination rtmp://127.0.0.1" in caplog.text  # the relay's failure was logged...
    assert "crash-key-abcdef" not in caplog.text  # ...with the key masked


def test_source_file_vanishing_shows_the_slate_then_recovers(
        capture_settings, start_capture, video_factory, tmp_path: Path):
    source = tmp_path / "clip.mp4"
    shutil.copy(video_factory(seconds=1.0, pattern="color"), source)
    events: list[tuple[str, dict]] = []
    sup = start_capture(capture_settings(video=str(source)), on_event=lambda k, d: events.append((k, d)))
    sup.set_scene(OverlayScene(product_name="土鸡蛋", price_fen=1500, unit="盒"))
    assert sup.wait_for(lambda s: s["state"] == "live", 10)
    pid = sup.status()["encoder_pid"]

    source.unlink()  # the next loop cannot reopen it
    assert sup.wait_for(lambda s: s["source_state"] == "lost", 5), sup.status()
    time.sleep(0.3)
    slate = sup.latest_frame()
    assert np.all(np.abs(mean_bgr(slate, 40, 400) - SLATE_BG[::-1]) < 8)  # "画面中断，正在重连…"
    assert sup.status()["state"] == "reconnecting"
    frames = sup.status()["frames_out"]
    time.sleep(1.0)
    assert sup.status()["frames_out"] >= frames + 25  # the stream keeps going on the slate

    shutil.copy(video_factory(seconds=1.0, pattern="color"), source)
    assert sup.wait_for(lambda s: s["source_state"] == "ok" and s["state"] == "live", 5), sup.status()
    time.sleep(0.3)
    assert np.all(np.abs(mean_bgr(sup.latest_frame(), 40, 400) - FLAT_BGR) < 8)
    assert sup.status()["encoder_pid"] == pid
    states = [d["state"] for k, d in events if k == "state"]
    assert states[-2:] == ["reconnecting", "live"]
    sup.stop()


def test_a_killed_encoder_restarts_and_the_recording_continues_in_a_new_segment(
        capture_settings, start_capture):
    sup = start_capture(capture_settings())
    assert sup.wait_for(lambda s: s["state"] == "live" and s["frames_out"] > 75, 10)
    first_pid = sup.status()["encoder_pid"]
    os.kill(first_pid, signal.SIGKILL)
    assert sup.wait_for(lambda s: len(s["recordings"]) == 2 and s["encoder_pid"] != first_pid, 10), sup.status()
    assert sup.wait_for(lambda s: s["state"] == "live", 10)
    frames = sup.status()["frames_out"]
    time.sleep(1.5)
    assert sup.status()["frames_out"] > frames + 30
    result = sup.stop()
    assert len(result.recordings) == 2
    for segment in result.recordings:
        decoded, _, _ = decode_count(segment)
        assert decoded > 30, segment  # ≥ 1 s of each; the killed one loses its open cluster
    assert sorted(s["codec_name"] for s in ffprobe(result.recordings[1])["streams"]) == ["aac", "h264"]


def test_kill_9_of_the_pipeline_process_leaves_a_playable_recording(flat_video, tmp_path: Path):
    recordings = tmp_path / "rec"
    proc = subprocess.Popen(
        [sys.executable, "-m", "capture", "--video", str(flat_video), "--audio", "none", "--preset", "480p30",
         "--recording-dir", str(recordings), "--seconds", "60", "--status-every", "0.25",
         "--product", "小米", "--price-fen", "800"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            status = json.loads(line)
            assert "error" not in status, status
            if status["frames_out"] >= 150:
                break
        os.killpg(proc.pid, signal.SIGKILL)  # python and its ffmpeg die at once: a power cut
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    files = sorted(recordings.glob("*.mkv"))
    assert len(files) == 1
    frames, last_s, _ = decode_count(files[0])
    assert frames >= 90 and last_s >= 3.0  # ≥ 3 of the 5 s; Matroska loses at most its open cluster
    assert next(s for s in ffprobe(files[0])["streams"] if s["codec_type"] == "video")["codec_name"] == "h264"
