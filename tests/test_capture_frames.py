"""Pieces of the frame path and audio path that need no process: frame choice, conversion,
audio levels, sources that need no device, TS packet alignment."""
from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from capture.audio import FLOOR_DBFS, AudioMeter, SilenceSource, WavSource, dbfs_levels, make_audio_source
from capture.errors import AudioSourceError
from capture.frames import FrameBuffer, Timeline, bgr_to_i420, i420_planes, i420_to_bgr
from capture.relay import TS_PACKET, TsFanout, pat_offset
from capture.sources import CameraSource, FileSource, Grabber, VideoSource, TestPatternSource, make_video_source, parse_camera_spec
from capture.testing import make_wav, tone


def frame(n: int) -> np.ndarray:
    return np.full((6, 4), n, np.uint8)


def test_the_output_shows_due_frames_in_order_and_repeats_the_last_until_a_newer_one_is_due():
    buf = FrameBuffer(backlog=2)
    for i in range(2):
        buf.publish(i / 30, frame(i), 0.0)
    assert buf.due(-0.01) is None
    # A capture thread that was late hands over two due frames at once: both are shown, in order.
    assert buf.due(1 / 30 + 0.001).seq == 1
    assert buf.due(1 / 30 + 0.002).seq == 2
    assert buf.due(1 / 30 + 0.003).seq == 2  # nothing newer: the same frame again
    buf.clear()
    assert buf.due(1.0) is None


def test_no_more_than_the_backlog_waits_so_the_picture_is_never_more_than_two_frames_late():
    buf = FrameBuffer(backlog=2)
    for i in range(6):
        buf.publish(i / 30, frame(i), 0.0)
    assert buf.due(1.0).seq == 5  # frames 1-4 were due: the oldest two are skipped
    assert buf.due(1.0).seq == 6
    assert buf.due(1.0).seq == 6
    assert buf.newest() is not None and buf.newest().seq == 6


def test_bgr_becomes_i420_at_the_output_size_cropping_to_fill():
    bgr = np.zeros((480, 640, 3), np.uint8)  # 4:3 with red bars top and bottom
    bgr[:60] = bgr[-60:] = (0, 0, 255)
    out = bgr_to_i420(bgr, 1280, 720)
    assert out.shape == (1080, 1280)
    back = i420_to_bgr(out)
    assert back[5:-5, 5:-5].max() < 40  # 16:9 crop removed the bars
    y, u, v = i420_planes(out, 1280, 720)
    assert y.shape == (720, 1280) and u.shape == v.shape == (360, 640)


def test_video_specs_pick_the_source_kind():
    assert parse_camera_spec("0") == 0 and parse_camera_spec("/dev/video2") == "/dev/video2"
    assert parse_camera_spec("clip.mp4") is None
    assert isinstance(make_video_source("0", 640, 360, 30), CameraSource)
    assert isinstance(make_video_source("testsrc", 640, 360, 30), TestPatternSource)
    url = make_video_source("rtsp://cam.local/stream?key=secret123", 640, 360, 30)
    assert isinstance(url, FileSource) and not url.paced and "secret123" not in url.label
    assert make_video_source("/tmp/a.mp4", 640, 360, 30).paced


def test_the_test_pattern_moves():
    src = TestPatternSource(640, 360, 30)
    src.open()
    a, b = src.read(), src.read()
    src.close()
    assert a.shape == (360, 640, 3) and not np.array_equal(a, b)


def test_levels_are_in_dbfs_and_silence_is_the_floor():
    rms, peak = dbfs_levels(tone(0.5, amplitude=1.0))
    assert abs(rms - -3.0) < 0.2 and abs(peak - 0.0) < 0.1
    assert dbfs_levels(bytes(1000)) == (FLOOR_DBFS, FLOOR_DBFS)
    meter = AudioMeter()
    meter.update(tone(0.1, amplitude=1.0), now=10.0)
    meter.update(bytes(960), now=10.5)
    assert meter.rms_dbfs == FLOOR_DBFS and -11 < meter.peak_dbfs < -9  # the peak falls 20 dB/s


def test_wav_loops_or_pads_and_silence_is_zero(tmp_path: Path):
    wav = WavSource(make_wav(tmp_path / "t.wav", seconds=0.1), loop=True)
    wav.open()
    assert len(wav.read(48000)) == 96000 and dbfs_levels(wav.read(4800))[0] > -12
    once = WavSource(tmp_path / "t.wav", loop=False)
    once.open()
    data = once.read(9600)
    assert len(data) == 19200 and data[-9600:] == bytes(9600)
    assert SilenceSource().read(10) == bytes(20)
    assert isinstance(make_audio_source("none", 48000, True), SilenceSource)


def test_a_wav_that_is_not_16_bit_pcm_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(100))
    with pytest.raises(AudioSourceError, match="16"):
        WavSource(path, loop=False).open()
    with pytest.raises(AudioSourceError, match="打不开"):
        WavSource(tmp_path / "missing.wav", loop=False).open()


def ts_packet(pid: int, start: bool = True) -> bytes:
    return bytes([0x47, (0x40 if start else 0) | (pid >> 8), pid & 0xFF, 0x10]) + bytes(TS_PACKET - 4)


def test_fanout_hands_relays_whole_packets_and_a_joining_relay_starts_at_a_pat():
    class Sink:
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def feed(self, chunk: bytes) -> None:
            self.chunks.append(chunk)

    stream = ts_packet(0x100) + ts_packet(0x101) + ts_packet(0) + ts_packet(0x100)
    fan, sink = TsFanout(), Sink()
    fan.relays = [sink]  # type: ignore[list-item]
    fan.feed(stream[:200])
    fan.feed(stream[200:])
    assert [len(c) for c in sink.chunks] == [188, 3 * 188] and b"".join(sink.chunks) == stream
    assert pat_offset(stream) == 2 * TS_PACKET and pat_offset(ts_packet(0x100)) is None


class SlowToReopen(VideoSource):
    """A paced 30 fps "file" of 15 frames whose every open takes as long as a busy PC's reopen."""

    paced, fps, label = True, 30.0, "slow file"

    def __init__(self, open_s: float) -> None:
        self.open_s, self.left, self.opens = open_s, 0, 0

    def open(self) -> None:
        time.sleep(self.open_s)
        self.left, self.opens = 15, self.opens + 1

    def read(self) -> np.ndarray | None:
        if self.left == 0:
            return None
        self.left -= 1
        return np.zeros((8, 8, 3), np.uint8)

    def close(self) -> None:
        self.left = 0


def test_a_looped_file_that_is_slow_to_reopen_repeats_no_frame():
    """Found in the soak: each loop of the source file showed a frame or two twice."""
    source, buffer, timeline = SlowToReopen(open_s=0.15), FrameBuffer(), Timeline()
    source.open()
    grabber = Grabber(source, buffer, timeline, (8, 8), loop=True, backoff=(0.1, 1.0), on_state=lambda *_: None)
    grabber.start(already_open=True)
    try:
        time.sleep(0.5)  # the first second of a live may repeat while the lead builds up
        timeline_start = timeline.now()
        shown, repeated = 0, 0
        for tick in range(75):  # 2.5 s: at least four reopens
            due = timeline_start + tick / 30
            time.sleep(max(0.0, due - timeline.now()))
            frame = buffer.due(due + 1 / 60)
            assert frame is not None
            repeated += frame.seq == shown
            shown = frame.seq
        assert source.opens >= 4
        assert repeated == 0
    finally:
        grabber.stop(2.0)
