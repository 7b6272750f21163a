"""Cunbo's live pipeline against ffmpeg alone doing the same job, counting every process. Prints figures.

Same 1280×720 30 fps source file (looped), same product card, same encoder settings (720p30
preset), same outputs (Matroska recording + one RTMP push to a local nginx-rtmp):

  (a) Cunbo as the app runs it: a broadcast worker process (``capture.worker``: cv2.VideoCapture →
      I420 → card blended in Python → one ffmpeg encode → a ``-c copy`` relay per destination),
      plus the web server's share (status polled four times a second, as the live monitor does);
  (b) ffmpeg alone: ``-re`` file input, the card as a PNG through the ``overlay`` filter, the same
      encoder, recording and push through ``tee``.

CPU is read with psutil from every process of each side over the same measured window (after a
warm-up, so start-up is not counted for either), split per process, and compared per output frame
(a side that falls behind on a busy machine uses less CPU per second only by making fewer frames). Sources are made here:
"noisy" is camera-like (moving test pattern with per-frame sensor noise, so decode and encode
work as hard as on camera footage); "testsrc2" is the plain pattern, far cheaper to decode and
encode. No real camera footage ships with the project.

    .venv/bin/python -m bench.pipeline [--seconds 20] [--rounds 3] [--source noisy|testsrc2|both]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import psutil

ROOT = Path(__file__).resolve().parents[1]
SCENE = dict(product_name="烟台红富士苹果 现摘现发", price_fen=2550, unit="斤", promo_price_fen=1990, show_promo=True,
             stock=120, link_no=3, origin="山东烟台")
WARMUP_S = 3.0
SOURCES = {
    "noisy": "testsrc2=s=1280x720:r=30,noise=alls=14:allf=t+u",
    "testsrc2": "testsrc2=s=1280x720:r=30",
}


def make_source(path: Path, lavfi: str, seconds: float = 20.0) -> Path:
    """A 720p30 H.264 file of ``lavfi`` content at camera-like quality (CRF 20, GOP 2 s)."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "60", str(path)],
                   check=True, timeout=300)
    return path


def card_png(directory: Path) -> tuple[Path, int, int]:
    """The same product card as (a) draws, as a PNG, and where it goes."""
    from capture.overlay import Compositor, OverlayScene

    comp = Compositor(1280, 720)
    comp.set_scene(OverlayScene(**SCENE))  # type: ignore[arg-type]
    card = comp.cards()[0]
    path = directory / "card.png"
    card.image.save(path)
    return path, card.x, card.y


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _label(proc: psutil.Process) -> str:
    cmdline = " ".join(proc.cmdline())
    if "capture.worker" in cmdline:
        return "worker (Python)"
    if "rtmp://" in cmdline and "pipe:0" in cmdline and "rawvideo" not in cmdline:
        return "relay (ffmpeg -c copy)"
    return "encoder (ffmpeg)"


