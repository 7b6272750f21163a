"""How far a running import has got, for the import page's progress bar.

The page picks a job id, sends it with the upload and polls it while the server works. Kept in
this process's memory: Cunbo is served by one waitress process, and an import that outlives it has
no progress to show anyway. Each job is visible only to the person who started it.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from flask import current_app

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
KEEP_SECONDS = 600


@dataclass
class Job:
    user_id: int
    phase: str = "uploading"
    done: int = 0
    total: int = 0
    updated: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, object]:
        return {"phase": self.phase, "done": self.done, "total": self.total}


class ImportProgress:
    """A thread-safe table of jobs: (user id, job id) → phase, rows done, rows in all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[tuple[int, str], Job] = {}

    def update(self, user_id: int, job_id: str, phase: str, done: int, total: int) -> None:
        """Record how far a job has got (creating it on first use)."""
        with self._lock:
            self._forget_old()
            job = self._jobs.setdefault((user_id, job_id), Job(user_id))
            job.phase, job.done, job.total, job.updated = phase, done, total, time.monotonic()

    def get(self, user_id: int, job_id: str) -> Job | None:
        """The job this person started with that id, if any."""
        with self._lock:
            return self._jobs.get((user_id, job_id))

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - KEEP_SECONDS
        for key in [k for k, job in self._jobs.items() if job.updated < cutoff]:
            del self._jobs[key]


def progress_table() -> ImportProgress:
    """The current app's progress table (made on first use)."""
    return current_app.extensions.setdefault("cunbo.import_progress", ImportProgress())  # type: ignore[no-any-return]
