"""Walk every route x role and check exactly who may see what."""

import re

import pytest
from werkzeug.routing import IntegerConverter

# Which roles may use each area (blueprint). Every route must belong to one of these.
AREAS = {
    "auth": None,  # public
    "static": None,
    "account": {"teller", "supervisor", "security", "admin"},  # 修改密码: every logged-in user
    "supervision": {"supervisor"},  # 待主管处理
    "screening": {"teller", "supervisor"},
    "review": {"security", "admin", "supervisor"},
    "admin": {"admin"},
    "printing": {"teller", "supervisor", "security", "admin"},
    "watchlist": {"security", "admin"},
    "api": "token",
    "ops": None,  # /healthz, /readyz, /metrics: no login (ops.py)
    "head_office": set(),  # ho_security and ho_admin only (tests/test_head_office.py)
}
ROLES = ["teller", "supervisor", "security", "admin"]
# Routes open to fewer roles than the rest of their area.
ENDPOINT_ROLES = {
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


@pytest.mark.parametrize("role", ROLES)
def test_a_password_somebody_else_set_leads_every_page_to_the_change(app, client, auth,
                                                                     database, role):
    """Until the user has chosen their own password, every page of every area (their own
    included) sends them to 修改密码, which alone opens."""
    database.execute("UPDATE users SET must_change_password = 1 WHERE username = ?", [role])
    assert auth.login(role).headers["Location"] == "/account/password"
    for endpoint, path in concrete_get_routes(app):
        if AREAS[endpoint.split(".")[0]] in (None, "token") or endpoint == "account.password":
            continue
        response = client.get(path)
        assert response.status_code == 302, f"{role} {path}: {response.status_code}"
        assert response.headers["Location"] == "/account/password", path
    assert client.get("/account/password").status_code == 200


def test_anonymous_is_sent_to_login_everywhere(app, client):
    for endpoint, path in concrete_get_routes(app):
        area = endpoint.split(".")[0]
        if AREAS[area] in (None, "token"):
            continue
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"]


# --- route x role x owner: whose screening it is matters as much as the role -----------------

# Screenings owned by these users; for each role, how it relates to each of them.
OWNERS = ("teller", "teller2", "supervisor")
# Each screening and printing route with a session id: method and the form it posts (harmless
# for the owner: empty or invalid input, or a print).
OWNER_ROUTES = {
    "screening.facts": ("GET", None),
    "screening.questions": ("GET", None),
    "screening.result": ("GET", None),
    "screening.facts/post": ("POST", {}),
    "screening.questions/post": ("POST", {}),
    "screening.facts_draft": ("POST", {}),
    "screening.questions_draft": ("POST", {}),
    "screening.statement": ("POST", {"statement": ""}),
    "screening.supervisor": ("POST", {}),
    "screening.outcome": ("POST", {"outcome": ""}),
    "screening.discard": ("GET", None),
    "screening.discard/post": ("POST", {}),
    "printing.slip": ("GET", None),
    "printing.alert": ("GET", None),
    "printing.alert_pdf": ("POST", {}),
    "printing.alert_customer": ("POST", {}),
}
# Reading the result and printing are open to supervisors for the branch's screenings; every
# other screening route belongs to the screening's own teller.
SUPERVISOR_READS = {"screening.result", "printing.slip", "printing.alert", "printing.alert_pdf"}


def expected_access(role: str, route: str, owner: str) -> str:
    """'ok', 'forbidden' (403) or 'hidden' (404, another teller's screening does not exist)."""
    endpoint = route.split("/")[0]
    own = owner == role
    if endpoint == "printing.alert_customer":
        # the customer is at the screening's own counter: its teller alone adds their details
        return "ok" if own else "forbidden"
    if endpoint.startswith("printing.alert"):
        # a teller prints the alert of their own screening; another teller's stays a 403
        return "forbidden" if role == "teller" and not own else "ok"
    if endpoint == "printing.slip":
        return "hidden" if role == "teller" and not own else "ok"
    if role not in ("teller", "supervisor"):
        return "forbidden"  # security and admin have no screening area
    if own:
        return "ok"
    if role == "teller":
        return "hidden"
    return "ok" if endpoint in SUPERVISOR_READS else "forbidden"


def owner_path(app, route: str, session_id: int) -> str:
    from flask import url_for

    with app.test_request_context():
        return url_for(route.split("/")[0], session_id=session_id)


def test_the_owner_walk_covers_every_route_with_a_session(app):
    with_session = {rule.endpoint for rule in app.url_map.iter_rules()
                    if "session_id" in rule.arguments
                    and rule.endpoint.split(".")[0] in ("screening", "printing")}
    assert with_session == {route.split("/")[0] for route in OWNER_ROUTES}


@pytest.mark.parametrize("role", ROLES)
def test_route_by_role_by_owner(app, client, auth, database, role):
    from conftest import csrf_token
    from printing_web_helpers import make_session

    sessions = {owner: make_session(app, database, "critical", teller=owner) for owner in OWNERS}
    auth.login(role)
    token = csrf_token(client, "/login")
    for owner, session_id in sessions.items():
        for route, (method, form) in OWNER_ROUTES.items():
            path = owner_path(app, route, session_id)
            if method == "GET":
                status = client.get(path).status_code
            else:
                status = client.post(path, data={**form, "csrf_token": token}).status_code
            expected = expected_access(role, route, owner)
            where = f"{role} {method} {path} (screening of {owner}): {status}"
            if expected == "ok":
                assert status not in (401, 403, 404, 405, 500), where
            else:
                assert status == {"forbidden": 403, "hidden": 404}[expected], where
