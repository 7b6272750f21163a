"""Cunbo's pipeline against ffmpeg alone doing the same job, on CPU time. Prints figures.

Same 1280×720 30 fps H.264 source file (looped), same product card, same encoder settings
(720p30 preset), same outputs (Matroska recording + one RTMP push to a local nginx-rtmp):

  (a) Cunbo: cv2.VideoCapture → I420 → card blended in Python → ffmpeg encode → relay to RTMP
  (b) ffmpeg alone: -re file input, the card as a PNG through the overlay filter, same encoder

Runs alternate A B A B; each run is a child process and its CPU (with its own children: ffmpeg,
relay) is read from RUSAGE_CHILDREN after it is reaped. Also prints output fps, dropped and
duplicated frames, and the per-frame cost of the blend and of a preview JPEG.

    .venv/bin/python -m bench.pipeline [--seconds 20] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENE = dict(product_name="烟台红富士苹果 现摘现发", price_fen=2550, unit="斤", promo_price_fen=1990, show_promo=True,
             stock=120, link_no=3, origin="山东烟台")


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_a(source: Path, url: str, recordings: Path, seconds: float) -> dict[str, float]:
    """Child process (a): a Supervisor for ``seconds``, then its figures as JSON on stdout."""
    from capture.overlay import OverlayScene
    from capture.settings import CaptureSettings
    from capture.supervisor import Supervisor

    def cpu_now() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    before = cpu_now()  # after the imports: Python's start-up is not streaming work
    sup = Supervisor(CaptureSettings(video=str(source), audio="none", destinations=[url], preset="720p30",
                                     recording_dir=recordings))
    sup.set_scene(OverlayScene(**SCENE))  # type: ignore[arg-type]
    sup.start()
    time.sleep(seconds)
    status = sup.status()
    result = sup.stop()
    return {"frames_out": status["frames_out"], "fps": status["fps"], "dropped": status["dropped"],
            "duplicated": status["duplicated"], "encoder_speed": status["encoder_speed"] or 0.0,
            "dest_live": float(status["destinations"][0]["state"] == "live"), "duration_s": result.duration_s,
            "cpu_s": cpu_now() - before}


def card_png(directory: Path) -> tuple[Path, int, int]:
    """The same product card as (a) draws, as a PNG, and where it goes."""
    from capture.overlay import Compositor, OverlayScene

    comp = Compositor(1280, 720)
    comp.set_scene(OverlayScene(**SCENE))  # type: ignore[arg-type]
    card = comp.cards()[0]
    path = directory / "card.png"
    card.image.save(path)
    return path, card.x, card.y


def micro_costs() -> dict[str, float]:
    """Blend (compose) and preview (JPEG) cost per frame at 720p, in ms (median of 300 / 100)."""
    import numpy as np

    from capture.frames import bgr_to_i420
    from capture.preview import PreviewHub
    from capture.overlay import Compositor, OverlayScene

    comp = Compositor(1280, 720)
    comp.set_scene(OverlayScene(**SCENE, qr_text="https://example.com/p/3", farmer_name="张大姐", village="王家村"))  # type: ignore[arg-type]
    frame = bgr_to_i420(np.random.default_rng(1).integers(0, 255, (720, 1280, 3), dtype=np.uint8), 1280, 720)
    blend = []
    for _ in range(300):
        t = time.perf_counter()
        comp.compose(frame)
        blend.append(time.perf_counter() - t)
    hub = PreviewHub(15, 640)
    preview = []
    for _ in range(100):
        t = time.perf_counter()
        hub.encode(frame)
        preview.append(time.perf_counter() - t)
    return {"blend_ms": statistics.median(blend) * 1000, "preview_ms": statistics.median(preview) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child-a", nargs=3, metavar=("SOURCE", "URL", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child_a:
        source, url, directory = args.child_a
        print(json.dumps(run_a(Path(source), url, Path(directory), args.seconds)))
        return 0

    from capture.ffmpeg import find_ffmpeg, overlay_reference_argv
    from capture.testing import NginxRtmp, decode_count, make_video

    with tempfile.TemporaryDirectory(prefix="cunbo-bench-") as tmp:
        work = Path(tmp)
        source = make_video(work / "src720.mp4", seconds=10, size=(1280, 720), fps=30, pattern="testsrc2")
        png, x, y = card_png(work)
        server = NginxRtmp(work / "nginx")
        server.start()
        rows: list[tuple[str, float, dict[str, float]]] = []
        totals: list[tuple[str, float, dict[str, float]]] = []
        try:
            for round_no in range(args.rounds):
                for kind in ("a", "b"):
                    out = work / f"{kind}{round_no}"
                    out.mkdir()
                    url = server.url(f"bench-{kind}{round_no}")
                    before = child_cpu()
                    if kind == "a":
                        done = subprocess.run([sys.executable, "-m", "bench.pipeline", "--seconds", str(args.seconds),
                                               "--child-a", str(source), url, str(out)],
                                              cwd=ROOT, capture_output=True, check=True, timeout=args.seconds + 60)
                        figures = json.loads(done.stdout.decode().strip().splitlines()[-1])
                    else:
                        argv = overlay_reference_argv(find_ffmpeg(), source=source, card_png=png, card_xy=(x, y),
                                                      preset="720p30", recording=out / "b.mkv", url=url,
                                                      seconds=args.seconds)
                        started = time.monotonic()
                        subprocess.run(argv, check=True, capture_output=True, timeout=args.seconds + 60)
                        elapsed = time.monotonic() - started
                        frames, _, _ = decode_count(out / "b.mkv")
                        figures = {"frames_out": frames, "fps": frames / elapsed, "dropped": 0, "duplicated": 0,
                                   "duration_s": elapsed}
                    process_cpu = child_cpu() - before
                    # (a): the pipeline's own CPU, measured in the child from start() to stop();
                    # its Python start-up and imports (a one-off, not streaming work) shown apart.
                    cpu = figures.get("cpu_s", process_cpu)
                    startup = process_cpu - cpu
                    rows.append((kind, cpu, figures))
                    totals.append((kind, process_cpu, figures))
                    print(f"run {kind}{round_no}: cpu {cpu:6.2f} s  cpu/frame {cpu / max(1, figures['frames_out']) * 1000:5.2f} ms"
                          f"  fps {figures['fps']:5.2f}  frames {figures['frames_out']:5.0f}"
                          f"  dropped {figures['dropped']:.0f}  duplicated {figures['duplicated']:.0f}"
                          + (f"  (+{startup:.2f} s interpreter start-up)" if kind == "a" else ""), flush=True)
        finally:
            server.stop()
    per_frame = {k: sum(c / max(1, f["frames_out"]) for kk, c, f in rows if kk == k) / args.rounds for k in "ab"}
    costs = micro_costs()
    print(f"\nCPU per output frame: (a) Cunbo {per_frame['a'] * 1000:.2f} ms, (b) ffmpeg alone {per_frame['b'] * 1000:.2f} ms")
    print(f"ratio a/b = {per_frame['a'] / per_frame['b']:.3f}  (target ≤ 1.05)")
    whole = {k: sum(c / max(1, f["frames_out"]) for kk, c, f in totals if kk == k) / args.rounds for k in "ab"}
    print(f"ratio a/b counting (a)'s Python start-up and imports too = {whole['a'] / whole['b']:.3f}")
    a_rows = [f for k, _, f in rows if k == "a"]
    print(f"(a) output fps {statistics.mean(f['fps'] for f in a_rows):.2f}, dropped {sum(f['dropped'] for f in a_rows):.0f}, "
          f"duplicated {sum(f['duplicated'] for f in a_rows):.0f}, encoder speed {statistics.mean(f['encoder_speed'] for f in a_rows):.2f}x")
    print(f"blend {costs['blend_ms']:.3f} ms/frame (4 cards, 720p), preview JPEG {costs['preview_ms']:.3f} ms/frame "
          f"(only while watched, ≤ 15 fps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
