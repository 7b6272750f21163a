"""Clip cutting cost, and what it does to a live running at the same time. Prints figures.

    .venv/bin/python -m bench.clips [--segments 10] [--segment-s 30] [--policy-only] [--window-s 60]

1. A 720p30 Matroska recording like the encoder's (H.264 with a keyframe every 2 s, AAC), long
   enough for ``--segments`` segments of ``--segment-s`` seconds with gaps between them.
2. Idle machine: wall time and CPU (user+system of the ffmpeg children) to cut every segment as a
   16:9 stream copy, then as a 9:16 re-encode (libx264 veryfast, from the 16:9 clips), exactly as
   the clip worker does (``nice -n 19``).
3. A real 720p30 live (the server as ``app.serve`` runs it, a camera-like noisy 720p30 file,
   recording on) for the same cutting, and the frames it dropped and duplicated while it ran
   (target 0), against the same live with no clip work for the same length of time.

4. The server's own clip worker (its policy: a live starting stops the running cut before the
   broadcast worker opens, and nothing more is started until the live ends): the session's clips
   queued through the API, a live started while a 9:16 re-encode runs, and the same live alone,
   twice each, alternated. ``--policy-only`` runs only this step.

Step 3 is the case the worker avoids: a cut left running beside the live at the lowest priority.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def make_recording(path: Path, seconds: float) -> Path:
    """720p30 testsrc2 with light noise (so the re-encode has real work), GOP 2 s, AAC, Matroska."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30:d={seconds},noise=alls=8:allf=t+u",
                    "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60",
                    "-sc_threshold", "0", "-b:v", "2500k", "-c:a", "aac", "-f", "matroska", str(path)],
                   check=True, timeout=1800)
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cut_all(recording: Path, out: Path, segments: int, segment_s: float,
            control: Any = None) -> dict[str, tuple[float, float]]:
    """Cut every segment 16:9 then 9:16 → {"16:9": (wall s, CPU s), "9:16": (...)}."""
    from live.clips import ClipPlan, Control, CutResult, RecordingFile, cut_vertical, cut_wide

    def steer() -> Control:
        return control if control is not None else Control()

    out.mkdir(parents=True, exist_ok=True)
    files = [RecordingFile(recording, 0.0)]
    plans = [ClipPlan(1, i + 1, round(5.0 + i * (segment_s + 1.3), 3), round(5.0 + i * (segment_s + 1.3) + segment_s, 3))
             for i in range(segments)]
    figures: dict[str, tuple[float, float]] = {}
    wides: list[CutResult] = []
    t0, c0 = time.monotonic(), _children_cpu()
    for plan in plans:
        wides.append(cut_wide("ffmpeg", "ffprobe", plan, files, out / f"w{plan.seq}.mp4", steer()))
    figures["16:9"] = (time.monotonic() - t0, _children_cpu() - c0)
    t0, c0 = time.monotonic(), _children_cpu()
    for plan, wide in zip(plans, wides):
        cut_vertical("ffmpeg", "ffprobe", plan, wide, out / f"t{plan.seq}.mp4", steer())
    figures["9:16"] = (time.monotonic() - t0, _children_cpu() - c0)
    return figures


def _status(port: int, token: str) -> dict[str, Any]:
    from bench.live_load import _api

    return dict(_api(port, token, "GET", "/api/live/status")[1])


