"""The checklist as the console and API call it: the host's recording dir and destinations."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app

from live.checklist import as_dicts, run_checks


def run_checklist(*, video: str, audio: str, destinations: list[str]) -> dict[str, Any]:
    """Run every check; ``ready`` is true when nothing failed."""
    results = run_checks(
        video=video, audio=audio, destinations=destinations,
        recording_dir=Path(current_app.config["DATA_DIR"]) / "recordings",
    )
    return {"ready": all(r.ok for r in results), "checks": as_dicts(results)}
