"""Every route needs login except the few that must not: proven by walking app.url_map."""
from __future__ import annotations

import re

from app.security import PUBLIC_ENDPOINTS

SAMPLE_ARGS = {"int": "1", "string": "x", "path": "x/y", "float": "1.0", "any": "x"}


def concrete(rule) -> str:
    def fill(match: re.Match) -> str:
        converter = (match.group(1) or "string").split("(")[0]
        return SAMPLE_ARGS.get(converter, "1")

    return re.sub(r"<(?:([a-z]+(?:\([^)]*\))?):)?[a-zA-Z_]+>", fill, rule.rule)


def test_every_route_but_the_public_ones_requires_login(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = concrete(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            checked += 1
            if path.startswith("/api/"):
                assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
                assert response.is_json and response.json["error"]
            else:
                assert response.status_code == 302, f"{method} {path} answered {response.status_code}"
                assert "/auth/login" in response.location
    assert checked >= 3


def test_public_routes_are_exactly_the_expected_ones():
    assert PUBLIC_ENDPOINTS == {"static", "main.healthz", "auth.login", "auth.pin_login", "main.set_language"}
