"""A minute of bench/soak.py in the suite: a 720p30 live with recording and push to nginx-rtmp,
orders at a steady rate from a second process, the console, report and leaderboard reloaded by a
third, the product switched every 3 s, on the run's database (SQLite, then PostgreSQL).

The bounds are loose where the machine's load decides (frames out): the suite shares two cores
with other runs, and the strict figures are the bench's (README: Benchmarks). Where nothing but a
bug can make a difference (orders, their trail, answers) they are exact.
"""
from __future__ import annotations

import pytest

from bench.soak import report, run
from capture.testing import NginxRtmp

SECONDS = 60.0
# RSS of one process may move this much in a minute without a leak: the worker's frame queue
# filling (15 frames of 1.4 MB at 720p) when the machine is loaded, glibc arenas of new threads, the
# server's first pages and compiled SQL. A leak of one 720p frame a second adds 83 MB a minute.
MEMORY_NOISE_MB = 48.0


@pytest.mark.timeout(360)
def test_a_minute_live_under_orders_and_page_loads_loses_nothing_and_does_not_grow(app, database_url, tmp_path):
    if NginxRtmp.available():
        pytest.skip(f"{NginxRtmp.available()} (apt-get install nginx libnginx-mod-rtmp)")
    figures = run(SECONDS, tmp_path / "soak", db_url=database_url, migrate=False, source_seconds=4.0,
                  say=lambda line: None)
    print(report(figures))

    orders, trail = figures["orders"], figures["ledger"]
    assert orders["sent"] >= 0.9 * 4 * SECONDS, "the order client kept its steady rate"
    assert orders["codes"] == {"201": orders["sent"]}, orders["codes"]
    assert len(orders["created"]) == trail["orders"] == figures["session_orders"] == orders["sent"]
    assert trail["audit_events"] == trail["stock_changes"] == trail["orders"]
    assert trail["stock_taken"] == trail["quantity"] == trail["orders"]
    assert all(set(codes) == {"200"} for codes in figures["pages"]["answers"].values()), figures["pages"]
    assert figures["switches"] >= SECONDS / 3 - 2 and not figures["switch_errors"]

    assert set(figures["rss_start_mb"]) == {"web server", "worker", "encoder", "relay"}
    assert figures["processes_same"], "no process of the broadcast was restarted"
    for role, start in figures["rss_start_mb"].items():
        assert figures["rss_end_mb"][role] - start <= MEMORY_NOISE_MB, (role, figures["rss_start_mb"],
                                                                        figures["rss_end_mb"])

    assert figures["recordings"] == 1 and figures["destination"] == "live"
    # Frame timestamps count frames, so an output tick dropped on a starved CPU is time missing from
    # the recording (README: Known limits). Every tick either went into the recording or was
    # counted as dropped, and the recording holds every frame that went out:
    # (the last status is read before the stop, whose few seconds are not ticks; frames still queued
    # when a slow stop kills the worker are lost, about a second on a starved CPU).
    tolerance = max(4.0, 0.1 * figures["live_s"])
    assert abs(figures["recording_s"] + figures["dropped_total"] / 30 - figures["live_s"]) <= tolerance, figures
    assert abs(figures["recording_s"] - figures["frames_total"] / 30) <= 2.5, figures
    # Loose: this suite shares 2 cores with other runs (load averages of 9–18 were seen here, where
    # 0.38–0.72 of 30 × time went out); a quiet machine makes all of them (the bench's figure).
    expected = 30 * figures["window_s"]
    assert 0.3 * expected <= figures["frames_out"] <= expected + 30, "about 30 frames a second went out"
