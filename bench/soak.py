"""A long live under a steady load: nothing may drift, leak or get lost. Prints figures.

    .venv/bin/python -m bench.soak [--minutes 10] [--order-rate 4] [--switch-every 3] [--page-every 1]

The real server (waitress, as ``app.serve`` runs it; bench.orders.start_server) on a fresh SQLite
file (or ``--db-url``); a 720p30 live from a camera-like file (per-frame noise, bench/pipeline.py)
to a local nginx-rtmp, recording on. Beside it, for the whole run:

- a second process logs orders at a steady rate (``--order-rate`` per second, paced to a clock),
- a third reloads the farmer's console, the broadcast report and the contest leaderboard (page and
  its ``board.json``) one after the other, one every ``--page-every`` seconds,
- this process puts the next product on screen every ``--switch-every`` seconds.

Prints: output fps; frames dropped and repeated after the first second (target 0); the memory
(RSS) of every process (web server, broadcast worker, ffmpeg encoder, ffmpeg relay) after the
warm-up and at the end, and the worker's at its start too, with its growth per minute after the
warm-up; orders sent, answered 201 and stored, and the trail of each (one audit
event and one stock history row per order, stock taken = quantities ordered); the recording's
duration (ffprobe) against the live's wall time.

``run`` is also what tests/test_soak.py calls for its 60 s run.
"""
from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil

from bench.orders import _free_port, _percentile, start_server
from bench.pipeline import SOURCES, make_source

ROOT = Path(__file__).resolve().parent.parent
STOCK = 10**6
LINEUP = 4
WARM_UP_S = 5.0  # memory is read first after this: imports, caches and the first pages are made by then
ORDER = {"quantity": 1, "buyer_name": "长跑买家", "buyer_phone": "13800138000",
         "address": "河北省邢台市巨鹿县", "channel": "douyin"}


@dataclass(frozen=True)
class Station:
    """What the soak drives: tokens of the host farmer and a trainer, the lineup and a contest."""

    farmer_token: str
    trainer_token: str
    product_ids: list[int]
    contest_id: int


def prepare(url: str, migrate: bool = True) -> Station:
    """Migrate (unless told not to), make a farmer with a lineup of 4 products, a trainer and a
    contest over today with the farmer in it; all through the app's own operations."""
    sys.path.insert(0, str(ROOT))
    import db
    from accounts import services as accounts
    from catalog.models import Product
    from contests import services as contests

    if migrate:
        db.upgrade(url)
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session:
        farmer = accounts.create_user(session, "soak_farmer", "farmer", "soakpass1", display_name="王大姐")
        trainer = accounts.create_user(session, "soak_trainer", "trainer", "soakpass1")
        lineup = [Product(sku=f"SOAK-{n}", name=f"长跑商品{n}", unit="斤", price_fen=1000 + 100 * n, stock=STOCK,
                          farmer_id=farmer.id, link_no=n + 1) for n in range(LINEUP)]
        session.add_all(lineup)
        now = datetime.now(timezone.utc)
        contest = contests.create_contest(session, actor=trainer, title="长跑大赛", starts_at=now - timedelta(hours=1),
                                          ends_at=now + timedelta(days=1), participants=[("soak_farmer", "")])
        tokens = accounts.issue_token(session, farmer, "soak"), accounts.issue_token(session, trainer, "soak")
        session.commit()
        station = Station(*tokens, [p.id for p in lineup], contest.id)
    engine.dispose()
    return station


def ledger(url: str, product_ids: list[int] | None = None, stock: int = STOCK) -> dict[str, int]:
    """The order trail in the database: orders, items ordered, stock taken (each product started
    with ``stock``), first audit events and stock history rows written for orders. A whole order
    has exactly one of each."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    import db

    ids = ",".join(str(int(i)) for i in product_ids or [])
    where = f"WHERE product_id IN ({ids})" if ids else ""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        orders, quantity = conn.execute(text(f"SELECT count(*), coalesce(sum(quantity), 0) FROM orders {where}")).one()
        events = conn.execute(text("SELECT count(*) FROM order_events WHERE from_status IS NULL"
                                   f" AND order_id IN (SELECT id FROM orders {where})")).scalar_one()
        changes = conn.execute(text(f"SELECT count(*) FROM product_changes {where}"
                                    + (" AND" if where else " WHERE") + " field = 'stock' AND reason_code = 'order_logged'")
                               ).scalar_one()
        left = conn.execute(text("SELECT coalesce(sum(stock), 0), count(*) FROM products" + (f" WHERE id IN ({ids})" if ids else ""))).one()
    engine.dispose()
    return {"orders": int(orders), "quantity": int(quantity), "audit_events": int(events),
            "stock_changes": int(changes), "stock_taken": int(left[1]) * stock - int(left[0])}


# --- the client processes -------------------------------------------------------------------------

def _request(conn: http.client.HTTPConnection, method: str, path: str, token: str,
             body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    return response.status, response.read()


def order_client(port: int, token: str, product_ids: list[int], session_id: int, rate: float, seconds: float) -> None:
    """Log ``rate`` orders a second for ``seconds`` (paced to the clock, never bursting to catch
    up); print {sent, created ids, answers, p99 ms} as JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    created: list[int] = []
    codes: dict[str, int] = {}
    latencies: list[float] = []
    began = time.monotonic()
    n = 0
    while (due := began + n / rate) < began + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        started = time.perf_counter()
        try:
            code, data = _request(conn, "POST", "/api/orders", token,
                                  {**ORDER, "product_id": product_ids[n % len(product_ids)], "session_id": session_id})
        except (OSError, http.client.HTTPException):
            code, data = 0, b""
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        codes[str(code)] = codes.get(str(code), 0) + 1
        if code == 201:
            created.append(int(json.loads(data)["id"]))
        n += 1
    conn.close()
    print(json.dumps({"sent": n, "created": created, "codes": codes, "p99_ms": _percentile(latencies, 0.99)}))


