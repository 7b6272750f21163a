"""Reading and writing the spreadsheets people exchange: seller-centre exports, tracking lists.

Files come from Excel or a platform's seller centre, so they may be an Excel workbook (.xlsx, its
first sheet) or a CSV in UTF-8 (with or without a BOM) or GB18030/GBK. They name their columns in
several ways, and wrap long numbers as ``="123…"`` so that Excel does not round them. Row numbers
are the ones Excel shows: the header is row 1.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.text import FORMULA_STARTS
from catalog.errors import ImportFileRejected
from catalog.spreadsheet import read_table
from db import N_
from orders.errors import OrderError

def _table(data: bytes) -> Iterator[list[str]]:
    """The rows of a CSV (in whatever encoding Excel wrote it), or of a workbook's first sheet,
    streamed. Raises :class:`OrderError` as they are read."""
    try:
        yield from read_table(data)
    except ImportFileRejected as exc:
        raise OrderError(exc.msgid, None, **exc.params) from exc


def _key(header: str) -> str:
    return re.sub(r"[\s_\-:：*]", "", header).lower()


def clean_cell(value: str | None) -> str:
    """A cell without the quoting tricks exports use to keep long numbers intact (``="123…"``,
    ``'123…``). A ``'`` before a formula stays: it is what keeps ``'=cmd|…`` text in every
    spreadsheet the cell later reaches (catalog.text)."""
    text = (value or "").strip()
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    text = text.lstrip("\t")
    if text.startswith("'") and not text[1:].lstrip().startswith(FORMULA_STARTS):
        text = text[1:]
    return text.strip()


def read_rows(data: bytes, columns: Mapping[str, Sequence[str]],
              required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(excel_row, {field: cell})`` for each non-blank row.

    ``columns`` maps each field to the header names it may have, in order of preference.
    Raises :class:`OrderError` for an empty file or when a required column is missing.
    """
    reader = _table(data)
    header = next(reader, None)
    if not header:
        raise OrderError(N_("文件是空的"))
    positions = {_key(h): i for i, h in reversed(list(enumerate(header)))}
    where: dict[str, int] = {}
    for name, aliases in columns.items():
        for alias in aliases:
            if _key(alias) in positions:
                where[name] = positions[_key(alias)]
                break
    missing = [columns[name][0] for name in required if name not in where]
    if missing:
        raise OrderError(N_("文件缺少这些列：%(columns)s"), columns="、".join(missing))
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        yield number, {name: clean_cell(cells[i]) if i < len(cells) else "" for name, i in where.items()}


@dataclass
class RowResult:
    """What happened to one row of an uploaded file: ``message`` is a Chinese message id and
    ``params`` fill its ``%(name)s`` slots, so that the app can show it in the person's language."""

    row: int
    outcome: str  # "created", "updated", "unchanged" or "error"
    message: str = ""
    order_id: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def chinese(msgid: str, params: Mapping[str, Any]) -> str:
    """A message id filled with its values, untranslated (the source language)."""
    return msgid % dict(params) if params else msgid


@dataclass
class RowReport:
    """The row-by-row report of an upload; counts follow shared/api.md's import convention."""

    rows: list[RowResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """How many rows ended with ``outcome``."""
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def errors(self) -> list[RowResult]:
        """The rows that were refused."""
        return [r for r in self.rows if r.outcome == "error"]

    def to_dict(self, translate: Callable[[str, Mapping[str, Any]], str] = chinese) -> dict[str, Any]:
        """``{"created", "updated", "unchanged", "errors": [{"row", "error"}], "rows": [...]}``, each
        message through ``translate`` (the app passes its gettext for the person's language)."""
        return {
            "created": self.count("created"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "errors": [{"row": r.row, "error": translate(r.message, r.params)} for r in self.errors],
            "rows": [
                {"row": r.row, "outcome": r.outcome, "message": translate(r.message, r.params), "order_id": r.order_id}
                for r in self.rows
            ],
        }
