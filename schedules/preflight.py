"""The pre-flight 15 minutes before a planned broadcast: the console's checklist, plus the push
keys' expiry (Douyin and Tencent push URLs carry ``expire=``/``txTime=`` and stop working after it).

Results are plain dicts kept on the run record, shown on the farmer's and coordinator's home
pages; a failure is reported, never retried silently.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from capture import devices
from db import N_
from live.checklist import CheckResult, run_checks

PREFLIGHT_LEAD_S = 15 * 60

Checks = Callable[..., list[CheckResult]]


def key_expires_at(url: str) -> datetime | None:
    """When a push URL's signed key stops working, if it says: ``expire=`` (Unix seconds, Douyin,
    Kuaishou) or ``txTime=`` (hex Unix seconds, Tencent/视频号)."""
    query = parse_qs(urlsplit(url).query)
    try:
        if "expire" in query:
            return datetime.fromtimestamp(int(query["expire"][0]), tz=timezone.utc)
        if "txTime" in query:
            return datetime.fromtimestamp(int(query["txTime"][0], 16), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _result(check: str, level: str, message: str, target: str = "", **params: Any) -> dict[str, Any]:
    return {"check": check, "level": level, "message": message, "params": params, "target": target,
            "ok": level != "fail"}


def expiry_checks(destinations: list[str], slot_end: datetime, zone: str) -> list[dict[str, Any]]:
    """A failing line per destination whose key expires before the broadcast ends."""
    found = []
    for url in destinations:
        expires = key_expires_at(url)
        if expires is None or expires > slot_end:
            continue
        local = expires.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M")
        found.append(_result(
            "key_expiry", "fail",
            N_("推流码 %(url)s 在 %(when)s 就过期了，撑不到这场直播结束：请到平台开播后台（如抖音直播伴侣）重新获取推流地址，"
               "再到“推流地址”页面更新"),
            devices.mask_url(url), when=local, url=devices.mask_url(url)))
    return found


def run_preflight(*, video: str, audio: str, destinations: list[str], recording_dir: Path, slot_end: datetime,
                  zone: str, station_live: bool, checks: Checks = run_checks,
                  clips_pending_mb: int = 0) -> list[dict[str, Any]]:
    """Every check for a coming broadcast. While another broadcast runs the camera and microphone
    are in use, so only disk, keys and push servers are tested then (said in a warning line).
    ``clips_pending_mb``: what the clips queued on this station will take (the disk check counts it)."""
    results: list[dict[str, Any]] = []
    if station_live:
        results.append(_result("camera", "warn", N_("另一场直播正在进行，摄像头和麦克风等它结束后再检查")))
        lines = checks(video="testsrc", audio="none", destinations=destinations, recording_dir=recording_dir,
                       clips_pending_mb=clips_pending_mb)
        lines = [r for r in lines if r.check not in ("camera", "microphone")]
    else:
        lines = checks(video=video, audio=audio, destinations=destinations, recording_dir=recording_dir,
                       clips_pending_mb=clips_pending_mb)
    results += [{**asdict(r), "ok": r.ok} for r in lines]
    return results + expiry_checks(destinations, slot_end, zone)


def problems(results: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The failing lines of a pre-flight (what the home pages show)."""
    return [r for r in results or [] if not r.get("ok", True)]