def window_cpu(root_pids: list[int], seconds: float, *, also_self: bool = False) -> dict[str, float]:
    """CPU seconds per kind of process over ``seconds``: every process in the groups led by
    ``root_pids`` (and their children), plus this process when ``also_self``."""
    def members() -> dict[int, psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for pid in root_pids:
            try:
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    found[proc.pid] = proc
            except psutil.NoSuchProcess:
                continue
        return found

    start = {pid: (_label(p), _cpu(p)) for pid, p in members().items()}
    me = psutil.Process()
    me_start = _cpu(me)
    time.sleep(seconds)
    split: dict[str, float] = {}
    for pid, proc in members().items():
        if pid not in start:
            continue  # started inside the window (a relay restart): not comparable
        label, before = start[pid]
        try:
            split[label] = split.get(label, 0.0) + _cpu(proc) - before
        except psutil.NoSuchProcess:
            continue
    if also_self:
        split["web server share (status 4/s)"] = _cpu(me) - me_start
    return split


def run_a(source: Path, url: str, directory: Path, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """Cunbo: a real worker; returns (CPU split, stream figures)."""
    from capture.overlay import OverlayScene
    from capture.settings import CaptureSettings
    from capture.worker import Worker

    settings = CaptureSettings(video=str(source), audio="none", destinations=[url], preset="720p30",
                               recording_dir=directory)
    worker = Worker.spawn(directory / "live", "bench", settings, OverlayScene(**SCENE))  # type: ignore[arg-type]
    stop = threading.Event()
    try:
        worker.wait_opened(20.0, threading.Event())

        def poll() -> None:  # what the web server's live monitor does while a broadcast runs
            while not stop.wait(0.25):
                worker.request("status")

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        stop.wait(WARMUP_S)
        before = worker.request("status")["status"]
        split = window_cpu([worker.pid or 0], seconds, also_self=True)
        after = worker.request("status")["status"]
        stop.set()
        poller.join(2.0)
    finally:
        stop.set()
        worker.stop()
    figures = {
        "frames": float(after["frames_out"] - before["frames_out"]),
        "fps": (after["frames_out"] - before["frames_out"]) / seconds,
        "dropped": after["dropped"] - before["dropped"], "duplicated": after["duplicated"] - before["duplicated"],
        "live": float(after["destinations"][0]["state"] == "live"),
    }
    return split, figures


class _FrameCounter:
    """ffmpeg's ``-progress`` output read on a thread: the latest ``frame=`` count."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.frames = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "frame" and value.isdigit():
                self.frames = int(value)


def run_b(source: Path, png: Path, xy: tuple[int, int], url: str, directory: Path,
          seconds: float) -> tuple[dict[str, float], float]:
    """ffmpeg alone; returns its CPU over the same kind of window and the frames it put out."""
    from capture.ffmpeg import find_ffmpeg, overlay_reference_argv

    argv = overlay_reference_argv(find_ffmpeg(), source=source, card_png=png, card_xy=xy, preset="720p30",
                                  recording=directory / "b.mkv", url=url, seconds=seconds + WARMUP_S + 5)
    argv[1:1] = ["-progress", "pipe:1", "-stats_period", "0.5"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    counter = _FrameCounter(proc.stdout)
    try:
        time.sleep(WARMUP_S)
        before = counter.frames
        split = window_cpu([proc.pid], seconds)
        return {"ffmpeg alone": sum(split.values())}, float(counter.frames - before)
    finally:
        proc.kill()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", choices=[*SOURCES, "both"], default="both")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from capture.testing import NginxRtmp

    kinds = list(SOURCES) if args.source == "both" else [args.source]
    with tempfile.TemporaryDirectory(prefix="cunbo-bench-") as tmp:
        work = Path(tmp)
        png, x, y = card_png(work)
        server = NginxRtmp(work / "nginx")
        server.start()
        try:
            for kind in kinds:
                source = make_source(work / f"{kind}.mp4", SOURCES[kind])
                ratios, splits, streams = [], [], []
                for n in range(args.rounds):
                    out_a, out_b = work / f"{kind}-a{n}", work / f"{kind}-b{n}"
                    out_a.mkdir()
                    out_b.mkdir()
                    split_a, figures = run_a(source, server.url(f"{kind}-a{n}"), out_a, args.seconds)
                    split_b, frames_b = run_b(source, png, (x, y), server.url(f"{kind}-b{n}"), out_b, args.seconds)
                    a, b = sum(split_a.values()) / args.seconds, sum(split_b.values()) / args.seconds
                    # Per output frame: a side that fell behind on a busy machine spends less CPU
                    # per second only because it made fewer frames.
                    per_a = sum(split_a.values()) / max(1.0, figures["frames"]) * 1000
                    per_b = sum(split_b.values()) / max(1.0, frames_b) * 1000
                    ratios.append(per_a / per_b)
                    splits.append(split_a)
                    streams.append(figures)
                    print(f"[{kind}] round {n + 1}: Cunbo {a:.3f} CPU-s/s ({per_a:.2f} ms/frame, "
                          f"{figures['fps']:.2f} fps, dropped {figures['dropped']:.0f}, duplicated "
                          f"{figures['duplicated']:.0f}, push live {bool(figures['live'])}); ffmpeg alone {b:.3f} "
                          f"CPU-s/s ({per_b:.2f} ms/frame, {frames_b / args.seconds:.2f} fps); "
                          f"ratio per frame {per_a / per_b:.3f}", flush=True)
                print(f"[{kind}] ratio Cunbo / ffmpeg alone, CPU per output frame: median "
                      f"{statistics.median(ratios):.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)}; "
                      f"target ≤ 1.00)")
                labels = sorted({k for s in splits for k in s})
                print(f"[{kind}] Cunbo per process, CPU-s per s (median): " + ", ".join(
                    f"{label} {statistics.median(s.get(label, 0.0) for s in splits) / args.seconds:.3f}"
                    for label in labels))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
