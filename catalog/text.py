"""Text people type that reaches screens, the video and spreadsheets: the checks every field
shares, and the one CSV writer every export uses.

Hidden characters: C0/C1 control characters (``\x1b[31m`` repaints a terminal reading the log,
NUL cuts C strings), bidirectional overrides (U+202E shows "txt.exe" as "exe.txt" and turns a
price around on screen), invisible marks and zero-width spaces (U+200B makes two products that
look alike), and lone surrogates (they cannot be stored as UTF-8) are refused in every field.

Formulas: a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) is run
as a formula when the file is opened, so a buyer name such as ``=HYPERLINK("http://evil/","点我")``
from a seller-centre export would become a link on the partner's PC (OWASP "CSV injection").
Such a cell is written with a leading ``'``, which the spreadsheet shows as plain text; importers
take the quote off again (:func:`unquote_formula`), so text survives the round trip.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Tab, line feed and carriage return are allowed where a field keeps lines (descriptions, notes).
_HIDDEN_IN_BLOCK = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ud800-\udfff"
_HIDDEN_BLOCK = re.compile(f"[{_HIDDEN_IN_BLOCK}]")
_HIDDEN_LINE = re.compile(f"[\t\n\r{_HIDDEN_IN_BLOCK}]")

T = TypeVar("T")


def has_hidden_characters(text: str, *, lines: bool = False) -> bool:
    """Whether ``text`` holds a character a person cannot see or that changes how the rest is
    shown (see the module's docstring); with ``lines``, tabs and line breaks are allowed."""
    return (_HIDDEN_BLOCK if lines else _HIDDEN_LINE).search(text) is not None


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
