"""Video sources behind one interface, and the capture thread that keeps their newest frames.

- :class:`CameraSource`: a webcam by index ("0") or device path, at a requested size and rate.
- :class:`FileSource`: a video file or URL; files are paced to real time (OpenCV decodes them
  as fast as it can, ~500 fps at 720p) and looped by reopening the path, which also notices a
  file that vanished or was replaced.
- :class:`TestPatternSource`: colour bars, a running clock and "测试画面".

Sources return BGR frames; the :class:`Grabber` converts them to the output size in I420 on its
own thread, so that work overlaps the output loop on a second core.
"""
from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

from capture.errors import N_, CameraNotFound, CaptureError, VideoSourceError
from capture.frames import FrameBuffer, Timeline, bgr_to_i420
from capture.redact import mask_url

log = logging.getLogger(__name__)

LIVE_URL_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "udp", "srt", "tcp", "rtp"})
TEST_PATTERN = "testsrc"
DECODE_THREADS = 1  # FileSource.open says why


@functools.cache
def quiet_opencv() -> None:
    """OpenCV writes warnings straight to stderr (e.g. for every missing camera); we report
    errors ourselves, in words a farmer can act on."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class VideoSource(ABC):
    """One video source. ``open`` raises a :class:`CaptureError`; ``read`` never raises."""

    label: str = ""  # safe to log and show (URLs masked)
    paced: bool = False  # True: frames carry media time and the grabber paces them
    fps: float = 30.0  # media frame rate of a paced source

    @abstractmethod
    def open(self) -> None:
        """Open the source and check that it delivers a frame; raises a CaptureError if not."""

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at end of file or when the source is lost."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice."""


class OpenCVSource(VideoSource):
    """A source read through cv2.VideoCapture; ``open`` keeps the first frame it checked with."""

    _cap: cv2.VideoCapture | None = None
    _first: np.ndarray | None = None

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        return frame if ok else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def parse_camera_spec(spec: str) -> int | str | None:
    """``"0"`` → 0, ``"/dev/video2"`` → the path, anything else → None (not a camera)."""
    if spec.isdigit():
        return int(spec)
    if spec.startswith("/dev/video") or (sys.platform == "win32" and spec.lower().startswith("video=")):
        return spec
    return None


class CameraSource(OpenCVSource):
    """A webcam through cv2.VideoCapture (V4L2 on Linux)."""

    paced = False

    def __init__(self, device: int | str, width: int, height: int, fps: int) -> None:
        self.device = device
        self.label = f"camera {device}"
        self.request = (width, height, fps)
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None

    def open(self) -> None:
        """Raises :class:`CameraNotFound` when the camera is missing or gives no picture."""
        quiet_opencv()
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        if isinstance(self.device, str) and not self.device.startswith("video=") and not Path(self.device).exists():
            raise CameraNotFound(N_("摄像头没有连接，请插好摄像头再试"), f"camera {self.device} not found")
        cap = cv2.VideoCapture(self.device, backend)
        if not cap.isOpened():
            cap.release()
            raise CameraNotFound(N_("摄像头没有连接，请插好摄像头再试"), f"camera {self.device} not found")
        width, height, fps = self.request
        # MJPG first: most USB webcams only reach 720p30 compressed.
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise CameraNotFound(N_("摄像头打开了但没有画面，请换个 USB 口再试"), f"camera {self.device} gives no frames")
        self._cap, self._first = cap, frame


