"""Recognising catalog products in the video: found within 1 s of appearing, never a switch to a
product that is not there (nothing on screen, or a product that is not in the catalog)."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.overlay import OverlayScene
from capture.recognition import MAX_HAMMING, CatalogIndex, FeatureCache, HammingIndex, Recognizer, _plausible
from capture.settings import CaptureSettings
from capture.worker import Worker
from tests import recognition_video as rv

FPS = 12


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[int, list[str]], Path, list[int | None]]:
    folder = tmp_path_factory.mktemp("recognition")
    catalog = rv.write_catalog(folder / "photos")
    video = folder / "products.avi"
    truth = rv.render(video, fps=FPS)
    return catalog, video, truth


def test_each_catalog_product_is_found_within_a_second_and_nothing_else_switches(scene: tuple[dict[int, list[str]], Path, list[int | None]]) -> None:
    catalog, video, truth = scene
    outcome = rv.evaluate(video, truth, Recognizer(CatalogIndex.build(catalog)), fps=FPS, checks_per_s=4)
    shown = {pid for pid, _, _ in rv.appearances(truth) if pid > 0}
    assert shown == set(catalog), "the video shows every catalog product"
    late = {i: s for i, s in outcome.found_after_s.items() if s is None or s > 1.0}
    assert not late, f"appearances found late or never: {late}"
    assert outcome.wrong == [], "a switch to a product that was not on screen"
    assert outcome.switches == len(outcome.found_after_s)


def test_the_unknown_product_and_empty_stretches_are_never_reported(scene: tuple[dict[int, list[str]], Path, list[int | None]]) -> None:
    catalog, video, truth = scene
    recognizer = Recognizer(CatalogIndex.build(catalog), confirm=1)  # even without the smoothing
    cap = cv2.VideoCapture(str(video))
    wrong = []
    for frame_no in range(len(truth)):
        ok, frame = cap.read()
        assert ok
        if truth[frame_no] in (None, -1) and frame_no % 3 == 0:
            match, _ = recognizer.index.check(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            if match is not None:
                wrong.append((frame_no, match.product_id, match.inliers))
    cap.release()
    assert wrong == []


def test_a_product_missing_from_the_catalog_is_not_mistaken_for_the_others(scene: tuple[dict[int, list[str]], Path, list[int | None]]) -> None:
    catalog, video, truth = scene
    without_first = {pid: paths for pid, paths in catalog.items() if pid != 1}
    outcome = rv.evaluate(video, truth, Recognizer(CatalogIndex.build(without_first)), fps=FPS)
    assert outcome.wrong == []


def test_look_alike_labels_with_the_same_name_do_not_hide_the_product_shown(scene: tuple[dict[int, list[str]], Path, list[int | None]], tmp_path: Path) -> None:
    catalog, video, truth = scene
    with_look_alikes = dict(catalog)
    for i in range(rv.CATALOG_PRODUCTS):  # the same name on another design, as a second brand would
        path = tmp_path / f"look-alike-{i}.jpg"
        cv2.imwrite(str(path), rv.catalog_photo(rv.draw_label(rv.NAMES[i], 500 + i), 77 + i))
        with_look_alikes[101 + i] = [str(path)]
    outcome = rv.evaluate(video, truth, Recognizer(CatalogIndex.build(with_look_alikes)), fps=FPS)
    late = {i: s for i, s in outcome.found_after_s.items() if s is None or s > 1.0}
    assert not late, f"appearances found late or never: {late}"
    assert outcome.wrong == []


def test_the_catalog_index_finds_slightly_changed_descriptors_among_a_large_catalog() -> None:
    rng = np.random.default_rng(3)
    catalog = rng.integers(0, 256, (100_000, 32), dtype=np.uint8)
    picked = rng.choice(len(catalog), 500, replace=False)
    queries = np.unpackbits(catalog[picked], axis=1)
    for row in queries:  # 16 of 256 bits flipped: a keypoint seen again from another angle
        row[rng.choice(256, 16, replace=False)] ^= 1
    q, d, dist = HammingIndex(catalog).candidates(np.packbits(queries, axis=1))
    nearest = {int(qi): int(di) for qi, di in zip(q[::-1], d[::-1])}  # sorted by distance: first wins
    found = sum(nearest.get(i) == int(picked[i]) for i in range(len(picked)))
    assert found >= 0.9 * len(picked)
    assert dist.max() <= MAX_HAMMING
    strangers = rng.integers(0, 256, (500, 32), dtype=np.uint8)  # ~128 bits from everything
    assert len(HammingIndex(catalog).candidates(strangers)[0]) == 0


def test_photo_features_are_computed_once_per_photo_change(tmp_path: Path) -> None:
    catalog = rv.write_catalog(tmp_path, products=3)
    cache = FeatureCache()
    CatalogIndex.build(catalog, cache)
    CatalogIndex.build(catalog, cache)
    assert cache.computed == 3
    photo = Path(catalog[2][0])
    cv2.imwrite(str(photo), rv.catalog_photo(rv.draw_label("新照片", 4242), 1))
    later = time.time() + 5
    os.utime(photo, (later, later))
    index = CatalogIndex.build(catalog, cache)
    assert cache.computed == 4
    assert index.products == 3


def test_unreadable_or_blank_photos_are_left_out(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 200, np.uint8))
    index = CatalogIndex.build({1: [str(tmp_path / "missing.jpg")], 2: [str(blank)]})
    assert index.products == 0
    assert index.check(np.zeros((360, 640), np.uint8)) == (None, [])


@pytest.mark.parametrize("corners, ok", [
    ([(100, 50), (300, 50), (300, 300), (100, 300)], True),
    ([(300, 50), (100, 50), (100, 300), (300, 300)], False),   # mirrored
    ([(100, 50), (300, 50), (150, 80), (100, 300)], False),    # not convex
    ([(100, 50), (104, 50), (104, 53), (100, 53)], False),     # a speck
    ([(0, 100), (600, 100), (600, 110), (0, 110)], False),     # a sliver
])
def test_a_projected_box_must_look_like_a_product(corners: list[tuple[int, int]], ok: bool) -> None:
    box = np.array(corners, np.float32).reshape(-1, 1, 2)
    assert _plausible(box, (300, 400), (360, 640)) is ok


@pytest.mark.media
def test_the_broadcast_worker_recognises_beside_the_pipeline_only_while_on(
        tmp_path: Path, media_dir: Path, capture_settings: Callable[..., CaptureSettings]) -> None:
    catalog = rv.write_catalog(tmp_path / "photos", products=3)
    video = media_dir / "recognition-short.avi"
    rv.render(video, fps=12, script=[rv.Stretch(None, 1.0), rv.Stretch(1, 20.0)])
    worker = Worker.spawn(tmp_path / "live", "rec", capture_settings(video=str(video)), OverlayScene())
    try:
        worker.wait_opened(15.0, threading.Event())
        assert worker.request("status")["status"]["recognized"] is None
        assert worker.request("recognition", {"on": True, "catalog": catalog})["on"] is True
        deadline = time.monotonic() + 10.0
        recognized = None
        while recognized is None and time.monotonic() < deadline:
            time.sleep(0.2)
            recognized = worker.request("status")["status"]["recognized"]
        assert recognized is not None and recognized["product_id"] == 2, recognized
        assert 0.5 <= recognized["score"] <= 1.0
        assert all(0.0 < v < 1.0 for v in recognized["position"])
        status = worker.request("status")["status"]
        # Zero drops is bench.recognition's figure; on this loaded machine (other suites, Chromium)
        # the worker loses frames with or without recognition (30 of 99 seen with main's code at
        # load average 19), so "most frames go out" is what this test can hold to.
        assert status["frames_out"] > 30 and status["dropped"] < status["frames_out"], status
        assert worker.request("recognition", {"on": False})["on"] is False
        assert worker.request("status")["status"]["recognized"] is None
    finally:
        worker.stop()
        worker.remove_files()
