"""The MJPEG preview: JPEG-encodes composited frames on its own thread, only while someone watches."""
from __future__ import annotations

import threading
import time
from collections.abc import Generator

import cv2
import numpy as np

from capture.frames import i420_to_bgr


class PreviewHub:
    """The MJPEG preview: JPEG-encodes on its own thread, and only while someone watches."""

    def __init__(self, fps: int, width: int) -> None:
        self.interval = 1.0 / fps
        self.width = width
        self.subscribers = 0
        self.encodes = 0
        self.encode_seconds = 0.0
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._pending: np.ndarray | None = None
        self._last_offer = 0.0
        self._new = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cunbo-preview", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop encoding and end every subscriber's stream."""
        self._stop.set()
        self._new.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def wants(self, now: float) -> bool:
        """True when a frame should be offered now (someone watches and one is due)."""
        return self.subscribers > 0 and now - self._last_offer >= self.interval

    def offer(self, frame: np.ndarray, now: float) -> None:
        """Hand over a composited I420 frame (never modified afterwards, so no copy)."""
        self._last_offer = now
        self._pending = frame
        self._new.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._new.wait(0.5):
                continue
            self._new.clear()
            frame, self._pending = self._pending, None
            if frame is None or self._stop.is_set():
                continue
            started = time.perf_counter()
            jpeg = self.encode(frame)
            self.encode_seconds += time.perf_counter() - started
            self.encodes += 1
            with self._cond:
                self._jpeg, self._seq = jpeg, self._seq + 1
                self._cond.notify_all()

    def encode(self, frame: np.ndarray) -> bytes:
        """I420 → scaled-down BGR → JPEG (quality 70)."""
        bgr = i420_to_bgr(frame)
        h, w = bgr.shape[:2]
        scale = min(1.0, self.width / max(w, h))
        if scale < 1.0:
            bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 70])
        return buf.tobytes() if ok else b""

    def frames(self) -> Generator[bytes, None, None]:
        """JPEG frames as they come; subscribes on first iteration, unsubscribes on close."""
        with self._cond:
            self.subscribers += 1
        try:
            seen = self._seq
            while not self._stop.is_set():
                with self._cond:
                    self._cond.wait_for(lambda: self._seq != seen or self._stop.is_set(), timeout=1.0)
                    jpeg, seq = self._jpeg, self._seq
                if seq != seen and jpeg:
                    seen = seq
                    yield jpeg
        finally:
            with self._cond:
                self.subscribers -= 1
