"""The OpenAPI 3.1 document of the JSON API, served at GET /api/openapi.json.

Built from what the app really has, so that it stays true:

- paths, methods and path parameters come from ``app.url_map`` (every ``/api`` rule);
- each summary is the first line of the view's docstring;
- request bodies are the JSON Schemas pydantic generates from the very models the views parse
  with ``load_body`` (types, required keys, limits, unknown keys refused);
- what cannot be read off the code is written once in :data:`OPERATIONS`: who may call it, the
  answer's shape (app/api/answers.py), query parameters, multipart fields.

tests/test_app_openapi.py fails when a route has no entry here or an entry has no route, when an
entry names another body model than its view parses, and when real answers do not match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from accounts.roles import ADMIN, COORDINATOR, FARMER, MANAGERS, PARTNER, ROLES, TRAINER
from app.api import answers, bp
from app.api import broadcasts, contests, handoffs, live, orders, products
from app.inputs import MAX_SQL_INT
from catalog.services import VIEWER_ROLES

HOSTS = (FARMER, COORDINATOR, ADMIN)
EVERYONE = ROLES
CONTESTS = (TRAINER, ADMIN)
SELLERS = (*MANAGERS, FARMER)
BATCHES = (*MANAGERS, PARTNER)


@dataclass(frozen=True)
class Query:
    """A query parameter."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Multipart:
    """A multipart/form-data body: ``files`` are uploads, ``fields`` text fields."""

    files: tuple[str, ...]
    required: tuple[str, ...] = ()
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    many: tuple[str, ...] = ()  # files that may be sent several times


@dataclass(frozen=True)
class Op:
    """One documented operation: who may call it, its body, its answer."""

    roles: tuple[str, ...]
    answer: Any = None  # an answers model, [model] for a list, or a media type for a file
    status: int = 200
    body: type[BaseModel] | Multipart | None = None
    query: tuple[Query, ...] = ()
    # Starts real processes (a broadcast, ffmpeg probes of cameras and destinations): the
    # Schemathesis run leaves it out and says why.
    side_effects: str = ""