def live_window(port: int, token: str, source: Path, seconds: float | None,
                work: Any = None) -> dict[str, float]:
    """Start a 720p30 live, let it settle 2 s, then either run ``work()`` or wait ``seconds``;
    → dropped, duplicated, fps over that window."""
    from bench.live_load import _api

    code, answer = _api(port, token, "POST", "/api/live/start",
                        {"video": str(source), "audio": "none", "preset": "720p30", "destinations": [], "record": True})
    assert code == 201, answer
    try:
        deadline = time.monotonic() + 20
        while _status(port, token)["state"] != "live":
            if time.monotonic() > deadline:
                raise RuntimeError("the live did not start")
            time.sleep(0.2)
        time.sleep(2.0)
        before, t0 = _status(port, token), time.monotonic()
        result: Any = None
        if work is not None:
            result = work()
        else:
            threading.Event().wait(seconds or 0.0)
        after, elapsed = _status(port, token), time.monotonic() - t0
    finally:
        _api(port, token, "POST", "/api/live/stop")
    return {"elapsed": elapsed, "dropped": after["dropped"] - before["dropped"],
            "duplicated": after["duplicated"] - before["duplicated"],
            "fps": (after["frames_out"] - before["frames_out"]) / elapsed, "result": result}


STATION = "bench-clips"


def queue_session(url: str, recording: Path, segments: int, segment_s: float) -> int:
    """An ended session of the bench server's station with ``recording`` and ``segments`` product
    segments laid out as :func:`cut_all` cuts them; → its id."""
    from datetime import timedelta

    from sqlalchemy import select

    import db
    from accounts.models import User
    from catalog.models import Product
    from live.models import LiveSession, Recording, Segment

    engine = db.make_engine(url)
    try:
        with db.make_session_factory(engine)() as session:
            farmer = session.scalars(select(User).where(User.username == "bench_farmer")).one()
            product = session.scalars(select(Product)).first()
            assert product is not None
            started = db.utcnow() - timedelta(hours=1)
            length = 5.0 + segments * (segment_s + 1.3)
            row = LiveSession(host_id=farmer.id, station_id=STATION, started_at=started,
                              ended_at=started + timedelta(seconds=length))
            session.add(row)
            session.flush()
            session.add(Recording(session_id=row.id, path=str(recording), opened_at=started))
            for i in range(segments):
                at = 5.0 + i * (segment_s + 1.3)
                session.add(Segment(session_id=row.id, product_id=product.id, start_s=at, end_s=at + segment_s))
            session.commit()
            return row.id
    finally:
        engine.dispose()


