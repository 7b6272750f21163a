"""CSV cells that Excel and WPS read as text, never as formulas: the one helper every export uses.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) is run
as a formula when the file is opened, so a buyer name such as ``=HYPERLINK("http://evil/","点我")``
from a seller-centre export would become a link on the partner's PC (OWASP "CSV injection").
Such a cell is written with a leading ``'``, which the spreadsheet shows as plain text; importers
take the quote off again (:func:`unquote_formula`), so text survives the round trip.
"""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Sequence
from typing import TypeVar

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")


def formula_safe(value: T) -> T | str:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unquote_formula(cell: str) -> str:
    """Undo :func:`formula_safe`: ``'=1+1`` → ``=1+1``; a ``'`` before other text is kept."""
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS else cell


def write_csv(rows: Iterable[Sequence[object]], header: Sequence[str] | None = None) -> bytes:
    """A CSV that Excel opens with the Chinese intact (UTF-8 with a BOM, CRLF line ends), every
    cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows([formula_safe(cell) for cell in row] for row in rows)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
