"""Clips cut from a real recording (ffmpeg, keyframes every 2 s as our encoder writes them)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from capture.ffmpeg import RECORDING_MUXER
from capture.overlay import Box, OverlayScene, product_card_box
from capture.testing import decode_count, ffprobe
from live.clips import (
    KEYFRAME_INTERVAL_S, ClipPlan, Control, RecordingFile, clip_filename, copy_argv, cut_vertical, cut_wide,
    pieces_for, plan_clips, price_band, vertical_argv, vertical_crop, vertical_filter,
)

FPS = 30


def recording_argv(out: Path, seconds: float, *, realtime: bool = False) -> list[str]:
    """A Matroska recording like the encoder's: H.264 with a keyframe every 2 s, AAC, 640×360."""
    pace = ["-re"] if realtime else []
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *pace,
            "-f", "lavfi", "-i", f"testsrc2=s=640x360:r={FPS}:d={seconds}",
            "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-g", str(2 * FPS), "-keyint_min", str(2 * FPS), "-sc_threshold", "0", "-c:a", "aac",
            "-f", RECORDING_MUXER.split(":")[0], "-cluster_time_limit", "1000", "-flush_packets", "1", str(out)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "live.mkv"
    subprocess.run(recording_argv(out, 30), check=True, timeout=120)
    return out


def duration(path: Path) -> float:
    return float(ffprobe(path)["format"]["duration"])


def video_stream(path: Path) -> dict:
    return next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")


# --- planning, pure ------------------------------------------------------------------------------

def test_short_segments_are_skipped_and_long_ones_trimmed_to_the_window_with_most_orders():
    segments = [(1, 0.0, 2.9), (2, 2.9, 20.0), (1, 20.0, 200.0), (3, 200.0, None)]
    orders = [25.0, 120.0, 130.0, 150.0, 190.0]
    plans = plan_clips(segments, duration_s=230.0, order_times=orders, limit_s=60)
    assert plans == [
        ClipPlan(2, 1, 2.9, 20.0),
        # 115–175 holds the orders at 120, 130 and 150 (the window opens 5 s before the first)
        ClipPlan(1, 1, 115.0, 175.0, trimmed=True),
        ClipPlan(3, 1, 200.0, 230.0),
    ]


def test_a_long_segment_without_orders_keeps_its_first_minute():
    assert plan_clips([(1, 10.0, 100.0)], 100.0, [], limit_s=60) == [ClipPlan(1, 1, 10.0, 70.0, trimmed=True)]


def test_a_segment_across_two_files_is_cut_from_both():
    files = [RecordingFile(Path("a.mkv"), 0.0), RecordingFile(Path("b.mkv"), 50.0)]
    assert [(p.path.name, p.start_s, p.end_s) for p in pieces_for(40.0, 70.0, files)] == [
        ("a.mkv", 40.0, 50.0), ("b.mkv", 0.0, 20.0)]
    assert [(p.path.name, p.start_s) for p in pieces_for(55.0, 60.0, files)] == [("b.mkv", 5.0)]


def test_clips_are_named_with_the_date_and_the_product():
    assert clip_filename("巨鹿 小米/5斤", date(2026, 12, 1), 2, "9:16") == "2026-12-01_巨鹿_小米_5斤_2_9x16.mp4"


def test_vertical_crop_is_exactly_9_by_16_with_even_sides():
    assert vertical_crop(1280, 720) == (396, 704, 442)
    assert vertical_crop(640, 360) == (198, 352, 220) or vertical_crop(640, 360)[:2] == (180, 320)
    w, h, x = vertical_crop(1280, 720, centre_x=0.0)
    assert x == 0 and w * 16 == h * 9


def test_argv_is_data_copy_for_16_9_and_x264_yuv420p_for_9_16():
    wide = copy_argv("ffmpeg", Path("in.mkv"), 4.0, 10.0, Path("out.mp4"))
    assert wide[wide.index("-c") + 1] == "copy" and wide[wide.index("-ss") + 1] == "4.000"
    tall = vertical_argv("ffmpeg", Path("w.mp4"), 1.0, 8.0, (1280, 720), Path("t.mp4"))
    assert tall[tall.index("-c:v") + 1] == "libx264" and tall[tall.index("-pix_fmt") + 1] == "yuv420p"
    assert "crop=396:704:442:8,setsar=1" in tall


# --- real ffmpeg ---------------------------------------------------------------------------------