def page_client(port: int, farmer_token: str, trainer_token: str, session_id: int, contest_id: int,
                every: float, seconds: float) -> None:
    """Reload the console, the report and the leaderboard in turn; print answers per page as JSON."""
    pages = [("console", "/live/", farmer_token), ("report", f"/live/sessions/{session_id}/report", farmer_token),
             ("leaderboard", f"/contests/{contest_id}", trainer_token),
             ("board.json", f"/contests/{contest_id}/board.json", trainer_token)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answers: dict[str, dict[str, int]] = {name: {} for name, _, _ in pages}
    latencies: list[float] = []
    began = time.monotonic()
    n = 0
    while (due := began + n * every) < began + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        name, path, token = pages[n % len(pages)]
        started = time.perf_counter()
        try:
            code, _ = _request(conn, "GET", path, token)
        except (OSError, http.client.HTTPException):
            code = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        answers[name][str(code)] = answers[name].get(str(code), 0) + 1
        n += 1
    conn.close()
    print(json.dumps({"answers": answers, "p99_ms": _percentile(latencies, 0.99)}))


# --- the driver -----------------------------------------------------------------------------------

def _api(port: int, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        code, data = _request(conn, method, path, token, body)
        return code, json.loads(data or b"null")
    finally:
        conn.close()


def processes(web: psutil.Process) -> dict[str, psutil.Process]:
    """The web server and what runs the broadcast under it, by role (worker, encoder, relay)."""
    found = {"web server": web}
    for child in web.children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if "capture.worker" in cmdline:
            found["worker"] = child
        elif cmdline and Path(cmdline[0]).name.startswith("ffmpeg"):
            found["relay" if "flv" in cmdline else "encoder"] = child
    return found


def rss_mb(procs: dict[str, psutil.Process]) -> dict[str, float]:
    out = {}
    for role, proc in procs.items():
        try:
            out[role] = round(proc.memory_info().rss / 2**20, 1)
        except psutil.Error:
            out[role] = float("nan")
    return out


def recording_seconds(path: str) -> float:
    """How long a recording plays: its header's duration, or for a file whose writer was killed
    (no duration written) the time of its last video packet plus one frame (ffprobe, no decode)."""
    sys.path.insert(0, str(ROOT))
    from capture.testing import ffprobe

    value = ffprobe(path)["format"].get("duration")
    if value not in (None, "N/A"):
        return float(value)
    packets = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time", timeout=120)["packets"]
    times = [float(p["pts_time"]) for p in packets if p.get("pts_time") not in (None, "N/A")]
    return max(times, default=0.0) + 1 / 30


def _client(args: list[str], seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bench.soak", *args, "--seconds", str(seconds)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)


def _collect(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return json.loads(out) if out.strip() else {}  # type: ignore[no-any-return]


def run(seconds: float, work: Path, *, db_url: str = "", migrate: bool = True, order_rate: float = 4.0,
        switch_every: float = 3.0, page_every: float = 1.0, source_seconds: float = 20.0,
        say: Any = print) -> dict[str, Any]:
    """One soak of ``seconds`` in ``work`` (its data dir); returns the figures (see the module doc).

    Raises AssertionError when the live cannot start, RuntimeError when nginx-rtmp is missing."""
    sys.path.insert(0, str(ROOT))
    from capture.testing import NginxRtmp

    if NginxRtmp.available():
        raise RuntimeError(NginxRtmp.available())
    (work / "media").mkdir(parents=True, exist_ok=True)  # the data dir's media folder may be played
    say("making the camera-like source…")
    source = make_source(work / "media" / "camera-like.mp4", SOURCES["noisy"], seconds=source_seconds)
    url = db_url or f"sqlite:///{work}/soak.db"
    station = prepare(url, migrate=migrate)
    rtmp = NginxRtmp(work / "nginx")
    rtmp.start()
    port = _free_port()
    server = start_server(url, str(work), port, 16, timeout=90)
    web = psutil.Process(server.pid)
    figures: dict[str, Any] = {"seconds": seconds, "load_before": psutil.getloadavg()}
    token = station.farmer_token
    try:
        code, answer = _api(port, token, "POST", "/api/live/start", {
            "video": str(source), "audio": "none", "preset": "720p30", "destinations": [rtmp.url("soak")]})
        assert code == 201, answer
        session_id = int(answer["session_id"])
        deadline = time.monotonic() + 20
        while _api(port, token, "GET", "/api/live/status")[1]["state"] != "live":
            assert time.monotonic() < deadline, "the live did not start"
            time.sleep(0.2)
        figures["worker_mb_at_start"] = rss_mb(processes(web)).get("worker", float("nan"))
        say(f"worker memory at start: {figures['worker_mb_at_start']} MB")
        _api(port, token, "POST", "/api/live/show", {"product_id": station.product_ids[0]})
        time.sleep(1.0)  # the first second may settle; drops are counted after it
        began = time.monotonic()
        before = _api(port, token, "GET", "/api/live/status")[1]
        orders = _client(["orders", "--port", str(port), "--token", token, "--products",
                          ",".join(map(str, station.product_ids)), "--session", str(session_id),
                          "--rate", str(order_rate)], seconds)
        pages = _client(["pages", "--port", str(port), "--token", token, "--trainer-token", station.trainer_token,
                         "--session", str(session_id), "--contest", str(station.contest_id),
                         "--every", str(page_every)], seconds)
        stop = threading.Event()
        switches = [0]
        switch_errors: list[int] = []

        def switch() -> None:
            n = 1
            while not stop.wait(switch_every):
                code, _ = _api(port, token, "POST", "/api/live/show",
                               {"product_id": station.product_ids[n % len(station.product_ids)]})
                switches[0] += 1
                if code != 200:
                    switch_errors.append(code)
                n += 1

        switcher = threading.Thread(target=switch, name="soak-switch", daemon=True)
        switcher.start()
        time.sleep(min(WARM_UP_S, seconds / 4))
        procs = processes(web)
        figures["rss_start_mb"] = rss_mb(procs)
        warm = time.monotonic()
        say(f"memory after warm-up (MB): {figures['rss_start_mb']}")
        while (left := began + seconds - time.monotonic()) > 0:
            time.sleep(min(60.0, left))
            if left > 60:
                status = _api(port, token, "GET", "/api/live/status")[1]
                say(f"  {time.monotonic() - began:5.0f} s: {status['fps']:.2f} fps, dropped "
                    f"{status['dropped'] - before['dropped']}, repeated {status['duplicated'] - before['duplicated']}, "
                    f"memory {rss_mb(procs)}")
        after = _api(port, token, "GET", "/api/live/status")[1]
        elapsed = time.monotonic() - began
        figures["rss_end_mb"] = rss_mb(procs)
        figures["after_warm_up_s"] = time.monotonic() - warm
        figures["load_during"] = psutil.getloadavg()
        stop.set()
        switcher.join(10)
        figures["orders"] = _collect(orders, 60)
        figures["pages"] = _collect(pages, 60)
        figures.update(
            window_s=elapsed, frames_out=after["frames_out"] - before["frames_out"],
            fps=(after["frames_out"] - before["frames_out"]) / elapsed,
            dropped=after["dropped"] - before["dropped"], repeated=after["duplicated"] - before["duplicated"],
            dropped_first_second=before["dropped"], switches=switches[0], switch_errors=switch_errors,
            frames_total=after["frames_out"], dropped_total=after["dropped_output"], live_s=after["elapsed_s"],
            destination=(after["destinations"] or [{}])[0].get("state"),
            processes_same=all(p.is_running() for p in procs.values()))
        code, stopped = _api(port, token, "POST", "/api/live/stop")
        assert code == 200, stopped
        durations = [recording_seconds(path) for path in stopped["recordings"]]
        figures.update(wall_s=float(stopped["duration_s"]), recording_s=sum(durations),
                       recordings=len(stopped["recordings"]))
        figures["ledger"] = ledger(url, station.product_ids)
        record = _api(port, token, "GET", f"/api/sessions/{session_id}")[1]
        figures["session_orders"] = record.get("orders")
    finally:
        try:
            _api(port, token, "POST", "/api/live/stop")  # after a failure: no worker left behind
        except OSError:
            pass
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        rtmp.stop()
    return figures


def growth_per_minute(f: dict[str, Any], role: str = "worker") -> float:
    """MB a minute ``role``'s memory grew between the warm-up and the end."""
    minutes = f["after_warm_up_s"] / 60
    return float((f["rss_end_mb"][role] - f["rss_start_mb"][role]) / minutes) if minutes > 0 else float("nan")


def report(f: dict[str, Any]) -> str:
    """The figures as the lines the bench prints."""
    o, led = f["orders"], f["ledger"]
    growth = {role: round(f["rss_end_mb"][role] - f["rss_start_mb"][role], 1) for role in f["rss_start_mb"]}
    worker = (f["worker_mb_at_start"], f["rss_start_mb"].get("worker", float("nan")),
              f["rss_end_mb"].get("worker", float("nan")))
    lines = [
        f"window       {f['window_s']:.0f} s after the first second; load average before {f['load_before'][0]:.2f}, "
        f"at the end {f['load_during'][0]:.2f} / {f['load_during'][1]:.2f} / {f['load_during'][2]:.2f} (1/5/15 min)",
        f"output       {f['fps']:.3f} fps ({f['frames_out']} frames, {f['frames_out'] / (30 * f['window_s']):.4f} "
        f"of 30 × time); dropped {f['dropped']}, repeated {f['repeated']} (target 0); "
        f"dropped in the first second {f['dropped_first_second']}",
        "memory (MB)  " + ", ".join(f"{role} {f['rss_start_mb'][role]} → {f['rss_end_mb'][role]} ({growth[role]:+})"
                                    for role in f["rss_start_mb"]),
        f"worker       {worker[0]} MB at start, {worker[1]} MB after the warm-up, {worker[2]} MB at the end: "
        f"{growth_per_minute(f):+.2f} MB a minute after the warm-up",
        f"orders       sent {o.get('sent')}, answered 201 {len(o.get('created', []))} (answers {o.get('codes')}, "
        f"p99 {o.get('p99_ms', float('nan')):.1f} ms), stored {led['orders']}, in the session {f['session_orders']}; "
        f"audit events {led['audit_events']}, stock history rows {led['stock_changes']}, stock taken "
        f"{led['stock_taken']} for {led['quantity']} ordered",
        f"pages        {f['pages'].get('answers')} (p99 {f['pages'].get('p99_ms', float('nan')):.1f} ms); "
        f"product switches {f['switches']} (errors {f['switch_errors']})",
        f"recording    {f['recording_s']:.2f} s in {f['recordings']} file(s) for {f['wall_s']:.2f} s of live "
        f"(difference {f['recording_s'] - f['wall_s']:+.2f} s; output ticks dropped in all "
        f"{f['dropped_total']} = {f['dropped_total'] / 30:.2f} s, frames out {f['frames_total']} = "
        f"{f['frames_total'] / 30:.2f} s, for {f['live_s']:.1f} s of live at the last status); "
        f"push {f['destination']}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    o = sub.add_parser("orders")
    p = sub.add_parser("pages")
    for client in (o, p):
        client.add_argument("--port", type=int, required=True)
        client.add_argument("--token", required=True)
        client.add_argument("--session", type=int, required=True)
        client.add_argument("--seconds", type=float, required=True)
    o.add_argument("--products", required=True)
    o.add_argument("--rate", type=float, required=True)
    p.add_argument("--trainer-token", required=True)
    p.add_argument("--contest", type=int, required=True)
    p.add_argument("--every", type=float, required=True)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the live (default 10)")
    parser.add_argument("--order-rate", type=float, default=4.0, help="orders per second (default 4)")
    parser.add_argument("--switch-every", type=float, default=3.0, help="seconds between product switches (default 3)")
    parser.add_argument("--page-every", type=float, default=1.0, help="seconds between page loads (default 1)")
    parser.add_argument("--db-url", default="", help="database (default: a fresh SQLite file)")
    parser.add_argument("--source-seconds", type=float, default=20.0, help="length of the looped source file")
    args = parser.parse_args()
    if args.mode == "orders":
        order_client(args.port, args.token, [int(i) for i in args.products.split(",")], args.session, args.rate,
                     args.seconds)
        return 0
    if args.mode == "pages":
        page_client(args.port, args.token, args.trainer_token, args.session, args.contest, args.every, args.seconds)
        return 0
    with tempfile.TemporaryDirectory(prefix="cunbo-soak-") as tmp:
        figures = run(args.minutes * 60, Path(tmp), db_url=args.db_url, order_rate=args.order_rate,
                      switch_every=args.switch_every, page_every=args.page_every,
                      source_seconds=args.source_seconds)
    print(report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
