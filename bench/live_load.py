"""Orders while live: a 720p30 broadcast, 4 clients logging orders as fast as they can, and the
product on screen switched every 2 s. Prints figures.

    .venv/bin/python -m bench.live_load [--seconds 15] [--rounds 2] [--threads 4]

The real server (waitress, as ``app.serve`` runs it) in a subprocess on a fresh SQLite file; the
broadcast is a real worker reading a camera-like 720p30 file (per-frame noise, see
bench/pipeline.py), recording and pushing to a local nginx-rtmp. Rounds alternate without and
with the live, so both see the same machine. Prints, per round and overall: orders/s and p99;
with the live, frames dropped after the first second (target 0), the switches made, and the CPU
of the web process and of the broadcast (worker + encoder + relay).

Targets (issue 10): 0 dropped frames after the first second; p99 ≤ 50 ms and ≤ 2× the p99
without a live.
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.orders import ORDER_BODY, _free_port, _percentile, _prepare, _run_load, start_server
from bench.pipeline import SOURCES, make_source

ROOT = Path(__file__).resolve().parent.parent


def _api(port: int, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _products(url: str, count: int) -> list[int]:
    """A lineup to switch through (the bench coordinator's farmer's products)."""
    import db
    from catalog.models import Product

    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session:
        farmer_id = session.query(Product).first().farmer_id  # type: ignore[union-attr]
        lineup = [Product(sku=f"LIVE-{n}", name=f"直播商品{n}", unit="斤", price_fen=1000 + n * 100, stock=10**6,
                          farmer_id=farmer_id) for n in range(count)]
        session.add_all(lineup)
        session.commit()
        ids = [p.id for p in lineup]
    engine.dispose()
    return ids


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=100000)
    parser.add_argument("--server-threads", type=int, default=16)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from capture.testing import NginxRtmp

    with tempfile.TemporaryDirectory(prefix="cunbo-bench-") as tmp:
        work = Path(tmp)
        (work / "media").mkdir()  # the server's data dir is ``tmp``: its media folder may be played
        source = make_source(work / "media" / "camera-like.mp4", SOURCES["noisy"])
        url = f"sqlite:///{tmp}/bench.db"
        token, product_id = _prepare(url)
        lineup = _products(url, 4)
        rtmp = NginxRtmp(work / "nginx")
        rtmp.start()
        port = _free_port()
        server = start_server(url, tmp, port, args.server_threads)
        web = psutil.Process(server.pid)
        body = {**ORDER_BODY, "product_id": product_id}
        results: dict[str, list[dict[str, Any]]] = {"without live": [], "with live": []}
        try:
            for round_no in range(args.rounds):
                for phase in ("without live", "with live"):
                    row: dict[str, Any] = {}
                    stop = threading.Event()
                    switches = [0]
                    if phase == "with live":
                        code, answer = _api(port, token, "POST", "/api/live/start", {
                            "video": str(source), "audio": "none", "preset": "720p30",
                            "destinations": [rtmp.url(f"load-{round_no}")]})
                        assert code == 201, answer

                        def switch() -> None:
                            n = 0
                            while not stop.wait(2.0):
                                _api(port, token, "POST", "/api/live/show", {"product_id": lineup[n % len(lineup)]})
                                switches[0] += 1
                                n += 1

                        time.sleep(1.0)  # the first second may settle; the drop count starts after it
                        before = _api(port, token, "GET", "/api/live/status")[1]
                        broadcast = web.children(recursive=True)
                        cpu_broadcast = _cpu(broadcast)
                        switcher = threading.Thread(target=switch, daemon=True)
                        switcher.start()
                    cpu_web = _cpu([web])
                    summary = _run_load(port, "/api/orders", token, body, args)
                    row["cpu_web"] = (_cpu([web]) - cpu_web) / summary["elapsed"]
                    if phase == "with live":
                        stop.set()
                        switcher.join(5)
                        after = _api(port, token, "GET", "/api/live/status")[1]
                        row["cpu_broadcast"] = (_cpu(broadcast) - cpu_broadcast) / summary["elapsed"]
                        row["dropped"] = after["dropped"] - before["dropped"]
                        # Which side lost them: the capture thread (source frames never shown) or
                        # the output loop (ticks skipped, encoder queue full).
                        row["dropped_source"] = after["dropped_source"] - before["dropped_source"]
                        row["duplicated"] = after["duplicated"] - before["duplicated"]
                        row["fps"] = (after["frames_out"] - before["frames_out"]) / summary["elapsed"]
                        row["switches"] = switches[0]
                        assert _api(port, token, "POST", "/api/live/stop")[0] == 200
                    row["rate"] = summary["statuses"].get("201", 0) / summary["elapsed"]
                    row["p99"] = _percentile(summary["latencies"], 0.99)
                    row["p50"] = _percentile(summary["latencies"], 0.5)
                    row["codes"] = summary["statuses"]
                    results[phase].append(row)
                    extra = (f"  dropped {row['dropped']} (source {row['dropped_source']}) duplicated {row['duplicated']} fps {row['fps']:.2f}"
                             f"  switches {row['switches']}  CPU broadcast {row['cpu_broadcast']:.2f}"
                             if phase == "with live" else "")
                    print(f"round {round_no + 1} {phase:12s} orders {row['rate']:6.1f}/s  p50 {row['p50']:5.1f} ms"
                          f"  p99 {row['p99']:5.1f} ms  CPU web {row['cpu_web']:.2f}{extra}  answers {row['codes']}",
                          flush=True)
        finally:
            _api(port, token, "POST", "/api/live/stop")
            server.terminate()
            server.wait(timeout=20)
            rtmp.stop()
    idle, live = results["without live"], results["with live"]
    p99_idle = statistics.median(r["p99"] for r in idle)
    p99_live = statistics.median(r["p99"] for r in live)
    print(f"orders/s     without live {statistics.median(r['rate'] for r in idle):.1f}, "
          f"with live {statistics.median(r['rate'] for r in live):.1f} "
          f"(ratio {statistics.median(r['rate'] for r in live) / statistics.median(r['rate'] for r in idle):.2f})")
    print(f"p99          without live {p99_idle:.1f} ms, with live {p99_live:.1f} ms "
          f"(ratio {p99_live / p99_idle:.2f}; targets ≤ 50 ms and ≤ 2×)")
    print(f"dropped      {sum(r['dropped'] for r in live)} frames after the first second (target 0), "
          f"duplicated {sum(r['duplicated'] for r in live)}")
    print(f"CPU          web process {statistics.median(r['cpu_web'] for r in live):.2f} with live, "
          f"{statistics.median(r['cpu_web'] for r in idle):.2f} without; broadcast (worker, encoder, relay) "
          f"{statistics.median(r['cpu_broadcast'] for r in live):.2f} CPU-s per s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