_FLAG = {"type": "string", "enum": ["1", "0", "true", "false", "yes", "no", "on", ""]}
IMPORT_FLAGS = {"dry_run": _FLAG, "partial": _FLAG}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_SQL_INT}
_TEXT = {"type": "string"}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/openapi.json"): Op(EVERYONE, answers.OpenApiDocument),
    ("GET", "/api/me"): Op(EVERYONE, answers.Me),
    # Products
    ("GET", "/api/products"): Op(VIEWER_ROLES, [answers.Product], query=(
        Query("q", _TEXT, "name, sku or pinyin initials"), Query("farmer", _TEXT, "a farmer's user name"),
        Query("active", {"type": "string", "enum": ["1", "0", "true", "false"]}),
        Query("sort", {"type": "string", "enum": ["name", "price", "stock", "sku", "link_no", "newest", "updated"]}))),
    ("POST", "/api/products"): Op(MANAGERS, answers.Product, 201, products.NewProduct),
    ("GET", "/api/products/<int:product_id>"): Op(VIEWER_ROLES, answers.Product),
    ("PATCH", "/api/products/<int:product_id>"): Op(MANAGERS, answers.Product, body=products.ProductChanges),
    ("POST", "/api/products/import"): Op(MANAGERS, answers.CatalogImport, body=Multipart(
        files=("file", "photos"), required=("file",), many=("photos",),
        fields={**IMPORT_FLAGS, "progress": {"type": "string", "maxLength": 64}})),
    ("GET", "/api/products/import/progress/<job_id>"): Op(EVERYONE, answers.ImportProgress),
    ("GET", "/api/products/export.csv"): Op(VIEWER_ROLES, "text/csv"),
    ("POST", "/api/products/<int:product_id>/photos"): Op(MANAGERS, answers.Product, 201,
                                                          Multipart(files=("photo",), required=("photo",))),
    # Orders
    ("POST", "/api/orders"): Op(SELLERS, answers.Order, 201, orders.NewOrder),
    ("GET", "/api/orders"): Op(EVERYONE, [answers.Order], query=(
        Query("status", {"type": "string", "enum": ["new", "handed_off", "shipped", "delivered", "cancelled"]}),
        Query("session_id", {"type": "string", "pattern": "^[0-9]{1,19}$"}),
        Query("handoff_id", {"type": "string", "pattern": "^[0-9]{1,19}$"}),
        Query("farmer", _TEXT), Query("channel", _TEXT))),
    ("GET", "/api/orders/<int:order_id>"): Op(EVERYONE, answers.OrderWithEvents),
    ("PATCH", "/api/orders/<int:order_id>"): Op(SELLERS, answers.Order, body=orders.OrderChange),
    ("POST", "/api/orders/<int:order_id>/cancel"): Op(SELLERS, answers.Order),
    ("POST", "/api/orders/<int:order_id>/shipment"): Op((PARTNER,), answers.Order, body=orders.Shipment),
    ("POST", "/api/orders/<int:order_id>/delivered"): Op(BATCHES, answers.Order),
    ("POST", "/api/orders/import"): Op(SELLERS, answers.RowReport, body=Multipart(
        files=("file",), required=("file", "channel"),
        fields={**IMPORT_FLAGS, "channel": {"type": "string", "enum": list(get_args(answers.CHANNEL))}})),
    # Hand-offs
    ("POST", "/api/handoffs"): Op(MANAGERS, answers.Handoff, 201, handoffs.NewHandoff),
    ("GET", "/api/handoffs"): Op(BATCHES, [answers.Handoff]),
    ("GET", "/api/handoffs/<int:handoff_id>"): Op(BATCHES, answers.HandoffWithOrders),
    ("GET", "/api/handoffs/<int:handoff_id>/manifest.csv"): Op(BATCHES, "text/csv"),
    ("GET", "/api/handoffs/<int:handoff_id>/manifest.pdf"): Op(BATCHES, "application/pdf"),
    ("POST", "/api/handoffs/<int:handoff_id>/ack"): Op((PARTNER,), answers.Handoff),
    ("POST", "/api/handoffs/<int:handoff_id>/tracking"): Op((PARTNER,), answers.RowReport, body=Multipart(
        files=("file",), required=("file",), fields=IMPORT_FLAGS)),
    # Live
    ("POST", "/api/live/start"): Op(HOSTS, answers.LiveStarted, 201, live.StartBody,
                                    side_effects="starts a real broadcast: a worker process and ffmpeg"),
    ("POST", "/api/live/show"): Op(HOSTS, answers.LiveShown, body=live.ShowBody),
    ("POST", "/api/live/overlay"): Op(HOSTS, answers.Overlay, body=live.OverlayBody),
    ("GET", "/api/live/status"): Op(HOSTS, answers.LiveStatus),
    ("POST", "/api/live/stop"): Op(HOSTS, answers.LiveStopped),
    ("POST", "/api/live/checklist"): Op(HOSTS, answers.Checklist, body=live.ChecklistBody,
                                        side_effects="opens the camera and microphone and connects to each "
                                                     "destination URL given (any host) with ffmpeg"),
    # After the broadcast
    ("GET", "/api/sessions/<int:session_id>"): Op(HOSTS, answers.SessionDetail),
    ("GET", "/api/sessions/<int:session_id>/report"): Op(HOSTS, answers.SessionReport),
    ("POST", "/api/sessions/<int:session_id>/clips"): Op(HOSTS, [answers.Clip], 202),
    ("GET", "/api/sessions/<int:session_id>/clips"): Op(HOSTS, [answers.Clip]),
    ("POST", "/api/sessions/<int:session_id>/clips/cancel"): Op(HOSTS, answers.Cancelled),
    ("DELETE", "/api/sessions/<int:session_id>/clips"): Op((COORDINATOR, ADMIN), answers.Deleted),
    ("DELETE", "/api/sessions/<int:session_id>/recording"): Op((COORDINATOR, ADMIN), answers.Deleted),
    ("GET", "/api/clips/<int:clip_id>/file"): Op(HOSTS, "video/mp4", query=(
        Query("download", {"type": "string", "enum": ["1", "0"]}, "1: as an attachment"),)),
    # Broadcast plans
    ("POST", "/api/broadcasts"): Op(HOSTS, answers.Plan, 201, broadcasts.PlanBody),
    ("GET", "/api/broadcasts"): Op(HOSTS, [answers.Plan]),
    ("GET", "/api/broadcasts/<int:plan_id>"): Op(HOSTS, answers.Plan),
    ("PATCH", "/api/broadcasts/<int:plan_id>"): Op(HOSTS, answers.Plan, body=broadcasts.PatchBody),
    ("DELETE", "/api/broadcasts/<int:plan_id>"): Op(HOSTS, answers.Plan),
    ("POST", "/api/broadcasts/<int:plan_id>/skip"): Op(HOSTS, answers.PlanRun, body=broadcasts.SkipBody),
    ("GET", "/api/broadcasts/<int:plan_id>/runs"): Op(HOSTS, [answers.PlanRun]),
    ("GET", "/api/broadcasts/<int:plan_id>/poster.png"): Op(HOSTS, "image/png"),
    # Contests
    ("POST", "/api/contests"): Op(CONTESTS, answers.Contest, 201, contests.ContestBody),
    ("GET", "/api/contests"): Op(EVERYONE, [answers.Contest]),
    ("PATCH", "/api/contests/<int:contest_id>"): Op(CONTESTS, answers.Contest, body=contests.RulesBody),
    ("GET", "/api/contests/<int:contest_id>/leaderboard"): Op(EVERYONE, [answers.BoardRow], query=(
        Query("as", {"type": "string", "enum": ["public"]}, "the public (frozen) board"),)),
    ("POST", "/api/contests/<int:contest_id>/entries"): Op((*CONTESTS, FARMER), answers.Entry, 201,
                                                           contests.EntryBody),
    ("POST", "/api/contests/<int:contest_id>/entries/<int:entry_id>/verify"): Op(CONTESTS, answers.Entry),
    ("POST", "/api/contests/<int:contest_id>/adjustments"): Op(CONTESTS, answers.Decision, 201,
                                                               contests.DecisionBody),
}

