"""Input at the edge: integers an INTEGER column can hold, ids in URLs, forms and JSON.

Python's ``int`` has no limit, SQLite's and PostgreSQL's have: an id of 2⁶³ reached the
database and came back as a 500 (issue 15 #7). Here every id and count is bounded where it enters,
and JSON ``true`` is not taken for 1 (#8).
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from flask import Flask, abort, request
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, Strict
from werkzeug.routing import IntegerConverter

from db import FIRST_YEAR, LAST_YEAR, in_calendar

# Every id and count column is INTEGER: 32 bits on PostgreSQL (SQLite stores 64). An id of 2³¹
# reached PostgreSQL and came back as a 500 (Schemathesis, on the county server's database).
MAX_SQL_INT = 2**31 - 1

# Strict: JSON ``true``, ``1.0`` and ``"1"`` are refused; bounded: it fits an INTEGER.
Int = Annotated[int, Strict(), Field(ge=-MAX_SQL_INT, le=MAX_SQL_INT)]
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_SQL_INT)]

D = TypeVar("D", date, datetime)


def _in_calendar(value: D) -> D:
    if not in_calendar(value):
        raise ValueError(f"the year must be from {FIRST_YEAR} to {LAST_YEAR}")
    return value


# Dates and times within the years people may give (db.in_calendar): past them the value was
# stored and every page showing it in the village's zone broke.
Day = Annotated[date, AfterValidator(_in_calendar)]
Moment = Annotated[AwareDatetime, AfterValidator(_in_calendar)]
# A time with or without an offset (without: the village's wall clock, as broadcast plans take it).
LocalMoment = Annotated[datetime, AfterValidator(_in_calendar)]

_ID_RE = re.compile(r"[0-9]{1,10}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Body(BaseModel):
    """A JSON request body: a key the model does not name is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class SqlIntConverter(IntegerConverter):
    """``<int:…>`` in a URL: ASCII digits up to :data:`MAX_SQL_INT`; a larger one is a 404."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_SQL_INT if max is None else max,
                         signed=signed)


def parse_id(text: str | None) -> int | None:
    """An id typed in a form or query (``"12"``) → 12; None for anything else (``"²"``, ``"-1"``,
    ``"10²³"``, a number past :data:`MAX_SQL_INT`). ``str.isdigit`` accepts "²", which ``int`` refuses."""
    value = (text or "").strip()
    if not _ID_RE.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_SQL_INT else None


def has_unstorable_characters(text: str) -> bool:
    """Whether ``text`` holds NUL or a lone surrogate, which no database column stores."""
    return _UNSTORABLE.search(text) is not None


def _refuse_unstorable_fields() -> None:
    """Answer 400 for a query or form field holding NUL (``?farmer=%00``): PostgreSQL cannot
    compare text with it, so the lookup would fail with a 500. Uploaded files are not fields."""
    fields = [*request.args.items(multi=True)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields += request.form.items(multi=True)
    if any(has_unstorable_characters(key) or has_unstorable_characters(value) for key, value in fields):
        abort(400)


def init_app(app: Flask) -> None:
    """Bound ``<int:…>`` in every route (before the blueprints add their rules), and refuse
    fields no database can store before any view sees them."""
    app.url_map.converters["int"] = SqlIntConverter
    app.before_request(_refuse_unstorable_fields)
