"""JSON errors and request-body validation for the API."""
from __future__ import annotations

import re
from typing import Any, TypeVar

from flask import jsonify, request
from flask_babel import gettext as _
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError

from app.i18n import N_, localized, translated
from app.inputs import has_unstorable_characters

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error answered as ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_code(exc: Exception) -> str:
    """A stable code for a domain error, whatever the language: its class in snake case
    (``OutOfStock`` → ``out_of_stock``), so a script need not read the ``error`` text."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def json_error(status: int, message: str, **extra: Any) -> ResponseReturnValue:
    """A JSON error response."""
    return jsonify({"error": message, **extra}), status


# pydantic's own messages are English; these are ours for the kinds of bad input a body can have
# (filled from the error's ``ctx``). A kind not listed keeps pydantic's text.
PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": N_("必须填写"),
    "extra_forbidden": N_("不认识这一项"),
    "int_type": N_("要是整数"), "int_parsing": N_("要是整数"), "int_from_float": N_("要是整数"),
    "float_type": N_("要是数字"), "float_parsing": N_("要是数字"),
    "bool_type": N_("要是 true 或 false"), "bool_parsing": N_("要是 true 或 false"),
    "string_type": N_("要是文字"), "list_type": N_("要是一个列表"),
    "dict_type": N_("要是一个对象"), "model_type": N_("要是一个对象"),
    "greater_than": N_("要大于 %(gt)s"), "greater_than_equal": N_("不能小于 %(ge)s"),
    "less_than": N_("要小于 %(lt)s"), "less_than_equal": N_("不能大于 %(le)s"),
    "string_too_short": N_("至少 %(min_length)s 个字"), "string_too_long": N_("最多 %(max_length)s 个字"),
    "too_short": N_("至少 %(min_length)s 项"), "too_long": N_("最多 %(max_length)s 项"),
    "literal_error": N_("只能是：%(expected)s"),
    "datetime_type": N_("时间格式不对，如 2026-01-31T08:00:00+08:00"),
    "datetime_parsing": N_("时间格式不对，如 2026-01-31T08:00:00+08:00"),
    "datetime_from_date_parsing": N_("时间格式不对，如 2026-01-31T08:00:00+08:00"),
    "timezone_aware": N_("时间要带时区，如 2026-01-31T08:00:00+08:00"),
}


def _field_message(err: Any) -> str:
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, Exception) and getattr(cause, "msgid", None):
        return localized(cause)
    msgid = PYDANTIC_MESSAGES.get(err["type"])
    if msgid is None:
        return str(err["msg"])
    values = {k: v for k, v in err.get("ctx", {}).items() if isinstance(v, (int, float, str))}
    try:
        return translated(msgid, values)
    except (KeyError, ValueError, TypeError):  # a ctx without the value the message names
        return str(err["msg"])


def describe_validation_error(exc: ValidationError) -> tuple[str, list[dict[str, str]]]:
    """A one-line message and a per-field list from a pydantic error, in the person's language
    (our validators' message ids, and :data:`PYDANTIC_MESSAGES` for pydantic's own kinds)."""
    fields = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        fields.append({"field": where, "error": _field_message(err)})
    message = "; ".join(f"{f['field']}: {f['error']}" for f in fields)
    return _("输入有误：%(problems)s", problems=message), fields


# API bodies are small (an order, a product); the 60 MB limit is for spreadsheet uploads.
MAX_JSON_BYTES = 256 * 1024


def _has_unstorable_text(data: Any) -> bool:
    """Whether any string in the parsed JSON (keys included) holds what no database column can
    store: a lone surrogate such as ``"\ud800"`` (JSON allows it, UTF-8 cannot encode it) or NUL
    (PostgreSQL refuses it in text). Either made the query fail with a 500."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_unstorable_characters(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_body(model: type[M], *, partial: bool = False) -> M:
    """Parse the JSON body into ``model``.

    Raises :class:`ApiError` 413 for a body over :data:`MAX_JSON_BYTES`, 400 for one that is not
    a JSON object (nested too deep for the parser, say), holds text that cannot be stored, or has
    bad fields (each listed).
    """
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise ApiError(413, _("请求内容太大"))
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # e.g. 100,000 nested arrays: Python's parser gives up, not ValueError
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, _("请求内容必须是 JSON 对象"))
    if _has_unstorable_text(data):
        raise ApiError(400, _("请求里有无法保存的字符（不成对的代理项）"))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, fields = describe_validation_error(exc)
        raise ApiError(400, message, fields=fields) from exc