@pytest.mark.media
@pytest.mark.parametrize("start, end", [(5.0, 12.5), (9.3, 21.0)])
def test_a_16_9_clip_starts_at_most_one_keyframe_early_and_a_9_16_one_is_exact(tmp_path, recording, start, end):
    plan = ClipPlan(7, 1, start, end)
    wide = cut_wide("ffmpeg", "ffprobe", plan, [RecordingFile(recording, 0.0)], tmp_path / "w.mp4", Control())
    assert start - KEYFRAME_INTERVAL_S - 0.01 <= wide.start_s <= start
    assert abs(wide.start_s / KEYFRAME_INTERVAL_S - round(wide.start_s / KEYFRAME_INTERVAL_S)) < 0.02, "on a keyframe"
    assert end - wide.start_s - 0.1 <= duration(wide.path) <= end - wide.start_s + 0.15
    assert not list(tmp_path.glob("*.part"))

    tall = cut_vertical("ffmpeg", "ffprobe", plan, wide, tmp_path / "t.mp4", Control())
    stream = video_stream(tall.path)
    assert stream["width"] * 16 == stream["height"] * 9 and stream["pix_fmt"] == "yuv420p"
    assert abs(duration(tall.path) - (end - start)) <= 0.15
    frames, _, errors = decode_count(tall.path)
    assert errors == "" and abs(frames - (end - start) * FPS) <= 3


@pytest.mark.media
def test_a_recording_cut_by_kill_9_still_gives_clips(tmp_path):
    crashed = tmp_path / "crashed.mkv"
    proc = subprocess.Popen(recording_argv(crashed, 60, realtime=True), start_new_session=True)
    try:
        time.sleep(9)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    assert ffprobe(crashed)["format"].get("duration") in (None, "N/A"), "a killed recording has no duration"
    plan = ClipPlan(1, 1, 3.0, 7.0)
    wide = cut_wide("ffmpeg", "ffprobe", plan, [RecordingFile(crashed, 0.0)], tmp_path / "w.mp4", Control())
    assert 4.0 - 0.1 <= duration(wide.path) <= 4.0 + KEYFRAME_INTERVAL_S + 0.15
    tall = cut_vertical("ffmpeg", "ffprobe", plan, wide, tmp_path / "t.mp4", Control())
    assert abs(duration(tall.path) - 4.0) <= 0.15 and decode_count(tall.path)[2] == ""


@pytest.mark.media
def test_a_segment_spanning_two_recordings_is_joined(tmp_path, recording):
    files = [RecordingFile(recording, 0.0), RecordingFile(recording, 30.0)]  # the same file played twice
    plan = ClipPlan(1, 1, 24.0, 36.0)
    wide = cut_wide("ffmpeg", "ffprobe", plan, files, tmp_path / "w.mp4", Control())
    assert 24.0 - KEYFRAME_INTERVAL_S - 0.05 <= wide.start_s <= 24.0
    assert abs(duration(wide.path) - (36.0 - wide.start_s)) <= 0.3
    assert decode_count(wide.path)[2] == ""
    assert not list(tmp_path.glob("w.mp4.*"))


@pytest.mark.media
def test_a_cancelled_cut_kills_its_ffmpeg_and_leaves_no_clip(tmp_path, recording):
    from live.clips import Cancelled

    control = Control()
    control.cancel.set()
    with pytest.raises(Cancelled):
        cut_vertical("ffmpeg", "ffprobe", ClipPlan(1, 1, 0.0, 20.0),
                     cut_wide("ffmpeg", "ffprobe", ClipPlan(1, 1, 0.0, 20.0), [RecordingFile(recording, 0.0)],
                              tmp_path / "w.mp4", Control()),
                     tmp_path / "t.mp4", control)
    assert not (tmp_path / "t.mp4").exists() and not (tmp_path / "t.mp4.part").exists()


@pytest.mark.media
def test_a_paused_cut_starts_no_ffmpeg_and_finishes_once_resumed(tmp_path, recording):
    import threading

    plan = ClipPlan(1, 1, 0.0, 20.0)
    wide = cut_wide("ffmpeg", "ffprobe", plan, [RecordingFile(recording, 0.0)], tmp_path / "w.mp4", Control())
    control = Control()
    control.paused.set()  # a live is on
    seen: list[float] = []
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(
        cut_vertical("ffmpeg", "ffprobe", plan, wide, tmp_path / "t.mp4", control, seen.append)))
    worker.start()
    time.sleep(1.5)
    part = tmp_path / "t.mp4.part"
    size = part.stat().st_size if part.exists() else 0
    time.sleep(1.5)
    assert (part.stat().st_size if part.exists() else 0) == size and not done, "nothing is written while paused"
    import psutil

    assert not [p for p in psutil.Process().children(recursive=True) if p.name() in ("ffmpeg", "ffprobe")], \
        "a cut paused before it began starts no ffmpeg at all"
    control.paused.clear()
    worker.join(60)
    assert done and abs(duration(tmp_path / "t.mp4") - 20.0) <= 0.15


