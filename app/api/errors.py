"""JSON errors and request-body validation for the API."""
from __future__ import annotations

from typing import Any, TypeVar

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error answered as ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def json_error(status: int, message: str, **extra: Any) -> ResponseReturnValue:
    """A JSON error response."""
    return jsonify({"error": message, **extra}), status


def describe_validation_error(exc: ValidationError) -> tuple[str, list[dict[str, str]]]:
    """A one-line message and a per-field list from a pydantic error."""
    fields = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        fields.append({"field": where, "error": err["msg"]})
    message = "; ".join(f"{f['field']}: {f['error']}" for f in fields)
    return f"输入有误 (invalid input): {message}", fields


def load_body(model: type[M], *, partial: bool = False) -> M:
    """Parse the JSON body into ``model``. Raises :class:`ApiError` 400 with every bad field."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "请求内容必须是 JSON 对象 (body must be a JSON object)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, fields = describe_validation_error(exc)
        raise ApiError(400, message, fields=fields) from exc
