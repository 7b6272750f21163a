"""The pre-flight checklist: tests camera, microphone, destinations, disk and keys for real.

Each check returns a plain :class:`CheckResult` whose message says, in plain words, what is wrong
and what to do. Nothing here raises for a failed check: a failure is a result.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from capture import devices
from db import N_
from live.destinations import DestinationError, mask_key, split_push_url

# Two hours at the highest preset (2500 kbps video + 128 kbps audio) ≈ 2.4 GB; ask for 3 GB.
RECORDING_NEED_MB = 3000
# The clips cut after it (live/clips.py): at most 60 s per product segment; two hours with a
# product on screen every ~4 min is 30 clips, 30 min of 16:9 copies at 2.6 Mbps (≈ 590 MB) plus
# their 9:16 re-encodes (CRF 23 on a 396×704 crop, ≈ 40 % of that, ≈ 240 MB).
CLIPS_NEED_MB = 900
DISK_NEED_MB = RECORDING_NEED_MB + CLIPS_NEED_MB


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist: ``level`` is ok, warn or fail.

    ``message`` is a Chinese message id and ``params`` fill its ``%(name)s`` slots: the app shows
    it in the person's language.
    """

    check: str
    level: str
    message: str
    target: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.level != "fail"


def check_stream_key(url: str) -> CheckResult:
    """A destination URL must carry a stream key after the application path."""
    try:
        server, key = split_push_url(url)
    except DestinationError as exc:
        return CheckResult("key", "fail", exc.msgid, devices.mask_url(url), exc.params)
    if not key:
        return CheckResult("key", "fail", N_("推流地址里没有推流码：请从平台直播后台复制完整的推流码"), server)
    return CheckResult("key", "ok", N_("推流码已填写（%(key)s）"), devices.mask_url(url), {"key": mask_key(key)})


def _from_device(check: str, result: devices.CheckResult, target: str) -> CheckResult:
    return CheckResult(check, "ok" if result.ok else "fail", result.message, target, result.params)


def run_checks(*, video: str, audio: str, destinations: list[str], recording_dir: Path,
               clips_pending_mb: int = 0) -> list[CheckResult]:
    """Run every check in the order a person would fix them: camera, microphone, disk, keys, network.

    The disk must hold this broadcast's recording and clips (:data:`DISK_NEED_MB`) plus
    ``clips_pending_mb``, what the clips queued before and not yet cut will take
    (:func:`live.disk.pending_clips_mb`; they are cut after this live, on the same disk)."""
    results = [
        _from_device("camera", devices.check_camera(video), video),
        _from_device("microphone", devices.check_microphone(audio), audio),
        _from_device("disk", devices.check_disk(recording_dir, DISK_NEED_MB + max(0, clips_pending_mb)), ""),
    ]
    if not destinations:
        results.append(CheckResult("destinations", "warn", N_("没有选择推流平台：这次只录像，不推流到平台")))
    for url in destinations:
        key = check_stream_key(url)
        results.append(key)
        if key.ok:
            results.append(_from_device("rtmp", devices.check_rtmp(url), devices.mask_url(url)))
    return results


def as_dicts(results: list[CheckResult]) -> list[dict[str, Any]]:
    """JSON-ready results, with ``ok`` added; ``message`` is still the message id (see ``params``)."""
    return [{**asdict(r), "ok": r.ok} for r in results]
