"""Notes the system writes into a history (a product's price and stock changes, an order's trail).

They are stored as a code and its values, never as text in one language, so that each reader
sees them in their own: ``app.i18n.note_text`` renders them. What a person typed (a
coordinator's own reason) is kept as typed, in the row's text column, with no code.

:func:`parse` turns the Chinese text that rows held before migration 0016 back into a code and
values; anything it does not know stays text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from db import N_

# code → message id (Chinese first). The values each takes are named in the message.
NOTES: dict[str, str] = {
    "product_created": N_("新建商品"),
    "page_edit": N_("页面修改"),
    "api_edit": N_("接口修改"),
    "stock_count": N_("盘点调整"),
    "imported": N_("CSV 导入"),
    "order_logged": N_("订单 #%(id)s"),
    "order_cancelled": N_("取消订单 #%(id)s"),
    "order_edited": N_("修改订单 #%(id)s"),
    # ``changes``: [{"field": "buyer_name", "old": …, "new": …}], labelled with ORDER_FIELDS.
    "order_changed": N_("修改 %(changes)s"),
    "handed_off": N_("交接单 #%(handoff)s → %(partner)s"),
    "picked_up": N_("发货方确认取件（交接单 #%(handoff)s）"),
    "tracking_corrected": N_("更正运单号：%(carrier)s %(tracking_no)s"),
}

# The order fields an edit names in ``order_changed``, with their labels.
ORDER_FIELDS: dict[str, str] = {
    "buyer_name": N_("收货人"),
    "buyer_phone": N_("手机号"),
    "address": N_("地址"),
    "packages": N_("件数"),
    "quantity": N_("数量"),
}
CHANGE = N_("%(field)s：%(old)s → %(new)s")


@dataclass(frozen=True)
class Note:
    """A system-made note: a code of :data:`NOTES` and the values its message takes."""

    code: str
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in NOTES:
            raise ValueError(f"unknown note code {self.code!r}")


def split(note: Note | str | None, limit: int) -> tuple[str, str | None, dict[str, Any] | None]:
    """``(text, code, args)`` to store: a :class:`Note` as its code and values, typed text as
    itself (cut to ``limit`` characters)."""
    if isinstance(note, Note):
        return "", note.code, dict(note.args)
    return (note or "")[:limit], None, None


def _number(value: str) -> int | str:
    return int(value) if value.isdigit() else value


_FIXED = {text: code for code, text in NOTES.items() if "%(" not in text}
_FIXED["Stock count adjustment"] = "stock_count"  # the stock page wrote its default in the reader's language
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("order_logged", re.compile(r"订单 #(?P<id>\d+)")),
    ("order_cancelled", re.compile(r"取消订单 #(?P<id>\d+)")),
    ("order_edited", re.compile(r"修改订单 #(?P<id>\d+)")),
    ("handed_off", re.compile(r"交接单 #(?P<handoff>\d+) → (?P<partner>.*)", re.S)),
    ("picked_up", re.compile(r"发货方确认取件 ?[（(]交接单 #(?P<handoff>\d+)[）)]")),
    ("tracking_corrected", re.compile(r"更正运单号：(?P<carrier>\S+) (?P<tracking_no>\S+)")),
]
_EDIT = re.compile(r"修改 (?P<changes>(?:%s): .*)" % "|".join(ORDER_FIELDS), re.S)
_ONE_EDIT = re.compile(r"(?:^|; )(?P<field>%s): " % "|".join(ORDER_FIELDS))


def parse(text: str | None) -> Note | None:
    """The note that ``text`` (Chinese, as written before codes) stands for, or None (typed text)."""
    text = (text or "").strip()
    if text in _FIXED:
        return Note(_FIXED[text])
    for code, pattern in _PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return Note(code, {k: _number(v) if k in ("id", "handoff") else v for k, v in found.groupdict().items()})
    edit = _EDIT.fullmatch(text)
    if edit:
        return Note("order_changed", {"changes": _edits(edit["changes"])})
    return None


def _edits(text: str) -> list[dict[str, str]]:
    """What an order edit wrote before 0016 (``修改 `` then ``field: old → new`` joined by ``; ``)
    → one dict per field; values may hold ``; `` themselves."""
    starts = list(_ONE_EDIT.finditer(text))
    changes = []
    for here, after in zip(starts, [*starts[1:], None]):
        body = text[here.end(): after.start() if after else len(text)]
        old, _arrow, new = body.partition(" → ")
        changes.append({"field": here["field"], "old": old, "new": new})
    return changes
