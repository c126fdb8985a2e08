"""Walk every route x role and check exactly who may see what."""

import re

import pytest
from werkzeug.routing import IntegerConverter

# Which roles may use each area (blueprint). Every route must belong to one of these.
AREAS = {
    "auth": None,  # public
    "static": None,
    "screening": {"teller", "supervisor"},
    "review": {"security", "admin", "supervisor"},
    "admin": {"admin"},
    "printing": {"teller", "supervisor", "security", "admin"},
    "watchlist": {"security", "admin"},
    "api": "token",
    "ops": None,  # /healthz, /readyz, /metrics: no login (ops.py)
}
ROLES = ["teller", "supervisor", "security", "admin"]
# Routes open to fewer roles than the rest of their area.
ENDPOINT_ROLES = {
    "printing.alert": {"supervisor", "security", "admin"},
    "printing.outbox": {"security", "admin"},
    "review.access_log_page": {"security", "admin"},
}


def concrete_get_routes(app):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = rule.rule
        for argument in rule.arguments:
            converter = rule._converters[argument]
            value = "1" if isinstance(converter, IntegerConverter) else "x"
            if hasattr(converter, "items"):
                value = sorted(converter.items)[0]
            path = re.sub(rf"<[^>]*\b{argument}>", value, path)
        yield rule.endpoint, path


def test_every_route_belongs_to_a_known_area(app):
    for endpoint, _ in concrete_get_routes(app):
        area = endpoint.split(".")[0] if "." in endpoint else endpoint
        assert area in AREAS, f"route {endpoint} is in an area the access table does not know"


@pytest.mark.parametrize("role", ROLES)
def test_route_by_role(app, client, auth, role):
    auth.login(role)
    for endpoint, path in concrete_get_routes(app):
        area = endpoint.split(".")[0]
        allowed = ENDPOINT_ROLES.get(endpoint, AREAS[area])
        if allowed in (None, "token") or area == "static":
            continue
        status = client.get(path).status_code
        if role in allowed:
            assert status not in (401, 403), f"{role} refused {path} ({status})"
            assert status != 500, f"{path} errored for {role}"
        else:
            assert status == 403, f"{role} reached {path} ({status})"


def test_anonymous_is_sent_to_login_everywhere(app, client):
    for endpoint, path in concrete_get_routes(app):
        area = endpoint.split(".")[0]
        if AREAS[area] in (None, "token"):
            continue
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"]
