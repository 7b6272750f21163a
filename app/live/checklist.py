"""The checklist as the console and API call it: the host's recording dir and destinations."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from live.checklist import CheckResult, as_dicts, run_checks
from live.service import SourceRefused


def run_checklist(*, video: str, audio: str, destinations: list[str]) -> dict[str, Any]:
    """Run every check; ``ready`` is true when nothing failed. A source the live would refuse is
    refused here too, with the same words, before anything is opened."""
    try:
        video, audio = current_app.extensions["cunbo.live"].check_sources(video, audio)
    except SourceRefused as exc:
        return {"ready": False, "checks": as_dicts([CheckResult("camera", "fail", _(str(exc)))])}
    results = run_checks(
        video=video, audio=audio, destinations=destinations,
        recording_dir=Path(current_app.config["DATA_DIR"]) / "recordings",
    )
    return {"ready": all(r.ok for r in results), "checks": as_dicts(results)}
