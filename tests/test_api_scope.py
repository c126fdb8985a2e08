"""API token scope (issue 13 item 12): the tellers a token files for, the screenings it reads
("own" or "all"), and the supervisor right; a screening out of reach is a 404 that does not
tell whether it exists."""

from __future__ import annotations

import json
import re

import pytest
from api_helpers import BENIGN, CRITICAL, answers_of, body, call, count, facts_only, new_token, post
from conftest import csrf_token
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, screen
from verify_helpers import tamper

from teller_guard import db, migrations
from teller_guard.api_scope import Scope
from teller_guard.cli import main

pytestmark = pytest.mark.both_backends


SUPERVISE = {"supervisor": "supervisor", "decision": "override", "reason": "核实无误"}
# Each route a token uses on one screening: (method, path, body) built from the screening id.
ROUTES = {
    "get": lambda sid: ("get", f"/api/v1/screenings/{sid}", None),
    "answers": lambda sid: ("put", f"/api/v1/screenings/{sid}/answers", answers_of(CRITICAL)),
    "supervisor": lambda sid: ("post", f"/api/v1/screenings/{sid}/supervisor", SUPERVISE),
    "outcome": lambda sid: ("post", f"/api/v1/screenings/{sid}/outcome",
                            {"outcome": "cancelled"}),
}
# What each kind of token gets on a screening another token filed (the filer gets 200).
ANOTHER_SYSTEMS = {
    "own": {"get": 404, "answers": 404, "supervisor": 404, "outcome": 404},
    "all": {"get": 200, "answers": 403, "supervisor": 403, "outcome": 403},
}


@pytest.fixture
def filer(app):
    return new_token(app, "前端甲", Scope(may_supervise=True))[1]


def other_token(app, read: str) -> str:
    return new_token(app, f"系统-{read}", Scope(read=read, may_supervise=True))[1]


def critical_screening(client, token) -> int:
    reply = post(client, token, CRITICAL)
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()["id"]


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("read", ["own", "all"])
def test_route_by_scope_on_another_systems_screening(app, client, filer, route, read):
    session_id = critical_screening(client, filer)
    method, path, payload = ROUTES[route](session_id)
    reply = call(client, other_token(app, read), method, path, payload)
    expected = ANOTHER_SYSTEMS[read][route]
    assert reply.status_code == expected, reply.get_json()
    if expected == 403:
        assert reply.get_json()["error"]["field_codes"] == {"$": "out_of_scope"}
    # Nothing changed: the filer still sees it assessed, undecided and unfinished.
    fetched = call(client, filer, "get", f"/api/v1/screenings/{session_id}").get_json()
    assert fetched["status"] == "assessed" and fetched["supervisor"] is None
    assert count(app, "SELECT count(*) FROM ledger WHERE session_id = ?", [session_id]) == 2


@pytest.mark.parametrize("route", list(ROUTES))
def test_route_by_scope_on_its_own_screening(app, client, filer, route):
    session_id = critical_screening(client, filer)
    method, path, payload = ROUTES[route](session_id)
    reply = call(client, filer, method, path, payload)
    assert reply.status_code == 200, reply.get_json()