class FileSource(OpenCVSource):
    """A video file or URL through cv2.VideoCapture. Files are paced; live URLs are not."""

    def __init__(self, target: str, default_fps: float) -> None:
        self.target = target
        scheme = urlsplit(target).scheme.lower() if "://" in target else ""
        self.is_url = bool(scheme)
        self.paced = scheme not in LIVE_URL_SCHEMES
        self.label = mask_url(target) if self.is_url else Path(target).name
        self.fps = default_fps
        self._default_fps = default_fps
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None

    def open(self) -> None:
        """Raises :class:`VideoSourceError` when the file is missing or cannot be decoded."""
        quiet_opencv()
        if not self.is_url and not Path(self.target).is_file():
            raise VideoSourceError(N_("找不到视频文件"), f"video file not found: {self.label}")
        # One decoding thread: frame threading costs ~0.35 ms of CPU more per 720p frame in
        # hand-overs, and a single thread still decodes a 25 Mbit/s 720p file at ~90 fps here.
        cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, DECODE_THREADS])
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            cap.release()
            raise VideoSourceError(N_("视频打不开或不是视频"), f"cannot decode video: {self.label}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        # Some containers report 0, NaN or 1000 (a timebase): fall back to the output rate.
        self.fps = fps if 1 <= fps <= 120 else self._default_fps
        self._cap, self._first = cap, frame


class TestPatternSource(VideoSource):
    """Colour bars with "测试画面", a clock and a frame counter, drawn at the output size."""

    paced = True
    __test__ = False  # not a pytest class, whatever the name says

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.label = "test pattern"
        self.fps = float(fps)
        self.size = (width, height)
        self._background: np.ndarray | None = None
        self._count = 0
        self._stamp_y = 0

    def open(self) -> None:
        """Draws the static part once; never raises."""
        from capture.overlay import render_text_bgr  # the overlay owns the CJK font

        width, height = self.size
        bars = [(192, 192, 192), (0, 192, 192), (192, 192, 0), (0, 192, 0),
                (192, 0, 192), (0, 0, 192), (192, 0, 0)]  # BGR: grey, yellow, cyan, green, magenta, red, blue
        img = np.zeros((height, width, 3), np.uint8)
        bar_h = height * 2 // 3
        for i, colour in enumerate(bars):
            img[:bar_h, i * width // len(bars):(i + 1) * width // len(bars)] = colour
        img[bar_h:] = np.linspace(16, 235, width, dtype=np.uint8)[None, :, None]
        title = render_text_bgr("测试画面", max(24, height // 10), (255, 255, 255), (0, 0, 0))
        th, tw = title.shape[:2]
        x0, y0 = (width - tw) // 2, bar_h // 2 - th // 2
        img[y0:y0 + th, x0:x0 + tw] = title
        # The clock sits under the title, clear of the corners where the overlay cards go.
        self._stamp_y = y0 + th + int(48 * height / 480)
        self._background = img
        self._count = 0

    def read(self) -> np.ndarray | None:
        if self._background is None:
            return None
        frame = self._background.copy()
        width, height = self.size
        self._count += 1
        stamp = time.strftime("%H:%M:%S") + f"  #{self._count}"
        scale = height / 480
        thickness = max(1, int(2 * scale))
        (text_w, _), _ = cv2.getTextSize(stamp, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.putText(frame, stamp, ((width - text_w) // 2, self._stamp_y), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(frame, stamp, ((width - text_w) // 2, self._stamp_y), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), thickness, cv2.LINE_AA)
        return frame

    def close(self) -> None:
        self._background = None


def make_video_source(spec: str, width: int, height: int, fps: int) -> VideoSource:
    """The source for a settings ``video`` value (not opened yet)."""
    if spec == TEST_PATTERN:
        return TestPatternSource(width, height, fps)
    device = parse_camera_spec(spec)
    if device is not None:
        return CameraSource(device, width, height, fps)
    return FileSource(spec, float(fps))


class Grabber:
    """The capture thread: reads the source, converts frames, publishes them, reconnects.

    States (``state``): "connecting", "ok", "lost" (failed; retrying with backoff), "ended"
    (a file that is not looped reached its end). ``on_state`` is called on each change.
    """

    # How far ahead of its due time a paced frame is published. A looped file is reopened at its
    # end (45–150 ms for a 720p file on a busy PC); with a lead of two frames every loop showed a
    # frame or more twice (40 repeated frames in a 10-minute soak of a 20 s file). A quarter of a
    # second absorbs the reopen; FrameBuffer.DEPTH holds the frames decoded ahead.
    LEAD_S = 8 / 30

    def __init__(
        self,
        source: VideoSource,
        buffer: FrameBuffer,
        timeline: Timeline,
        size: tuple[int, int],
        *,
        loop: bool,
        backoff: tuple[float, float],
        on_state: Callable[[str, str], None],
    ) -> None:
        self.source = source
        self.buffer = buffer
        self.timeline = timeline
        self.size = size
        self.loop = loop
        self.backoff = backoff
        self.on_state = on_state
        self.state = "connecting"
        self.reconnects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cunbo-grabber", daemon=True)
        self._next_pts = 0.0
        self._opened = False

    def start(self, already_open: bool) -> None:
        """Start the thread; ``already_open`` when the caller opened the source to check it."""
        self._opened = already_open
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close the source. A read blocked in a driver ends on its own
        timeout (V4L2: 10 s); the thread is a daemon so it can never hold the process."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("capture thread still blocked in %s after %.1f s", self.source.label, timeout)
        else:
            self.source.close()

    def _set_state(self, state: str, reason: str = "") -> None:
        if state != self.state:
            self.state = state
            self.on_state(state, reason)

    def _run(self) -> None:
        wait = self.backoff[0]
        while not self._stop.is_set():
            if not self._opened:
                try:
                    self.source.open()
                except CaptureError as exc:
                    self._set_state("lost", str(exc))
                    log.warning("video source %s: %s; retrying in %.1f s", self.source.label, exc, wait)
                    if self._stop.wait(wait):
                        break
                    wait = min(self.backoff[1], wait * 2)
                    continue
                self.reconnects += 1
            self._opened = True
            wait = self.backoff[0]
            at_end = self._pump()
            self.source.close()
            self._opened = False
            if self._stop.is_set():
                break
            if at_end and self.source.paced and not self.loop:
                self._set_state("ended", "end of file")
                self._stop.wait()
                break
            if not (at_end and self.source.paced):
                # A camera or live URL stopped delivering: it is lost until it opens again.
                self._set_state("lost", "source stopped delivering frames")
                if self._stop.wait(wait):
                    break
                wait = min(self.backoff[1], wait * 2)
            # else: end of a looped file; reopen at once (the path, so a vanished file shows).

    def _pump(self) -> bool:
        """Read until the source fails or we stop. True when a paced source reached its end."""
        width, height = self.size
        step = 1.0 / self.source.fps
        got_any = False
        while not self._stop.is_set():
            image = self.source.read()
            if image is None:
                return got_any
            frame = bgr_to_i420(image, width, height)
            now = self.timeline.now()
            if self.source.paced:
                pts = max(self._next_pts, now)
                self._next_pts = pts + step
                ahead = pts - self.LEAD_S - now
                if ahead > 0 and self._stop.wait(ahead):
                    return False
            else:
                pts = now
            self.buffer.publish(pts, frame, self.timeline.now())
            if not got_any:
                got_any = True
                self._set_state("ok")
        return False
