"""Frames inside the pipeline are I420 (planar YUV 4:2:0) numpy arrays of shape (H*3/2, W).

Why I420 and not BGR: the encoder wants yuv420p, and ffmpeg's bgr24→yuv420p conversion plus a
pipe twice as wide cost more than one SIMD cv2.cvtColor done in the capture thread (measured in
bench/pipeline.py). The overlay is blended in I420 too, so nothing converts twice.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np


def i420_planes(frame: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (no copies) of the Y, U and V planes of an I420 frame."""
    y = frame[:height]
    chroma = frame[height:].reshape(2, height // 2, width // 2)
    return y, chroma[0], chroma[1]


def bgr_to_i420(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``bgr`` to fill width×height (centre crop on aspect mismatch), then convert to I420.

    Crop rather than letterbox: a phone-style 9:16 stream from a 16:9 webcam should show the
    person, not a thin strip between black bars.
    """
    h, w = bgr.shape[:2]
    if (w, h) != (width, height):
        scale = max(width / w, height / h)
        crop_w, crop_h = min(w, round(width / scale)), min(h, round(height / scale))
        x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
        cropped = bgr[y0:y0 + crop_h, x0:x0 + crop_w]
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        bgr = cv2.resize(cropped, (width, height), interpolation=interp)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)


def i420_to_bgr(frame: np.ndarray) -> np.ndarray:
    """Convert an I420 frame back to BGR (for the preview, tests and the checklist)."""
    return cv2.cvtColor(frame, cv2.COLOR_YUV2BGR_I420)


class Timeline:
    """The broadcast clock: seconds since the output loop's frame 0, on time.monotonic()."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def now(self) -> float:
        """Seconds since the start of the broadcast."""
        return time.monotonic() - self.t0


@dataclass(frozen=True)
class SourceFrame:
    """One converted source frame; ``pts`` is on the :class:`Timeline`, ``seq`` counts from 1."""

    pts: float
    seq: int
    image: np.ndarray


class FrameBuffer:
    """The few newest source frames, written by the capture thread and read by the output loop.

    A paced file source publishes a frame or two ahead of its time; the output loop takes the
    oldest frame it has not shown yet that is due, so a capture thread that was starved of CPU for
    a moment and then hands over two frames at once has both shown, one per tick, instead of the
    first being thrown away. At most ``backlog`` due frames wait: beyond that the oldest are
    skipped (and counted by the caller from the gap in ``seq``), so the picture is never more than
    ``backlog`` frames late. A camera's frames are due when they arrive.
    """

    BACKLOG = 2  # frames: 67 ms at 30 fps, below what a viewer notices as lip-sync error
    DEPTH = 16  # frames kept: a paced source's lead (Grabber.LEAD_S, 8 frames) and the backlog fit

    def __init__(self, depth: int = DEPTH, backlog: int = BACKLOG) -> None:
        self._frames: deque[SourceFrame] = deque(maxlen=depth)
        self._lock = threading.Lock()
        self._seq = 0
        self._shown: SourceFrame | None = None  # the frame the output loop took last
        self.backlog = backlog
        self.last_arrival = 0.0  # timeline seconds of the newest publish (for stall detection)

    def publish(self, pts: float, image: np.ndarray, arrival: float) -> None:
        """Add a frame that becomes due at ``pts``."""
        with self._lock:
            self._seq += 1
            self._frames.append(SourceFrame(pts, self._seq, image))
            self.last_arrival = arrival

    def due(self, at: float) -> SourceFrame | None:
        """The oldest unshown frame with ``pts <= at`` (skipping the oldest when more than
        ``backlog`` are due); with none due, the last one taken again (None before the first)."""
        with self._lock:
            waiting = 0
            for frame in self._frames:
                if frame.pts > at:
                    break
                waiting += 1
            if waiting:
                for _ in range(waiting - min(waiting, self.backlog)):
                    self._frames.popleft()
                self._shown = self._frames.popleft()
            return self._shown

    def newest(self) -> SourceFrame | None:
        """The newest frame published, without taking it (for the recognizer beside the loop)."""
        with self._lock:
            return self._frames[-1] if self._frames else self._shown

    def clear(self) -> None:
        """Forget every frame (after the source was lost: never show a stale picture again)."""
        with self._lock:
            self._frames.clear()
            self._shown = None