# --- the vertical clip follows the product and keeps the price card ---------------------------------

CARD_SCENE = OverlayScene(product_name="巨鹿小米", price_fen=1800, unit="斤", stock=20, link_no=1, origin="河北巨鹿")
MARKER_X = 384  # a white stripe where "the product" is: 0.6 of a 640 px frame


@pytest.fixture(scope="module")
def carded_recording(tmp_path_factory) -> tuple[Path, Box]:
    """8 s of grey 640×360 with a red box exactly where the compositor puts CARD_SCENE's price card
    and a white stripe (the product) at 0.6 of the width; keyframes every 2 s."""
    card = product_card_box(CARD_SCENE, 640, 360)
    assert card is not None
    out = tmp_path_factory.mktemp("carded") / "live.mkv"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=0x404040:s=640x360:r={FPS}:d=8,"
                    f"drawbox=x={card.x}:y={card.y}:w={card.w}:h={card.h}:color=red@1:t=fill,"
                    f"drawbox=x={MARKER_X - 4}:y=0:w=8:h=360:color=white@1:t=fill",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(2 * FPS),
                    "-keyint_min", str(2 * FPS), "-sc_threshold", "0", "-f", "matroska", str(out)],
                   check=True, timeout=120)
    return out, card


def middle_frame(path: Path):
    import cv2

    video = cv2.VideoCapture(str(path))
    try:
        video.set(cv2.CAP_PROP_POS_FRAMES, int(video.get(cv2.CAP_PROP_FRAME_COUNT)) // 2)
        ok, frame = video.read()
    finally:
        video.release()
    assert ok, f"{path} does not decode"
    return frame


def test_a_vertical_crop_centres_on_the_product_as_far_as_the_frame_allows():
    assert vertical_crop(1280, 720, centre_x=0.75) == (396, 704, 762)  # 960 − 198, even
    assert vertical_crop(1280, 720, centre_x=0.98)[2] == 1280 - 396  # clamped to the right edge
    assert vertical_crop(1280, 720, centre_x=0.02)[2] == 0


def test_a_vertical_clip_of_a_landscape_recording_gets_a_price_band_a_portrait_one_needs_none():
    card = product_card_box(CARD_SCENE, 1280, 720)
    assert card is not None
    landscape = vertical_filter((1280, 720), 0.5, card)
    assert landscape[0] == "-filter_complex" and landscape[-2:] == ["-map", "[v]"]
    assert f"crop={card.w}:{card.h}:{card.x}:{card.y}" in landscape[1], "the card is cut from the recording's frame"
    band, at = price_band(card, 8, 396, 704)
    assert band.w == 396 and band.y <= at.y and at.y + at.h <= band.y + band.h and at.x + at.w <= 396
    # A portrait recording is already 9:16: its card is inside the crop and nothing is added.
    assert vertical_filter((720, 1280), 0.2, product_card_box(CARD_SCENE, 720, 1280))[0] == "-vf"


@pytest.mark.media
@pytest.mark.parametrize("position, marker_at", [(None, MARKER_X - 220), (0.6, 99)])
def test_a_vertical_clip_follows_the_known_position_and_shows_the_whole_price_card(
        tmp_path, carded_recording, position, marker_at):
    import numpy as np

    recording, card = carded_recording
    plan = ClipPlan(1, 1, 2.0, 6.0)
    wide = cut_wide("ffmpeg", "ffprobe", plan, [RecordingFile(recording, 0.0)], tmp_path / "w.mp4", Control())
    tall = cut_vertical("ffmpeg", "ffprobe", plan, wide, tmp_path / "t.mp4", Control(), centre_x=position,
                        card=CARD_SCENE)
    stream = video_stream(tall.path)
    w, h = stream["width"], stream["height"]
    assert (w, h) == (198, 352) and stream["pix_fmt"] == "yuv420p"
    assert decode_count(tall.path)[2] == ""
    frame = middle_frame(tall.path).astype(int)  # BGR
    # The product: the white stripe sits where the crop put it (the centre when the position is known).
    bright = np.flatnonzero(frame[100, :, :].min(axis=1) > 200)
    assert bright.size and abs(bright.mean() - marker_at) <= 3, (bright, marker_at)
    # The whole price card is in the band, scaled; beside it the band is the card's dark background.
    band, at = price_band(card, 4, w, h)
    inner = frame[at.y + 3:at.y + at.h - 3, at.x + 3:at.x + at.w - 3]
    b, g, r = (inner[..., i].mean() for i in range(3))
    assert r > 180 and g < 80 and b < 80, (b, g, r)
    beside = frame[band.y + 3:band.y + band.h - 3, at.x + at.w + 4:w - 2]
    assert beside.mean() < 40, "no half card or video beside the card in the band"
