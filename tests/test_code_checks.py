"""mypy (with disallow_untyped_defs outside tests) and ruff's error checks pass on the whole code."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["app", "capture", "catalog", "orders", "live", "schedules", "contests", "accounts", "db"]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_mypy_finds_no_type_errors(tmp_path):
    result = run("mypy", "--cache-dir", str(tmp_path / "mypy"), *PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_no_errors():
    result = run("ruff", "check", "--no-cache", *PACKAGES, "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr
