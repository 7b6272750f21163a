"""Keep the English catalog complete.

    .venv/bin/python -m scripts.i18n                  # extract every msgid, merge into app/translations/en
    .venv/bin/python -m scripts.i18n --fill en.json   # the same, then set English from {"中文": "English"}

Chinese is the source language (msgids are Chinese). Labels that live in the domain packages as
data (roles, order statuses, channels) are added to the template too, since no ``_()`` marks them.
Then translate the new entries in app/translations/en/LC_MESSAGES/messages.po; a test fails while
any msgid has no English.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
EN_PO = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
# (module, attribute) of every dict whose values are Chinese msgids shown on pages.
LABEL_DICTS = (
    ("accounts.roles", "ROLE_LABELS"),
    ("orders.models", "STATUS_LABELS"),
    ("orders.models", "CHANNEL_LABELS"),
    ("live.destinations", "PLATFORMS"),
    ("live.models", "END_REASONS"),
    ("contests.models", "METRIC_LABELS"),
    ("contests.models", "DECISION_LABELS"),
    ("contests.detail", "ORDER_STATES"),
    ("contests.detail", "ENTRY_STATES"),
    ("schedules.models", "RUN_STATES"),
    ("schedules.models", "RUN_REASONS"),
)


def template_catalog() -> Catalog:
    """Every msgid the app can show: from the code and templates, plus the domain label dicts."""
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
             "-k", "_l", "-k", "N_", "--no-location", "-o", str(pot), str(ROOT)],
            check=True, capture_output=True, cwd=ROOT,
        )
        with pot.open("rb") as fh:
            catalog = read_po(fh)
    sys.path.insert(0, str(ROOT))
    for module, attribute in LABEL_DICTS:
        try:
            labels = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            continue
        for label in labels.values():
            if label not in catalog:
                catalog.add(label)
    return catalog


def translated(message: Any) -> bool:
    """Whether a catalog entry has English: its one string, or every plural form (one, many)."""
    if message is None:
        return False
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(forms) and all(forms)


def main() -> int:
    """Merge the template into the English catalog, keeping existing translations."""
    template = template_catalog()
    with EN_PO.open("rb") as fh:
        english = read_po(fh, locale="en")
    english.update(template, no_fuzzy_matching=True)
    english.obsolete.clear()
    if len(sys.argv) == 3 and sys.argv[1] == "--fill":
        texts = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
        for message in english:
            if message.id in texts:
                message.string = texts[message.id]
                message.flags.discard("fuzzy")
    with EN_PO.open("wb") as fh:
        write_po(fh, english, omit_header=False, sort_output=True, width=120)
    missing = [m.id for m in english if m.id and not translated(m)]
    print(f"{len(missing)} msgids need English:" if missing else "English catalog is complete")
    for msgid in missing:
        print("  ", msgid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
