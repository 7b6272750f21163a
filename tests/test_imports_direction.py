"""Imports flow one way (shared/style.md): only app/ speaks Flask, capture/ imports none of ours."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"app", "accounts", "capture", "catalog", "orders", "live", "schedules", "contests", "db"}
# What each package may import from among ours.
ALLOWED = {
    "capture": set(),
    "db": set(),
    "accounts": {"db"},
    "catalog": {"db", "accounts"},
    "live": {"db", "accounts", "catalog", "capture"},
    "orders": {"db", "accounts", "catalog", "live"},
    "schedules": {"db", "accounts", "catalog", "orders", "live", "capture"},
    "contests": {"db", "accounts", "catalog", "orders", "live", "schedules"},
}
WEB_MODULES = ("flask", "flask_login", "flask_wtf", "flask_babel", "werkzeug", "wtforms")
# Password hashing is not HTTP; accounts/ may use werkzeug's well-reviewed implementation.
WEB_ALLOWED = {"werkzeug.security"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def package_files(package: str) -> list[Path]:
    base = ROOT / package
    if base.is_dir():
        return sorted(base.rglob("*.py"))
    module = ROOT / f"{package}.py"
    return [module] if module.exists() else []


def test_only_app_imports_flask():
    offenders = []
    for package in ALLOWED:
        for path in package_files(package):
            for name in imported_modules(path):
                if name.split(".")[0] in WEB_MODULES and name not in WEB_ALLOWED:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_packages_import_only_what_lies_below_them():
    offenders = []
    for package, allowed in ALLOWED.items():
        for path in package_files(package):
            for name in imported_modules(path):
                top = name.split(".")[0]
                if top in OURS and top != package and top not in allowed:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
