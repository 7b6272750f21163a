"""JSON errors and request-body validation for the API."""
from __future__ import annotations

import re
from typing import Any, TypeVar

from flask import jsonify, request
from flask_babel import gettext as _
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError

from app.i18n import localized
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


def describe_validation_error(exc: ValidationError) -> tuple[str, list[dict[str, str]]]:
    """A one-line message and a per-field list from a pydantic error; our own validators' errors
    (a message id and its values) in the person's language."""
    fields = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        cause = err.get("ctx", {}).get("error")
        text = localized(cause) if isinstance(cause, Exception) and getattr(cause, "msgid", None) else err["msg"]
        fields.append({"field": where, "error": text})
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
