"""Product recognition (capture/recognition.py) on the test video. Prints figures.

  1. precision and recall per appearance on tests/recognition_video.py's video (8 catalog products,
     an unknown product twice, empty stretches; 4 checks per second of video): an appearance is
     found when its product is reported within 1 s; precision counts every switch of the reported
     product, a switch to a product not on screen being a false one. Also the inliers of the product
     on screen against the best wrong product's, which is where MIN_INLIERS comes from;
  2. time per check (median and p90, one thread) and index build time at catalog sizes 10, 100 and
     500 (the video's 8 products plus drawn distractors), with the precision/recall at each size;
  3. the pipeline's dropped and duplicated frames at 720p30 (a real broadcast worker: 1280×720 30 fps
     file source, card, x264 recording) with recognition off and then on (catalog 100), the checks
     per second the recognition process achieved beside it (target 4) and how long it took from
     "on" to the first check (process start, OpenCV import, photo features, index).

    .venv/bin/python -m bench.recognition [--sizes 10,100,500] [--pipeline-s 20] [--skip-pipeline]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capture.overlay import OverlayScene  # noqa: E402
from capture.recognition import CHECK_NICENESS, CatalogIndex, FeatureCache, Recognizer  # noqa: E402
from capture.settings import CaptureSettings  # noqa: E402
from capture.worker import Worker  # noqa: E402
from tests import recognition_video as rv  # noqa: E402

FPS = 12


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def score(outcome: rv.Outcome) -> tuple[float, float]:
    """(precision over switches, recall over catalog-product appearances found within 1 s)."""
    found = [s for s in outcome.found_after_s.values() if s is not None and s <= 1.0]
    precision = (outcome.switches - len(outcome.wrong)) / outcome.switches if outcome.switches else 1.0
    return precision, len(found) / len(outcome.found_after_s)


def catalog_of(size: int, folder: Path) -> dict[int, list[str]]:
    """The video's products (ids 1–8) plus distractor labels drawn with other seeds."""
    return rv.write_catalog(folder, products=size)


def accuracy(video: Path, truth: list[int | None], folder: Path) -> None:
    catalog = catalog_of(rv.CATALOG_PRODUCTS, folder / "c8")
    outcome = rv.evaluate(video, truth, Recognizer(CatalogIndex.build(catalog)), fps=FPS, checks_per_s=4)
    precision, recall = score(outcome)
    print("1. accuracy on the test video (8 catalog products, 4 checks/s)")
    print(f"   appearances of catalog products: {len(outcome.found_after_s)}; switches: {outcome.switches}; "
          f"wrong switches: {len(outcome.wrong)} {outcome.wrong or ''}")
    print(f"   precision {precision:.2f}   recall (found within 1 s) {recall:.2f}")
    print(f"   found after (s): {sorted(v for v in outcome.found_after_s.values() if v is not None)}")
    true, false = outcome.inliers_true, outcome.inliers_false
    print(f"   inliers, product on screen: min {min(true)}  p5 {_pct(true, 0.05):.0f}  median {statistics.median(true):.0f}"
          f"   best wrong product: max {max(false)}  p95 {_pct(false, 0.95):.0f}  (threshold 40)")


def speed(video: Path, truth: list[int | None], folder: Path, sizes: list[int]) -> None:
    print(f"2. time per check by catalog size (one photo per product, frame downscaled to 640 px); load average {_load()}")
    print("   products  photos-features-s  index-build-s  check-ms median  p90   precision  recall")
    for size in sizes:
        started = time.perf_counter()
        catalog = catalog_of(size, folder / f"c{size}")
        drawn = time.perf_counter() - started
        cache = FeatureCache()
        started = time.perf_counter()
        CatalogIndex.build(catalog, cache)
        features = time.perf_counter() - started
        started = time.perf_counter()
        index = CatalogIndex.build(catalog, cache)  # features cached: the index alone
        build = time.perf_counter() - started
        outcome = rv.evaluate(video, truth, Recognizer(index), fps=FPS, checks_per_s=4)
        precision, recall = score(outcome)
        ms = [1000 * s for s in outcome.check_s]
        print(f"   {size:8d}  {features:17.2f}  {build:13.3f}  {statistics.median(ms):15.1f}  {_pct(ms, 0.9):5.1f}"
              f"   {precision:9.2f}  {recall:6.2f}   (drawing the photos: {drawn:.1f} s; load average {_load()})")


def pipeline(folder: Path, seconds: float) -> None:
    print(f"3. pipeline at 720p30 in a broadcast worker, {seconds:.0f} s per run (x264 recording, card on)")
    video = folder / "pipeline-720p.avi"
    script = [rv.Stretch(None, 1.0)] + [rv.Stretch(i % rv.CATALOG_PRODUCTS, 3.0) for i in range(int(seconds // 3) + 2)]
    rv.render(video, size=(1280, 720), fps=30, script=script)
    catalog = catalog_of(100, folder / "c100")
    scene = OverlayScene(product_name="槐花蜂蜜", price_fen=3900, unit="瓶", stock=20, link_no=1)
    dropped_by: dict[bool, int] = {}
    for on in (False, True):
        settings = CaptureSettings(video=str(video), audio="none", preset="720p30", recording_dir=folder / "rec",
                                   destinations=[])
        worker = Worker.spawn(folder / "live", f"bench-{int(on)}", settings, scene)
        try:
            worker.wait_opened(20.0, threading.Event())
            turned_on = time.monotonic()
            if on:
                worker.request("recognition", {"on": True, "catalog": {str(k): v for k, v in catalog.items()}})
            threading.Event().wait(2.0)  # warm-up
            deadline = time.monotonic() + 120.0  # the index build (photo features) comes first
            while on and time.monotonic() < deadline and not _checks(worker.request("status")["status"]):
                threading.Event().wait(0.2)
            first_check_s = time.monotonic() - turned_on
            before = worker.request("status")["status"]
            threading.Event().wait(seconds)
            after = worker.request("status")["status"]
        finally:
            worker.stop()
            worker.remove_files()
        frames = after["frames_out"] - before["frames_out"]
        dropped = after["dropped"] - before["dropped"]
        duplicated = after["duplicated"] - before["duplicated"]
        rec = after.get("recognition") or {}
        checks = _checks(after) - _checks(before)
        dropped_by[on] = dropped
        print(f"   recognition {'on ' if on else 'off'}: frames out {frames} ({frames / seconds:.1f}/s), dropped {dropped}, "
              f"duplicated {duplicated}"
              + (f", checks {checks} ({checks / seconds:.1f}/s, mean {rec.get('check_ms')} ms, first check "
                 f"{first_check_s:.1f} s after on, {rec.get('products')} products, process crashed: {rec.get('crashed')})"
                 if on else "")
              + f"; load average {_load()}")
    print(f"   dropped frames: off {dropped_by[False]}, on {dropped_by[True]} (recognition in its own process, "
          f"niceness {CHECK_NICENESS}); {os.cpu_count()} cores, load average {_load()}")


def _checks(status: dict[str, Any]) -> int:
    return int((status.get("recognition") or {}).get("checks") or 0)


def _load() -> str:
    """The 1-minute load average (the box is shared: figures mean little without it)."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--pipeline-s", type=float, default=20.0)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cunbo-recognition-") as tmp:
        folder = Path(tmp)
        video = folder / "products.avi"
        truth = rv.render(video, fps=FPS)
        accuracy(video, truth, folder)
        speed(video, truth, folder, [int(s) for s in args.sizes.split(",")])
        if not args.skip_pipeline:
            pipeline(folder, args.pipeline_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
