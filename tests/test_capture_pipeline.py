"""The real path end to end: a generated file through cv2.VideoCapture, the overlay, one ffmpeg
encode, a real nginx-rtmp, read back with ffprobe/ffmpeg; the recording after stop."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.errors import CameraNotFound, VideoSourceError
from capture.overlay import ACCENT, OverlayScene
from capture.supervisor import Supervisor
from capture.testing import decode_count, ffprobe, grab_frame

pytestmark = [pytest.mark.media, pytest.mark.usefixtures("no_capture_leaks")]

APPLES = OverlayScene(product_name="烟台红富士苹果", price_fen=2550, unit="斤", stock=120, link_no=3,
                      origin="山东烟台", farmer_name="张大姐", village="王家村")
FLAT_BGR = (153, 102, 51)  # the flat test video, RGB 0x336699


def accent_bar(frame: np.ndarray, supervisor: Supervisor) -> np.ndarray:
    """Mean BGR of the product card's opaque accent bar (inside its left edge, away from corners)."""
    box = supervisor.compositor.boxes()["product"]
    return frame[box.y + 16:box.y + box.h - 16, box.x + 2:box.x + 6].reshape(-1, 3).mean(axis=0)


def is_accent(bgr: np.ndarray) -> bool:
    r, g, b = ACCENT[:3]
    return bool(np.all(np.abs(bgr - (b, g, r)) < 30))


def test_stream_reaches_rtmp_as_h264_aac_with_the_price_card_and_the_recording_plays(
        rtmp_server, capture_settings, start_capture, flat_video, wav_file):
    url = rtmp_server.url("farm-key-0123456789")
    sup = start_capture(capture_settings(video=str(flat_video), audio=str(wav_file), destinations=[url]))
    sup.set_scene(APPLES)
    assert sup.wait_for(lambda s: s["destinations"][0]["state"] == "live", 15), sup.status()

    info = ffprobe(url)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 854, 480)
    assert video["r_frame_rate"] == "30/1" or video["avg_frame_rate"] == "30/1"
    assert audio["codec_name"] == "aac"

    frame = grab_frame(url, (854, 480))
    assert is_accent(accent_bar(frame, sup)), accent_bar(frame, sup)
    assert np.all(np.abs(frame[200:260, 400:460].reshape(-1, 3).mean(axis=0) - FLAT_BGR) < 12)  # no card there

    status = sup.status()
    assert status["state"] == "live" and status["source_state"] == "ok"
    assert 27 <= status["fps"] <= 33 and status["dropped"] == 0, status
    assert status["bitrate_kbps"] > 100 and status["audio_level_dbfs"] > -20
    assert "0123456789" not in repr(status) and status["destinations"][0]["url"].endswith("fa****89")

    result = sup.stop()
    assert len(result.recordings) == 1
    recorded = ffprobe(result.recordings[0])
    codecs = sorted(s["codec_name"] for s in recorded["streams"])
    assert codecs == ["aac", "h264"]
    assert abs(float(recorded["format"]["duration"]) - result.duration_s) < 1.5
    frames, _, errors = decode_count(result.recordings[0])
    assert frames >= (result.duration_s - 1.0) * 30 and not errors


def test_output_holds_the_frame_rate_repeating_a_slow_source_and_skipping_a_fast_one(
        capture_settings, start_capture, video_factory):
    slow = start_capture(capture_settings(video=str(video_factory(fps=15)), record=False))
    fast = start_capture(capture_settings(video=str(video_factory(fps=60)), record=False))
    time.sleep(3.5)
    for sup in (slow, fast):
        status = sup.status()
        assert 27 <= status["fps"] <= 33, status
        assert status["dropped_output"] == 0, status
    slow_status, fast_status = slow.status(), fast.status()
    # 15 fps into 30: every other output frame repeats; 60 into 30: every other source frame goes.
    assert 0.4 <= slow_status["duplicated"] / slow_status["frames_out"] <= 0.6, slow_status
    assert 0.8 <= fast_status["dropped_source"] / fast_status["frames_out"] <= 1.2, fast_status
    assert fast_status["duplicated"] <= 3
    slow.stop()
    fast.stop()


def test_a_scene_change_is_on_the_very_next_output_frame(capture_settings, start_capture, flat_video):
    sup = start_capture(capture_settings(video=str(flat_video), record=False))
    assert sup.wait_for(lambda s: s["state"] == "live", 10)
    before = sup.status()["frames_out"]
    asked = time.monotonic()
    version = sup.set_scene(APPLES)
    shown_at = sup.wait_scene_out(version, timeout=2)
    assert shown_at is not None and shown_at - asked < 2 / 30 + 0.05  # render + at most one frame
    assert sup.status()["scene_frames"] <= before + 2
    assert is_accent(accent_bar(sup.latest_frame(), sup))

    box = sup.compositor.boxes()["product"]
    sup.wait_scene_out(sup.set_scene(OverlayScene()), timeout=2)
    empty = sup.latest_frame()
    assert "product" not in sup.compositor.boxes()
    assert np.all(np.abs(empty[box.y + 16:box.y + box.h - 16, box.x + 2:box.x + 6].reshape(-1, 3).mean(axis=0) - FLAT_BGR) < 6)
    sup.stop()


def test_preview_encodes_only_while_watched_and_portrait_records_9_16(capture_settings, start_capture):
    sup = start_capture(capture_settings(layout="portrait"))
    assert sup.wait_for(lambda s: s["state"] == "live", 10)
    time.sleep(0.5)
    assert sup.preview_stats()[0] == 0  # nobody watching: no JPEG work at all

    frames = sup.mjpeg_frames()
    started = time.monotonic()
    jpegs = [next(frames) for _ in range(10)]
    elapsed = time.monotonic() - started
    assert sup.status()["preview_subscribers"] == 1
    frames.close()
    assert sup.status()["preview_subscribers"] == 0
    assert elapsed >= 9 / 15 - 0.05  # at most 15 fps
    image = cv2.imdecode(np.frombuffer(jpegs[-1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (640, 360)  # 480×854 scaled so the long side is 640
    encoded = sup.preview_stats()[0]
    time.sleep(0.5)
    assert sup.preview_stats()[0] <= encoded + 1  # stopped with the last subscriber

    result = sup.stop()
    video = next(s for s in ffprobe(result.recordings[0])["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (480, 854)


def test_a_missing_camera_or_file_is_a_clear_error_and_nothing_keeps_running(capture_settings, tmp_path: Path):
    events: list[tuple[str, dict]] = []
    sup = Supervisor(capture_settings(video="7"), on_event=lambda kind, data: events.append((kind, data)))
    with pytest.raises(CameraNotFound) as caught:
        sup.start()
    assert str(caught.value) == "摄像头没有连接，请插好摄像头再试" and caught.value.en == "camera 7 not found"
    assert sup.state == "idle" and ("state", {"state": "idle", "previous": "starting"}) in events

    with pytest.raises(VideoSourceError, match="找不到视频文件"):
        Supervisor(capture_settings(video=str(tmp_path / "gone.mp4"))).start()