def clip_cpu_s(server_pid: int) -> float:
    """CPU seconds (user + system) used so far by the server's clip ffmpeg/ffprobe processes."""
    import psutil

    total = 0.0
    for proc in psutil.Process(server_pid).children(recursive=True):
        try:
            if proc.name() in ("ffmpeg", "ffprobe") and any("/clips/" in arg for arg in proc.cmdline()):
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def policy_window(port: int, token: str, source: Path, session_id: int, seconds: float = 60.0,
                  server_pid: int | None = None) -> dict[str, Any]:
    """The server's own clip worker: the session's clips queued through the API, a live started
    once a 9:16 re-encode is running (the worker must stop it before the broadcast worker opens
    and start nothing more), measured for ``seconds``; → the live's figures plus how far the clips
    got during the live (``moved``: clips whose state or progress changed, target 0)."""
    from bench.live_load import _api

    def clips() -> list[dict[str, Any]]:
        return list(_api(port, token, "GET", f"/api/sessions/{session_id}/clips")[1])

    code, answer = _api(port, token, "POST", f"/api/sessions/{session_id}/clips")
    assert code == 202, answer
    deadline = time.monotonic() + 600
    while not any(c["aspect"] == "9:16" and c["state"] == "running" and c["progress"] > 0 for c in clips()):
        if time.monotonic() > deadline:
            raise RuntimeError("no 9:16 clip started")
        time.sleep(0.2)
    captured: dict[str, Any] = {}

    def during() -> None:
        captured["before"] = [(c["id"], c["state"], c["progress"]) for c in clips()]
        cpu = clip_cpu_s(server_pid) if server_pid else 0.0
        threading.Event().wait(seconds)
        captured["cpu"] = (clip_cpu_s(server_pid) if server_pid else 0.0) - cpu
        captured["after"] = [(c["id"], c["state"], c["progress"]) for c in clips()]

    window = live_window(port, token, source, None, during)
    moved = sum(1 for a, b in zip(captured["before"], captured["after"]) if a != b)
    _api(port, token, "POST", f"/api/sessions/{session_id}/clips/cancel")
    return {**window, "moved": moved, "clips": len(captured["after"]), "clip_cpu_s": captured["cpu"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--segment-s", type=float, default=30.0)
    parser.add_argument("--policy-only", action="store_true",
                        help="only the live beside the clip worker and the live alone (skip the cutting "
                             "figures and the nice-only run, which take minutes on a loaded PC)")
    parser.add_argument("--window-s", type=float, default=60.0, help="length of the measured live windows")
    args = parser.parse_args()
    os.environ["CUNBO_STATION_ID"] = STATION  # the bench server's station: its clip worker takes our session
    sys.path.insert(0, str(ROOT))
    from bench.live_load import _api
    from bench.orders import _free_port, _prepare, start_server
    from bench.pipeline import SOURCES, make_source

    with tempfile.TemporaryDirectory(prefix="cunbo-bench-clips-") as tmp:
        work = Path(tmp)
        length = 5.0 + args.segments * (args.segment_s + 1.3) + 5.0
        t0 = time.monotonic()
        recording = make_recording(work / "recording.mkv", length)
        print(f"recording    720p30, {length:.0f} s, {recording.stat().st_size / 1e6:.0f} MB, "
              f"made in {time.monotonic() - t0:.0f} s", flush=True)

        if not args.policy_only:
            idle = cut_all(recording, work / "idle", args.segments, args.segment_s)
            for aspect, (wall, cpu) in idle.items():
                print(f"idle   {aspect}  {args.segments} × {args.segment_s:.0f} s: {wall:6.1f} s wall, {cpu:6.1f} CPU-s "
                      f"({wall / args.segments:.2f} s per clip)", flush=True)

        (work / "media").mkdir()
        source = make_source(work / "media" / "camera-like.mp4", SOURCES["noisy"])
        url = f"sqlite:///{tmp}/bench.db"
        token, _product = _prepare(url)
        session_id = queue_session(url, recording, args.segments, args.segment_s)
        port = _free_port()
        server = start_server(url, tmp, port, 8, timeout=120)  # a loaded PC may take a while
        try:
            if not args.policy_only:
                loaded = live_window(port, token, source, None,
                                     lambda: cut_all(recording, work / "live", args.segments, args.segment_s))
                for aspect, (wall, cpu) in loaded["result"].items():
                    print(f"live   {aspect}  {args.segments} × {args.segment_s:.0f} s: {wall:6.1f} s wall, "
                          f"{cpu:6.1f} CPU-s (nice 19, beside a 720p30 live)", flush=True)
                print(f"live with cutting at nice 19  {loaded['elapsed']:.0f} s: dropped {loaded['dropped']}, "
                      f"duplicated {loaded['duplicated']}, {loaded['fps']:.2f} fps (target 0 dropped)", flush=True)
            for run in range(2):  # alternated, so load from elsewhere on the PC falls on both
                policy = policy_window(port, token, source, session_id, args.window_s, server.pid)
                print(f"live beside the clip worker  {policy['elapsed']:.0f} s (a 9:16 re-encode running when the "
                      f"live started): dropped {policy['dropped']}, duplicated {policy['duplicated']}, "
                      f"{policy['fps']:.2f} fps; clips that moved during the live: {policy['moved']} of "
                      f"{policy['clips']}, CPU of the clip ffmpeg during the live {policy['clip_cpu_s']:.2f} s",
                      flush=True)
                quiet = live_window(port, token, source, args.window_s)
                print(f"live alone                   {quiet['elapsed']:.0f} s: dropped {quiet['dropped']}, "
                      f"duplicated {quiet['duplicated']}, {quiet['fps']:.2f} fps", flush=True)
        finally:
            _api(port, token, "POST", "/api/live/stop")
            server.terminate()
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
