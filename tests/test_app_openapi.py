"""The OpenAPI document at /api/openapi.json stays true: every route documented, every documented
operation a route, bodies the models the views parse, and real answers in the documented shapes."""
from __future__ import annotations

import ast
import inspect
import textwrap

import schemathesis
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from app.api.openapi import OPERATIONS, Multipart, api_rules, build_document
from tests.api_world import make_world, path_values


def test_every_api_route_has_a_documented_operation_and_every_operation_a_route(app):
    routes = api_rules(app)
    assert routes - set(OPERATIONS) == set(), "routes without an entry in app/api/openapi.py OPERATIONS"
    assert set(OPERATIONS) - routes == set(), "documented operations that no route serves"
    document = build_document(app)
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert len(documented) == len(routes) >= 50


def _parsed_models(view) -> set[str]:  # type: ignore[no-untyped-def]
    """Names of the models a view hands to ``load_body``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(view))))
    return {node.args[0].id for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "load_body"
            and node.args and isinstance(node.args[0], ast.Name)}


def _reads_files(view) -> bool:  # type: ignore[no-untyped-def]
    return "request.files" in inspect.getsource(inspect.unwrap(view))


def test_each_documented_body_is_the_model_its_view_parses(app):
    endpoints = {(method, rule.rule): rule.endpoint for rule in app.url_map.iter_rules()
                 for method in rule.methods or ()}
    for key, op in OPERATIONS.items():
        view = app.view_functions[endpoints[key]]
        parsed = _parsed_models(view)
        if isinstance(op.body, Multipart):
            assert _reads_files(view) and not parsed, key
        elif op.body is None:
            assert not parsed and not _reads_files(view), f"{key} parses a body the document does not name"
        else:
            assert parsed == {op.body.__name__}, f"{key}: the view parses {parsed}, the document says {op.body}"


def test_the_document_is_valid_openapi_and_carries_the_limits_of_the_models(app, session, api_as):
    from tests import factories

    api = api_as(factories.user(session, "farmer", "wang"))
    answer = api.get("/api/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    OPENAPI_31_VALIDATOR.validate(document)
    order = document["components"]["schemas"]["NewOrder"]
    assert order["additionalProperties"] is False
    assert set(order["required"]) == {"product_id", "quantity", "channel"}
    assert order["properties"]["product_id"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                                                 "title": "Product Id"}
    assert order["properties"]["address"]["maxLength"] == 200
    create = document["paths"]["/api/orders"]["post"]
    assert create["security"] == [{"bearer": []}, {"session": [], "csrf": []}]
    assert set(create["responses"]) == {"201", "4XX"}
    assert document["paths"]["/api/orders/{order_id}"]["get"]["parameters"][0]["schema"]["type"] == "integer"
    assert document["paths"]["/api/live/start"]["post"]["x-side-effects"]
    assert app.test_client().get("/api/openapi.json").status_code == 401


# (method, path, role, body): real calls whose answers must match the document.
CALLS = [
    ("GET", "/api/me", "farmer", None),
    ("GET", "/api/products", "coordinator", None),
    ("GET", "/api/products/{product_id}", "farmer", None),
    ("PATCH", "/api/products/{product_id}", "coordinator", {"stock": 40, "reason": "盘点"}),
    ("POST", "/api/products", "coordinator", {"name": "土鸡蛋", "unit": "盒", "price_fen": 3000, "stock": 9}),
    ("POST", "/api/orders", "farmer", {"product_id": "{product_id}", "quantity": 2, "buyer_phone": "13800138000",
                                       "channel": "douyin"}),
    ("POST", "/api/orders", "farmer", {"product_id": "{product_id}", "quantity": 0, "channel": "douyin"}),
    ("GET", "/api/orders", "coordinator", None),
    ("GET", "/api/orders/{order_id}", "coordinator", None),
    ("GET", "/api/orders/{order_id}", "partner", None),
    ("GET", "/api/handoffs", "partner", None),
    ("GET", "/api/handoffs/{handoff_id}", "coordinator", None),
    ("GET", "/api/live/status", "farmer", None),
    ("POST", "/api/live/stop", "farmer", None),
    ("GET", "/api/sessions/{session_id}", "farmer", None),
    ("GET", "/api/sessions/{session_id}/report", "farmer", None),
    ("GET", "/api/sessions/{session_id}/clips", "coordinator", None),
    ("GET", "/api/broadcasts", "farmer", None),
    ("GET", "/api/broadcasts/{plan_id}/runs", "coordinator", None),
    ("GET", "/api/contests", "trainer", None),
    ("GET", "/api/contests/{contest_id}/leaderboard", "trainer", None),
    ("POST", "/api/contests/{contest_id}/adjustments", "trainer", {"host": "wang", "points": 2, "reason": "互动好"}),
]


def _fill(value, values):  # type: ignore[no-untyped-def]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return values[value[1:-1]]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def test_real_answers_match_the_documented_shapes(app, session):
    world = make_world(app, session)
    values = path_values(world)
    schema = schemathesis.openapi.from_dict(build_document(app))
    client = app.test_client()
    for method, path, role, body in CALLS:
        answer = client.open(path.format(**values), method=method, headers=world.headers(role),
                             json=_fill(body, values))
        where = f"{method} {path} as {role}"
        assert answer.status_code < 500, (where, answer.get_data(as_text=True))
        schema[path][method].validate_response(answer)
        if answer.status_code >= 400:
            assert answer.json["error"], where


def test_the_documented_ways_in_work_as_documented(app, session):
    """Bearer alone, or the session cookie with the CSRF header the document names on writes."""
    from tests.conftest import csrf_token, login

    world = make_world(app, session)
    schemes = build_document(app)["components"]["securitySchemes"]
    body = {"product_id": world.ids["product_id"], "quantity": 1, "buyer_phone": "13800138000", "channel": "phone"}
    client = app.test_client()
    login(client, "coord")
    assert client.get_cookie(schemes["session"]["name"]) is not None
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/orders", json=body).status_code == 400  # a write without the CSRF header
    header = schemes["csrf"]["name"]
    assert client.post("/api/orders", json=body, headers={header: csrf_token(client)}).status_code == 201
    assert app.test_client().post("/api/orders", json=body, headers=world.headers("coordinator")).status_code == 201
