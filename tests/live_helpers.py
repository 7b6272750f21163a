"""Helpers for live-console tests: what a frame should look like for a given overlay scene."""
from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np

from capture.overlay import Compositor, OverlayScene


def expected_frame(scene: OverlayScene, background_bgr: tuple[int, int, int], size: tuple[int, int],
                   portrait: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The composited frame Cunbo should produce over a flat background, and the product card box."""
    width, height = size
    compositor = Compositor(width, height, portrait)
    compositor.set_scene(scene)
    flat = np.full((height, width, 3), background_bgr, np.uint8)
    composed, _ = compositor.compose(cv2.cvtColor(flat, cv2.COLOR_BGR2YUV_I420))
    box = compositor.boxes()["product"]
    return cv2.cvtColor(composed, cv2.COLOR_YUV2BGR_I420), (box.x, box.y, box.w, box.h)


def shows_scene(frame: np.ndarray, scene: OverlayScene, other: OverlayScene,
                background_bgr: tuple[int, int, int], portrait: bool = False) -> bool:
    """True when ``frame`` looks like ``scene`` and not like ``other`` where the two differ.

    Only the pixels where the two expected pictures differ are compared (a stock line, a price),
    so video compression elsewhere does not blur the answer.
    """
    height, width = frame.shape[:2]
    want, _ = expected_frame(scene, background_bgr, (width, height), portrait)
    not_want, _ = expected_frame(other, background_bgr, (width, height), portrait)
    differs = np.abs(want.astype(np.int16) - not_want.astype(np.int16)).max(axis=2) > 60
    assert differs.sum() > 50, "the two scenes look the same: nothing to tell apart"
    got = frame.astype(np.int16)[differs]
    to_want = float(np.mean(np.abs(got - want.astype(np.int16)[differs])))
    to_other = float(np.mean(np.abs(got - not_want.astype(np.int16)[differs])))
    return to_want < to_other / 2


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true (→ True) or ``timeout`` seconds pass (→ False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
