"""Dispositions through the pages: each change is a sessions update plus its ledger event."""

import json

import pytest
from conftest import csrf_token
from test_review_support import ledger_key, make_session, user_id

from teller_guard import audit
from teller_guard.review import dispositions, integrity, state
from teller_guard.users import get_user

pytestmark = pytest.mark.both_backends


def post(client, path, data, token_from):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from)})


def review_events(database, session_id):
    return [(kind, json.loads(data)) for kind, data in database.execute(
        "SELECT kind, data FROM ledger WHERE session_id = ? AND kind LIKE 'review.%' ORDER BY id",
        [session_id])]


def status_of(database, session_id):
    return database.execute("SELECT review_status, assignee_id FROM sessions WHERE id = ?",
                            [session_id]).fetchone()


@pytest.fixture
def case(app, database):
    return make_session(app, database, level="critical", outcome="police_called")


def test_security_works_a_case_from_pending_to_closed(app, client, auth, database, case):
    auth.login("security")
    page = f"/review/{case}"
    response = post(client, f"{page}/transition", {"to": "in_review", "expected": "pending"}, page)
    assert response.status_code == 303
    security = user_id(database, "security")
    assert status_of(database, case) == ("in_review", security)
    response = post(client, f"{page}/transition",
                    {"to": "police_handled", "note": "已移交派出所，回执 110-123"}, page)
    assert response.status_code == 303
    assert status_of(database, case)[0] == "police_handled"
    assert review_events(database, case) == [
        ("review.transition", {"from": "pending", "to": "in_review", "note": ""}),
        ("review.assigned", {"assignee_id": security}),
        ("review.transition", {"from": "in_review", "to": "police_handled",
                               "note": "已移交派出所，回执 110-123"}),
    ]
    html = client.get(page).get_data(as_text=True)
    assert "复核状态变更" in html and "已移交派出所" in html and "已报警" in html
    assert integrity.check_sessions(database, ledger_key(app))[1] == []


def test_closing_without_a_note_is_refused_and_nothing_changes(app, client, auth, database, case):
    auth.login("security")
    page = f"/review/{case}"
    post(client, f"{page}/transition", {"to": "in_review"}, page)
    before = database.execute("SELECT count(*) FROM ledger").fetchone()[0]
    response = post(client, f"{page}/transition", {"to": "false_alarm", "note": " "}, page)
    assert response.status_code == 409
    assert "结案必须填写复核备注" in response.get_data(as_text=True)
    assert status_of(database, case)[0] == "in_review"
    assert database.execute("SELECT count(*) FROM ledger").fetchone()[0] == before


def test_illegal_transition_keeps_the_typed_note(app, client, auth, database, case):
    auth.login("admin")
    page = f"/review/{case}"
    response = post(client, f"{page}/transition", {"to": "dissuaded", "note": "客户已离开"}, page)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "不能从“待复核”直接改为“成功劝阻”" in html and "客户已离开</textarea>" in html
    assert status_of(database, case)[0] == "pending"


def test_a_change_someone_else_made_first_is_not_overwritten(app, client, auth, database, case):
    auth.login("security")
    page = f"/review/{case}"
    token = csrf_token(client, page)
    dispositions.change_status(database, ledger_key(app), get_user(database, user_id(database, "admin")),
                               case, "in_review")
    response = client.post(f"{page}/transition", data={
        "to": "in_review", "expected": "pending", "csrf_token": token})
    assert response.status_code == 409
    assert "已被他人改为“复核中”" in response.get_data(as_text=True)


def test_assign_and_note(app, client, auth, database, case):
    auth.login("security")
    page = f"/review/{case}"
    admin = user_id(database, "admin")
    assert post(client, f"{page}/assign", {"assignee_id": admin}, page).status_code == 303
    assert status_of(database, case)[1] == admin
    response = post(client, f"{page}/assign", {"assignee_id": user_id(database, "teller")}, page)
    assert response.status_code == 409 and "只能分配给安保或管理员" in response.get_data(as_text=True)
    assert post(client, f"{page}/note", {"note": "已联系客户家属"}, page).status_code == 303
    empty = post(client, f"{page}/note", {"note": ""}, page)
    assert empty.status_code == 409 and "请填写备注内容" in empty.get_data(as_text=True)
    assert review_events(database, case) == [
        ("review.assigned", {"assignee_id": admin}),
        ("review.note", {"note": "已联系客户家属"}),
    ]
    html = client.get(page).get_data(as_text=True)
    assert "分配复核人" in html and "复核备注" in html and "已联系客户家属" in html
    assert integrity.check_sessions(database, ledger_key(app))[1] == []


@pytest.mark.parametrize("action", ["transition", "assign", "note"])
def test_supervisor_reads_but_cannot_dispose(app, client, auth, database, case, action):
    auth.login("supervisor")
    page = f"/review/{case}"
    html = client.get(page).get_data(as_text=True)
    assert "处置由安保或管理员办理" in html and "确认更改" not in html
    response = post(client, f"{page}/{action}", {"to": "in_review", "note": "x",
                                                 "assignee_id": user_id(database, "security")}, page)
    assert response.status_code == 403
    assert review_events(database, case) == []


def test_teller_cannot_reach_dispositions(app, client, auth, database, case):
    auth.login("teller")
    response = client.post(f"/review/{case}/transition", data={
        "to": "in_review", "csrf_token": csrf_token(client, "/screening/")})
    assert response.status_code == 403


def test_sessions_outside_the_queue_cannot_be_disposed(app, client, auth, database):
    quiet = make_session(app, database, level="low", outcome="proceeded")
    auth.login("security")
    page = f"/review/{quiet}"
    assert "确认更改" not in client.get(page).get_data(as_text=True)
    response = post(client, f"{page}/transition", {"to": "in_review"}, page)
    assert response.status_code == 409 and "不在复核队列" in response.get_data(as_text=True)


def test_missing_session_is_404(client, auth):
    auth.login("security")
    assert client.get("/review/99999").status_code == 404
    token = csrf_token(client, "/review/")
    assert client.post("/review/99999/note", data={"note": "x", "csrf_token": token}).status_code == 404


def test_every_legal_transition_through_the_service(app, database, case):
    """Walk the whole machine on one case; sessions and ledger agree after each step."""
    actor = get_user(database, user_id(database, "security"))
    key = ledger_key(app)
    path = ["in_review", "pending", "in_review", "confirmed_fraud", "in_review", "dissuaded",
            "in_review", "false_alarm", "in_review", "police_handled"]
    for target in path:
        dispositions.change_status(database, key, actor, case, target, "理由")
        assert status_of(database, case)[0] == target
        assert integrity.check_sessions(database, ledger_key(app))[1] == []
    transitions = [data["to"] for kind, data in review_events(database, case)
                   if kind == "review.transition"]
    assert transitions == path
    assert audit.verify_chain(database, key)[1] == []


def test_failed_write_rolls_back_the_status(app, database, case, monkeypatch):
    actor = get_user(database, user_id(database, "security"))

    def broken_append(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append", broken_append)
    with pytest.raises(RuntimeError):
        dispositions.change_status(database, ledger_key(app), actor, case, "in_review")
    assert status_of(database, case)[0] == "pending"


def test_supervisor_is_refused_by_the_service_too(app, database, case):
    supervisor = get_user(database, user_id(database, "supervisor"))
    with pytest.raises(state.TransitionError):
        dispositions.change_status(database, ledger_key(app), supervisor, case, "in_review")