def test_another_scopes_screening_is_answered_like_one_that_does_not_exist(app, client, filer):
    session_id = critical_screening(client, filer)
    outsider = other_token(app, "own")
    hidden = call(client, outsider, "get", f"/api/v1/screenings/{session_id}")
    missing = call(client, outsider, "get", "/api/v1/screenings/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    for route in ("answers", "outcome"):
        method, path, payload = ROUTES[route](session_id)
        method, missing_path, _ = ROUTES[route](999999)
        assert call(client, outsider, method, path, payload).get_json() == \
            call(client, outsider, method, missing_path, payload).get_json()


def test_web_made_screenings_are_invisible_to_an_own_token(app, client, auth, filer):
    auth.login("teller")
    session_id = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    auth.logout()
    own = call(client, filer, "get", f"/api/v1/screenings/{session_id}")
    assert own.status_code == 404
    assert call(client, filer, "get", "/api/v1/screenings").get_json()["items"] == []
    reader = other_token(app, "all")
    fetched = call(client, reader, "get", f"/api/v1/screenings/{session_id}")
    assert fetched.status_code == 200 and fetched.get_json()["api_client"] is None
    listed = call(client, reader, "get", "/api/v1/screenings").get_json()["items"]
    assert [item["id"] for item in listed] == [session_id]
    # Readable is not changeable: the web teller's screening is theirs alone.
    reply = call(client, reader, "post", f"/api/v1/screenings/{session_id}/outcome",
                 {"outcome": "cancelled"})
    assert reply.status_code == 403


def test_the_listing_of_an_own_token_holds_only_what_it_filed(app, client, filer):
    mine = critical_screening(client, filer)
    other = other_token(app, "own")
    theirs = critical_screening(client, other)
    assert [item["id"] for item in call(client, filer, "get", "/api/v1/screenings")
            .get_json()["items"]] == [mine]
    assert [item["id"] for item in call(client, other, "get", "/api/v1/screenings")
            .get_json()["items"]] == [theirs]
    everything = call(client, other_token(app, "all"), "get", "/api/v1/screenings")
    assert [item["id"] for item in everything.get_json()["items"]] == [mine, theirs]


@pytest.mark.parametrize("payload", [body(BENIGN, teller="teller2"),
                                     facts_only(BENIGN, teller="teller2")],
                         ids=["whole", "facts"])
def test_filing_for_a_teller_outside_the_list_is_refused(app, client, payload):
    _, token = new_token(app, "前端乙", Scope(tellers=("teller", "supervisor")))
    reply = post(client, token, payload, **{"Idempotency-Key": "k-1"})
    assert reply.status_code == 403
    assert reply.get_json()["error"]["field_codes"] == {"teller": "out_of_scope"}
    assert count(app, "SELECT count(*) FROM sessions") == 0
    assert count(app, "SELECT count(*) FROM api_idempotency") == 0
    allowed = post(client, token, {**payload, "teller": "teller"})
    assert allowed.status_code == 201, allowed.get_json()


def test_an_unknown_teller_outside_the_list_is_refused_without_saying_more(app, client):
    _, token = new_token(app, "前端乙", Scope(tellers=("teller",)))
    reply = post(client, token, body(BENIGN, teller="nobody"))
    assert reply.status_code == 403
    assert reply.get_json()["error"]["field_codes"] == {"teller": "out_of_scope"}


def test_a_token_of_every_teller_files_for_any(app, client, token):
    assert post(client, token, body(BENIGN, teller="teller2")).status_code == 201


def test_tokens_made_before_the_scope_read_own_file_for_anyone_and_do_not_supervise(tmp_path):
    path = tmp_path / "old.db"
    database = db.connect(path)
    migrations.migrations.apply(database, stop_before="m014_api_token_scope")
    database["api_tokens"].insert({"name": "旧系统", "token_hash": "x" * 64,
                                   "created_at": "2026-01-01T00:00:00+00:00"})
    migrations.apply(database)
    row = next(database["api_tokens"].rows)
    database.conn.close()
    assert Scope.of(row) == Scope(tellers=None, read="own", may_supervise=False)


def test_the_ledger_records_the_scope_a_token_was_made_with(app, database):
    token_id, _ = new_token(app, "前端丙", Scope(tellers=("teller",), read="all",
                                                 may_supervise=True))
    data = json.loads(database.execute(
        "SELECT data FROM ledger WHERE kind = 'api_token.created' ORDER BY id DESC LIMIT 1"
    ).fetchone()[0])
    assert data["token_id"] == token_id
    assert data["scope"] == {"tellers": ["teller"], "read": "all", "may_supervise": True}


# --- the admin page -------------------------------------------------------------------------

def test_admin_sets_the_scope_when_creating_a_token(app, client, auth, database):
    auth.login("admin")
    path = "/admin/api-tokens"
    page = client.get(path).get_data(as_text=True)
    for label in ("可代为提交问询的柜员", "本网点全部柜员和主管", "仅限下列柜员", "可查看的问询",
                  "仅本系统提交的问询", "本网点全部问询", "可提交主管授权"):
        assert label in page
    assert 'value="teller2"' in page and 'value="security"' not in page
    reply = client.post(path, data={
        "name": "柜面前端", "tellers_mode": "listed", "tellers": ["teller", "teller2"],
        "read_scope": "all", "may_supervise": "y", "csrf_token": csrf_token(client, path)})
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    created = re.search(r'value="(tg_[^"]+)"', html).group(1)
    row = database.execute("SELECT tellers, read_scope, may_supervise FROM api_tokens "
                           "WHERE name = '柜面前端'").fetchone()
    assert (json.loads(row[0]), row[1], row[2]) == (["teller", "teller2"], "all", 1)
    listed = re.search(r"<tr><td>柜面前端</td>(.*?)</tr>", html, re.S).group(1)
    assert "teller、teller2" in listed and "本网点全部问询" in listed and "可以" in listed
    assert post(client, created, body(BENIGN, teller="supervisor")).status_code == 403


def test_admin_defaults_are_every_teller_read_own_and_no_supervisor(client, auth, database):
    auth.login("admin")
    path = "/admin/api-tokens"
    reply = client.post(path, data={"name": "默认", "csrf_token": csrf_token(client, path)})
    assert reply.status_code == 200
    row = database.execute("SELECT tellers, read_scope, may_supervise FROM api_tokens "
                           "WHERE name = '默认'").fetchone()
    assert tuple(row) == (None, "own", 0)
    listed = re.search(r"<tr><td>默认</td>(.*?)</tr>", reply.get_data(as_text=True), re.S).group(1)
    assert "本网点全部柜员和主管" in listed and "仅本系统提交的问询" in listed and "不可以" in listed


@pytest.mark.parametrize("data, message", [
    ({"tellers_mode": "listed"}, "请至少选择一名柜员"),
    ({"tellers_mode": "listed", "tellers": ["security"]}, None),
    ({"read_scope": "everything"}, None),
])
def test_admin_scope_mistakes_are_refused(client, auth, database, data, message):
    auth.login("admin")
    path = "/admin/api-tokens"
    reply = client.post(path, data={"name": "错误", **data,
                                    "csrf_token": csrf_token(client, path)})
    assert reply.status_code == 400
    if message:
        assert message in reply.get_data(as_text=True)
    assert database.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 0


# --- verify: the scope and the filing token are checked against the ledger ------------------



def verify(runner, app):
    result = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("sql", [
    "UPDATE api_tokens SET read_scope = 'all' WHERE name = ?",
    "UPDATE api_tokens SET may_supervise = 1 WHERE name = ?",
    "UPDATE api_tokens SET tellers = NULL WHERE name = ?",
    "UPDATE api_tokens SET tellers = '[\"teller\", \"supervisor\"]' WHERE name = ?",
    "UPDATE api_tokens SET tellers = 'not json' WHERE name = ?",
])
def test_verify_finds_a_scope_widened_around_the_app(runner, app, sql):
    new_token(app, "前端丁", Scope(tellers=("teller",)))
    new_token(app, "旧式")  # the default scope, as tokens from before m014 have
    assert verify(runner, app).exit_code == 0
    tamper(app, sql, "前端丁")
    result = verify(runner, app)
    assert result.exit_code == 1, result.output
    assert re.search(r"接口令牌 #\d+ 与账本不一致（scope）", result.output), result.output


def test_verify_finds_a_screening_handed_to_another_token(runner, app, client, filer):
    session_id = critical_screening(client, filer)
    other_id, _ = new_token(app, "系统戊")
    assert verify(runner, app).exit_code == 0
    tamper(app, "UPDATE sessions SET api_token_id = ? WHERE id = ?", other_id, session_id)
    result = verify(runner, app)
    assert result.exit_code == 1
    assert re.search(rf"业务 #{session_id} 与账本不一致（[^）]*api_token_id", result.output)
