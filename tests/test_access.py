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
    "radar": {"ho_security", "ho_admin"},  # 涉诈收款账户雷达: head office only
    "api": "token",
    "ops": None,  # /healthz, /readyz, /metrics: no login (ops.py)
    "head_office": {"ho_security", "ho_admin"},  # head office only (tests/test_head_office.py)
}
ROLES = ["teller", "supervisor", "security", "admin"]
# Routes open to fewer roles than the rest of their area.
ENDPOINT_ROLES = {
    "printing.outbox": {"security", "admin"},
    "review.access_log_page": {"security", "admin"},
    # 网点管理: the head-office admin only (tests/test_admin_branches.py)
    "admin.branches": {"ho_admin"},
    "admin.new_branch": {"ho_admin"},
    "admin.bank_settings_page": {"ho_admin"},
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


# --- route x role x branch: a branch sees its own screenings only (issue 16) ------------------

BRANCH_ROLES = ("teller_b2", "supervisor_b2", "security_b2", "admin_b2")
HEAD_OFFICE = ("ho_security_1", "ho_admin_1")
# Areas whose pages list or count screenings (admin's users list, settings and tokens are the
# head-office admin helper's; the token page's branch is tested with the API below).
LISTING_AREAS = ("screening", "supervision", "review", "printing", "watchlist", "account")


@pytest.fixture
def branches(app, database):
    from branch_helpers import make_branches

    return make_branches(app, database)


def login_as(auth, username):
    from branch_helpers import PASSWORD

    response = auth.login(username, PASSWORD)
    assert response.status_code == 302, username


def session_routes(app, methods: set[str]):
    """(endpoint, method) of every page route with a session id, from the route table."""
    return sorted({(rule.endpoint, method) for rule in app.url_map.iter_rules()
                   if "session_id" in rule.arguments and not rule.endpoint.startswith("api.")
                   for method in rule.methods & methods})


def session_path(app, endpoint: str, session_id: int) -> str:
    from flask import url_for

    with app.test_request_context():
        return url_for(endpoint, session_id=session_id)


def get_status(client, path: str) -> tuple[int, str]:
    response = client.get(path)
    return response.status_code, response.get_data().decode("utf-8", "replace")  # PDFs too


@pytest.mark.parametrize("username", BRANCH_ROLES)
def test_another_branchs_screening_is_not_found_on_every_page(app, client, auth, database,
                                                              branches, username):
    """Every GET route with a session id, for every screening of branch 1: a 404 wherever the
    same route opens branch 2's own screenings for this user (a 403 only where the user's role
    is refused there anyway), never the page; and nothing is printed or logged."""
    from branch_helpers import snapshot

    login_as(auth, username)
    routes = session_routes(app, {"GET"})
    assert len(routes) >= 7, routes
    for endpoint, _ in routes:
        own = {get_status(client, session_path(app, endpoint, sid))[0]
               for sid in branches.second.values()}
        for status_name, session_id in branches.first.items():
            before = snapshot(database, session_id)
            path = session_path(app, endpoint, session_id)
            status, body = get_status(client, path)
            where = f"{username} GET {path} ({status_name} of branch 1): {status}, own branch {own}"
            assert status in (403, 404), where
            if own != {403}:
                assert status == 404, where
            assert branches.references[session_id] not in body, where
            assert snapshot(database, session_id) == before, where


@pytest.mark.parametrize("username", HEAD_OFFICE)
def test_head_office_reads_every_branchs_cases(app, client, auth, branches, username):
    login_as(auth, username)
    queue = client.get("/review/").get_data(as_text=True)
    for sessions in (branches.first, branches.second):
        finished = sessions["finished"]
        assert branches.references[finished] in queue, username
        status, body = get_status(client, f"/review/{finished}")
        assert status == 200 and branches.references[finished] in body
    # what head office does on the branches' cases is security's or admin's (has_role)
    assert client.get(f"/print/{branches.first['finished']}/alert").status_code == 200
    assert client.get("/review/access-log").status_code == 200


def listing_paths(app):
    """Every GET page without arguments in the listing areas (from the route table), bare and
    with a filter that would find branch 1's screenings."""
    wide = "date_from=2000-01-01&date_to=2099-12-31&reference=TG"  # every reference
    for endpoint, path in concrete_get_routes(app):
        if endpoint.split(".")[0] in LISTING_AREAS and "<" not in path and "/static/" not in path:
            yield path
            yield f"{path}?{wide}"
    yield "/review/?search=1"
    yield "/screening/search?reference=TG"


# Every POST that lists, searches or exports screenings: the form that would find branch 1's.
LISTING_POSTS = {
    "review.search": {"surname": "王"},
    "review.clear_search": {},
    "review.export_queue": {"date_from": "2000-01-01"},
    "review.export_statistics": {"date_from": "2000-01-01", "date_to": "2099-12-31"},
    "head_office.export_statistics": {"date_from": "2000-01-01", "date_to": "2099-12-31"},
    "watchlist.export": {},
    "watchlist.search": {"account": "6217001234567890123"},
}


def test_the_listing_posts_cover_every_export_and_search(app):
    posts = {rule.endpoint for rule in app.url_map.iter_rules()
             if rule.methods & {"POST"} and not rule.arguments and
             any(word in rule.endpoint for word in ("export", "search"))}
    assert posts == set(LISTING_POSTS)


@pytest.mark.parametrize("username", BRANCH_ROLES)
def test_lists_searches_exports_and_statistics_show_only_the_own_branch(
        app, client, auth, branches, username):
    from conftest import csrf_token

    login_as(auth, username)
    hidden = [*branches.references_of(branches.first), *BRANCH_1_NAMES]
    shown_somewhere = set()
    for path in listing_paths(app):
        status, body = get_status(client, path)
        assert status != 500, path
        for text in hidden:
            assert text not in body, f"{username} {path} shows {text}"
        shown_somewhere.update(ref for ref in branches.references_of(branches.second)
                               if ref in body)
    token = csrf_token(client, "/account/password")
    for endpoint, form in LISTING_POSTS.items():
        with app.test_request_context():
            from flask import url_for

            path = url_for(endpoint)
        response = client.post(path, data={**form, "csrf_token": token}, follow_redirects=True)
        body = response.get_data().decode("utf-8-sig")
        assert response.status_code in (200, 400, 403), (path, response.status_code)
        for text in hidden:
            assert text not in body, f"{username} POST {path} shows {text}"
    if username != "admin_b2":  # the admin has no screening pages: nothing to show of branch 2
        assert shown_somewhere, f"{username} saw none of its own branch's screenings"


BRANCH_1_NAMES = ("teller名", "teller2名")


def test_a_branchs_statistics_count_its_own_screenings(app, client, auth, branches):
    from conftest import csrf_token

    def statistics_csv(username: str) -> str:
        login_as(auth, username)
        token = csrf_token(client, "/review/statistics")
        return client.post("/review/export/statistics", data={
            "date_from": "2000-01-01", "date_to": "2099-12-31", "csrf_token": token,
        }).get_data().decode("utf-8-sig")

    # branch 2's draft, awaiting and finished screenings (the discarded one counts nowhere)
    assert "问询总数,3\r\n" in statistics_csv("security_b2")
    assert "问询总数,6\r\n" in statistics_csv("ho_security_1")


def effective_forms(database):
    """For each POST route with a session id, a form that changes the screening for whoever
    may: the refusal below is not an empty form's 400."""
    from branch_helpers import PASSWORD
    from printing_web_helpers import CUSTOMER_ID
    from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS

    security = database.execute("SELECT id FROM users WHERE username = 'security_b2'"
                                ).fetchone()[0]
    return {
        "screening.facts": BENIGN_FACTS,
        "screening.questions": {**BENIGN_ANSWERS, "action": "save"},
        "screening.facts_draft": {"amount": "5000"},
        "screening.questions_draft": {"answers.purpose": "family_living"},
        "screening.statement": {"statement": "客户说是给儿子交学费"},
        "screening.supervisor": {"supervisor_username": "supervisor_b2",
                                 "supervisor_password": PASSWORD, "supervisor_reason": "客户坚持"},
        "screening.outcome": {"outcome": "cancelled"},
        "screening.discard": {"reason": "customer_left"},
        "printing.alert_pdf": {},
        "printing.alert_customer": {"customer_name": "张三", "customer_phone": "13912345678",
                                    "customer_id_number": CUSTOMER_ID},
        "review.close": {"to": "false_alarm", "note": "误报"},
        "review.transition": {"to": "in_review"},
        "review.assign": {"assignee_id": str(security)},
        "review.add_note": {"note": "另一网点的备注"},
        "review.propose_watchlist": {"note": "请列入名单"},
        "review.escalate": {"reason": "客户在多个网点转账"},
        "head_office.close": {"to": "false_alarm", "note": "误报"},
        "head_office.transition": {"to": "in_review"},
    }


@pytest.mark.parametrize("username", BRANCH_ROLES)
def test_no_post_changes_another_branchs_screening(app, client, auth, database, branches,
                                                   username):
    """Every POST route with a session id (from the route table), with a form that would act,
    on every screening of branch 1: refused (404, or the area's 403), and nothing changed."""
    from branch_helpers import snapshot
    from conftest import csrf_token

    forms = effective_forms(database)
    routes = session_routes(app, {"POST"})
    assert {endpoint for endpoint, _ in routes} == set(forms)
    login_as(auth, username)
    token = csrf_token(client, "/account/password")
    for endpoint, _ in routes:
        for status_name, session_id in branches.first.items():
            before = snapshot(database, session_id)
            path = session_path(app, endpoint, session_id)
            status = client.post(path, data={**forms[endpoint], "csrf_token": token}).status_code
            where = f"{username} POST {path} ({status_name} of branch 1): {status}"
            assert status in (403, 404), where
            assert snapshot(database, session_id) == before, where


def test_the_same_posts_act_on_the_own_branch(app, client, auth, database, branches):
    """The forms above are the ones that act: branch 2's security closes its own case and its
    teller records an outcome (so the refusals above are the branch's, not the form's)."""
    from conftest import csrf_token

    forms = effective_forms(database)
    login_as(auth, "security_b2")
    token = csrf_token(client, "/account/password")
    finished = branches.second["finished"]
    assert client.post(f"/review/{finished}/close",
                       data={**forms["review.close"], "csrf_token": token}).status_code == 303
    assert database.execute("SELECT review_status FROM sessions WHERE id = ?",
                            [finished]).fetchone()[0] == "false_alarm"
    login_as(auth, "teller_b2")
    token = csrf_token(client, "/account/password")
    awaiting = branches.second["awaiting"]
    client.post(f"/screening/{awaiting}/outcome",
                data={**forms["screening.outcome"], "csrf_token": token})
    assert database.execute("SELECT outcome FROM sessions WHERE id = ?",
                            [awaiting]).fetchone()[0] == "cancelled"


# --- the API: a token acts for one branch --------------------------------------------------------


@pytest.fixture
def branch_2_token(app, branches):
    from conftest import open_database

    from teller_guard import api_scope, api_tokens

    database = open_database(app)
    try:
        return api_tokens.create(database, app.extensions["teller_guard"]["ledger_key"],
                                 "二号网点核心系统", None,
                                 api_scope.Scope(None, "all", True), branch_id=2)[1]
    finally:
        database.conn.close()


def api_session_routes(app):
    return sorted({(rule.rule, method) for rule in app.url_map.iter_rules()
                   if rule.endpoint.startswith("api.") and "session_id" in rule.arguments
                   for method in rule.methods - {"HEAD", "OPTIONS"}})


def test_a_branch_token_never_reads_or_changes_another_branchs_screening(
        app, client, database, branches, branch_2_token):
    from api_helpers import CRITICAL, answers_of, call
    from branch_helpers import snapshot

    bodies = {"PUT": answers_of(CRITICAL), "POST": {"outcome": "cancelled",
                                                    "decision": "override", "reason": "客户坚持",
                                                    "supervisor": "supervisor_b2"}}
    routes = api_session_routes(app)
    assert {method for _, method in routes} == {"GET", "PUT", "POST"}
    for rule, method in routes:
        for status_name, session_id in branches.first.items():
            before = snapshot(database, session_id)
            path = rule.replace("<int:session_id>", str(session_id))
            response = call(client, branch_2_token, method.lower(), path, bodies.get(method))
            where = f"{method} {path} ({status_name} of branch 1): {response.status_code}"
            assert response.status_code == 404, where
            assert branches.references[session_id] not in response.get_data(as_text=True)
            assert snapshot(database, session_id) == before, where
    own = branches.second["finished"]
    assert call(client, branch_2_token, "get", f"/api/v1/screenings/{own}").status_code == 200


def test_a_branch_token_lists_its_branch_and_files_for_its_tellers_only(
        app, client, branches, branch_2_token):
    from api_helpers import BENIGN, body, call, post

    listed = call(client, branch_2_token, "get", "/api/v1/screenings?limit=100").get_json()
    references = {item["reference"] for item in listed["items"]}
    assert references == set(branches.references_of(branches.second))
    filtered = call(client, branch_2_token, "get", "/api/v1/screenings?teller=teller")
    assert filtered.status_code == 400 and "teller" in filtered.get_json()["error"]["fields"]
    refused = post(client, branch_2_token, body(BENIGN, teller="teller"))
    assert refused.status_code == 403, refused.get_json()
    assert list(refused.get_json()["error"]["fields"]) == ["teller"]
    assert post(client, branch_2_token, body(BENIGN, teller="teller_b2")).status_code == 201


def test_a_branch_token_takes_only_its_branchs_supervisor(app, client, branches,
                                                          branch_2_token):
    from api_helpers import CRITICAL, body, call, post

    filed = post(client, branch_2_token, body(CRITICAL, teller="teller_b2"))
    assert filed.status_code == 201, filed.get_json()
    path = f"/api/v1/screenings/{filed.get_json()['id']}/supervisor"
    other = call(client, branch_2_token, "post", path, {
        "decision": "override", "reason": "客户坚持", "supervisor": "supervisor"})
    assert other.status_code == 400 and list(other.get_json()["error"]["fields"]) == ["supervisor"]
    own = call(client, branch_2_token, "post", path, {
        "decision": "override", "reason": "客户坚持", "supervisor": "supervisor_b2"})
    assert own.status_code == 200, own.get_json()


@pytest.mark.parametrize("role", ["ho_security", "ho_admin"])
def test_head_office_roles_reach_every_route_of_their_branch_role(app, client, auth, database,
                                                                   role):
    """ho_security opens what security does and ho_admin what admin does (User.has_role), on
    every route of the table; head office has no screening desk."""
    from branch_helpers import PASSWORD

    from teller_guard import labels, users

    users.create_user(database, app.extensions["teller_guard"]["ledger_key"], f"{role}_x",
                      PASSWORD, role, must_change=False)
    login_as(auth, f"{role}_x")
    branch_role = labels.BRANCH_ROLE_OF[role]
    for endpoint, path in concrete_get_routes(app):
        area = endpoint.split(".")[0]
        allowed = ENDPOINT_ROLES.get(endpoint, AREAS[area])
        if allowed in (None, "token") or area == "static":
            continue
        status = client.get(path).status_code
        if branch_role in allowed or role in allowed:
            assert status not in (401, 403, 500), f"{role} {path}: {status}"
        else:
            assert status == 403, f"{role} reached {path} ({status})"
