"""The checklist as the console and API call it: the host's recording dir and destinations.

Each check keeps the engine's ``message`` (the API's contract; in the person's language, its
values in ``params``) and adds, for the farmer's
screen, ``say`` (what is the matter, in plain words, naming the platform) and ``todo`` (what to
do about it): no device numbers, URLs, file paths or units an engineer would use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_login import current_user

from app.database import get_db
from app.i18n import N_, translated
from capture.devices import mask_url
from live import destinations as dest
from live.checklist import CheckResult, as_dicts, run_checks
from live.disk import pending_clips_mb
from live.service import SourceRefused

# (check, passed?) → (what to say, what to do); %(platform)s is the platform's name.
PLAIN_WORDS: dict[tuple[str, bool], tuple[str, str]] = {
    ("camera", True): (N_("摄像头正常，有画面"), ""),
    ("camera", False): (N_("摄像头没有画面"), N_("请把摄像头插好，或在“摄像头”里换一个")),
    ("microphone", True): (N_("麦克风正常"), ""),
    ("microphone", False): (N_("麦克风没有声音"), N_("请插好耳麦、打开声音，或选“不用麦克风”")),
    ("disk", True): (N_("电脑空间够用"), ""),
    ("disk", False): (N_("电脑空间不够录像"), N_("请删掉旧录像，或请村级服务站帮忙")),
    ("destinations", True): (N_("这次只录像，不推到平台"), ""),
    ("key", True): (N_("%(platform)s推流码已填好"), ""),
    ("key", False): (N_("%(platform)s推流码没填好"), N_("请到“推流地址”重新粘贴平台给的完整推流地址")),
    ("rtmp", True): (N_("%(platform)s可以连上"), ""),
    ("rtmp", False): (N_("%(platform)s连不上"), N_("请检查网线或无线网，或到“推流地址”重新粘贴推流地址")),
}


def _plain(check: dict[str, Any], platforms: dict[str, str]) -> dict[str, Any]:
    check = {**check, "message": translated(check["message"], check["params"])}
    words = PLAIN_WORDS.get((check["check"], check["level"] != "fail"))
    if words is None:
        return {**check, "say": check["message"], "todo": ""}
    platform = platforms.get(check.get("target", ""), _("推流平台"))
    say, todo = words
    return {**check, "say": _(say, platform=platform), "todo": _(todo) if todo else ""}


def run_checklist(*, video: str, audio: str, destinations: list[str]) -> dict[str, Any]:
    """Run every check; ``ready`` is true when nothing failed. A source the live would refuse is
    refused here too, with the same words, before anything is opened."""
    platforms = {mask_url(d.push_url): _(dest.PLATFORMS.get(d.platform, d.platform))
                 for d in dest.destinations_of(get_db(), current_user.id)}
    try:
        video, audio = current_app.extensions["cunbo.live"].check_sources(video, audio)
    except SourceRefused as exc:
        refused = {**as_dicts([CheckResult("camera", "fail", _(str(exc)))])[0]}
        return {"ready": False, "checks": [{**refused, "say": _(str(exc)), "todo": _("请在“摄像头”里换一个")}]}
    results = run_checks(
        video=video, audio=audio, destinations=destinations,
        recording_dir=Path(current_app.config["DATA_DIR"]) / "recordings",
        clips_pending_mb=pending_clips_mb(get_db(), current_app.config["STATION_ID"]),
    )
    return {"ready": all(r.ok for r in results), "checks": [_plain(c, platforms) for c in as_dicts(results)]}