_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def api_rules(app: Flask) -> set[tuple[str, str]]:
    """``(METHOD, rule)`` of every /api route in the app."""
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """``/api/orders/<int:order_id>`` → ``/api/orders/{order_id}`` and its parameters."""
    params = []
    for converter, name in _PARAM.findall(rule):
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_SQL_INT} if converter == "int" else _TEXT
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), params


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer_schema(answer: Any) -> dict[str, Any]:
    if isinstance(answer, list):
        return {"type": "array", "items": _ref(answer[0].__name__)}
    return _ref(answer.__name__)


def _multipart(body: Multipart) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in body.files:
        upload = {"type": "string", "format": "binary"}
        properties[name] = {"type": "array", "items": upload} if name in body.many else upload
    properties.update(body.fields)
    schema = {"type": "object", "properties": properties, "required": list(body.required)}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _operation(app: Flask, method: str, rule: str, op: Op) -> dict[str, Any]:
    endpoint = next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule and method in (r.methods or ()))
    doc = (app.view_functions[endpoint].__doc__ or "").strip()
    _, params = _path(rule)
    params += [{"name": q.name, "in": "query", "required": False, "schema": q.schema,
                **({"description": q.description} if q.description else {})} for q in op.query]
    if isinstance(op.answer, str):
        success: dict[str, Any] = {"description": op.answer, "content": {op.answer: {"schema": {"type": "string"}}}}
    elif op.answer is None:
        success = {"description": "done"}
    else:
        success = {"description": "done", "content": {"application/json": {"schema": _answer_schema(op.answer)}}}
    error = {"description": "refused: bad input (400), not logged in (401), wrong role (403), not found or not "
                            "yours to see (404), conflict (409), too large (413), too many (429)",
             "content": {"application/json": {"schema": _ref("Error")}}}
    operation: dict[str, Any] = {
        "operationId": endpoint.removeprefix("api."),
        "summary": doc.split("\n", 1)[0],
        "tags": [rule.split("/")[2]],
        "parameters": params,
        "responses": {str(op.status): success, "4XX": error},
        "security": [{"bearer": []}, {"session": [], **({"csrf": []} if method in UNSAFE else {})}],
        "x-roles": list(op.roles),
    }
    if "\n" in doc:
        operation["description"] = doc
    if isinstance(op.body, Multipart):
        operation["requestBody"] = _multipart(op.body)
    elif op.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": _ref(op.body.__name__)}}}
    if op.side_effects:
        operation["x-side-effects"] = op.side_effects
    return operation


def _schemas() -> dict[str, Any]:
    """JSON Schemas of every body model (as the views validate) and answer model (as serialized)."""
    bodies = {op.body for op in OPERATIONS.values() if isinstance(op.body, type)}
    shapes = {a[0] if isinstance(a, list) else a for a in (op.answer for op in OPERATIONS.values())
              if a is not None and not isinstance(a, str)} | {answers.Error}
    validation: Literal["validation"] = "validation"
    serialization: Literal["serialization"] = "serialization"
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (m, validation) for m in sorted(bodies, key=lambda m: m.__name__)]
    models += [(m, serialization) for m in sorted(shapes, key=lambda m: m.__name__)]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    return dict(top.get("$defs", {}))


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s /api routes (those without an entry in
    :data:`OPERATIONS` are left out: the test names them)."""
    paths: dict[str, dict[str, Any]] = {}
    for method, rule in sorted(api_rules(app)):
        op = OPERATIONS.get((method, rule))
        if op is not None:
            path, _ = _path(rule)
            paths.setdefault(path, {})[method.lower()] = _operation(app, method, rule, op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cunbo (村播) JSON API",
            "version": "1",
            "description": "The outside contract is shared/api.md; additions are in the README. Money is integer "
                           "fen, times ISO 8601 with an offset, people are named by user name. `x-roles` lists the "
                           "roles that may call an operation; others get 403, or 404 where existence would leak.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a token from `flask --app wsgi user token NAME`; no CSRF token needed"},
                "session": {"type": "apiKey", "in": "cookie", "name": app.config.get("SESSION_COOKIE_NAME", "session"),
                            "description": "the session cookie of the login page"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                         "description": "with the session cookie, every POST, PATCH and DELETE carries the page's "
                                        "CSRF token (`<meta name=\"csrf-token\">`)"},
            },
        },
    }


def document() -> dict[str, Any]:
    """This app's document, built once (routes and models do not change while it runs)."""
    cached = current_app.extensions.get("cunbo.openapi")
    if cached is None:
        cached = current_app.extensions["cunbo.openapi"] = build_document(current_app)
    return cached


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    """This OpenAPI document: every operation of the JSON API, its body and its answer."""
    return jsonify(document())
