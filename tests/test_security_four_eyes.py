"""Four-eyes: whoever screened a 高/极高 case never approves it, and only the screening's own
teller changes its facts, answers and outcome (issue 13, item 1)."""

import pytest
from conftest import csrf_token
from printing_web_helpers import CRITICAL_FACTS, make_session, session_row, user_id

from teller_guard import users
from teller_guard.screening import service

REASON = "已与客户子女视频核实，系其本人购房定金"


@pytest.fixture
def second_supervisor(app, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    users.create_user(database, key, "supervisor2", "supervisor-pass-2", "supervisor", "周主管", "S02",
                      must_change=False)
    return "supervisor2", "supervisor-pass-2"


def override(client, session_id, username, password):
    token = csrf_token(client, f"/screening/{session_id}/result")
    return client.post(f"/screening/{session_id}/supervisor", data={
        "supervisor_username": username, "supervisor_password": password,
        "supervisor_reason": REASON, "csrf_token": token})


def test_a_supervisor_cannot_approve_their_own_screening(app, client, auth, database):
    session_id = make_session(app, database, "critical", teller="supervisor")
    auth.login("supervisor")
    response = override(client, session_id, "supervisor", "supervisor-pass")
    assert response.status_code == 400
    assert "不能审批自己办理的问询" in response.get_data(as_text=True)
    row = session_row(database, session_id)
    assert row["supervisor_id"] is None and row["supervisor_decision"] is None
    token = csrf_token(client, f"/screening/{session_id}/result")
    refused = client.post(f"/screening/{session_id}/outcome",
                          data={"outcome": "proceeded", "csrf_token": token})
    assert refused.status_code == 400 and session_row(database, session_id)["outcome"] is None


def test_another_supervisor_may_approve_a_supervisors_screening(app, client, auth, database,
                                                               second_supervisor):
    session_id = make_session(app, database, "critical", teller="supervisor")
    auth.login("supervisor")
    assert override(client, session_id, *second_supervisor).status_code == 302
    row = session_row(database, session_id)
    assert row["supervisor_decision"] == "override"
    assert row["supervisor_id"] == user_id(database, "supervisor2") != row["teller_id"]


def test_an_api_screening_filed_as_the_supervisor_cannot_be_approved_by_them(app, client, auth,
                                                                              database):
    from teller_guard import api_tokens

    key = app.extensions["teller_guard"]["ledger_key"]
    _, token = api_tokens.create(database, key, "核心系统", user_id(database, "admin"))
    created = client.post("/api/v1/screenings", headers={"Authorization": f"Bearer {token}"},
                          json={"teller": "supervisor", "facts": {
                              **CRITICAL_FACTS, "customer_age": 66},
                              **_api_answers()})
    assert created.status_code == 201, created.get_json()
    session_id = created.get_json()["id"]
    auth.login("supervisor")
    response = override(client, session_id, "supervisor", "supervisor-pass")
    assert response.status_code == 400
    assert session_row(database, session_id)["supervisor_decision"] is None


def _api_answers():
    from printing_web_helpers import CRITICAL_ANSWERS

    return CRITICAL_ANSWERS


def test_the_service_refuses_self_approval_whoever_calls_it(app, database):
    from printing_web_helpers import keys_of

    session_id = make_session(app, database, "critical", teller="supervisor")
    with pytest.raises(service.FlowError, match="不能审批自己办理的问询"):
        service.supervise(database, keys_of(app), session_id, user_id(database, "supervisor"),
                          REASON)


def test_a_self_approval_stored_around_the_app_does_not_allow_proceeding(app, database):
    session_id = make_session(app, database, "critical", teller="supervisor")
    database.execute("UPDATE sessions SET supervisor_id = teller_id, "
                     "supervisor_decision = 'override', supervisor_reason = 'x' WHERE id = ?",
                     [session_id])
    assert service.may_proceed(service.get(database, session_id)) is False


EDITS = {
    "facts": lambda sid: (f"/screening/{sid}/facts", {**CRITICAL_FACTS, "amount": "1000"}),
    "questions": lambda sid: (f"/screening/{sid}/questions", {"action": "save"}),
    "statement": lambda sid: (f"/screening/{sid}/statement", {"statement": "客户说是自己的钱"}),
    "supervisor": lambda sid: (f"/screening/{sid}/supervisor", {
        "supervisor_username": "supervisor", "supervisor_password": "supervisor-pass",
        "supervisor_reason": REASON}),
    "outcome": lambda sid: (f"/screening/{sid}/outcome", {"outcome": "police_called"}),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_supervisor_cannot_change_another_tellers_screening(app, client, auth, database, edit):
    session_id = make_session(app, database, "critical", teller="teller")
    before = session_row(database, session_id)
    auth.login("supervisor")
    events_before = database["ledger"].count
    path, data = EDITS[edit](session_id)
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, "/screening/")})
    assert response.status_code == 403
    assert "只有办理该问询的柜员" in response.get_data(as_text=True)
    assert session_row(database, session_id) == before
    assert database["ledger"].count == events_before


@pytest.mark.parametrize("edit_page", ["facts", "questions"])
def test_a_supervisor_does_not_get_the_edit_pages_of_another_tellers_screening(
        app, client, auth, database, edit_page):
    session_id = make_session(app, database, "critical", teller="teller")
    auth.login("supervisor")
    assert client.get(f"/screening/{session_id}/{edit_page}").status_code == 403


def test_a_supervisor_reads_another_tellers_result_without_the_forms(app, client, auth,
                                                                     database):
    session_id = make_session(app, database, "critical", teller="teller")
    auth.login("supervisor")
    response = client.get(f"/screening/{session_id}/result")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "极高风险" in html
    for action in ("statement", "supervisor", "outcome"):
        assert f"/screening/{session_id}/{action}" not in html


def test_the_owner_still_gets_every_form(app, client, auth, database):
    session_id = make_session(app, database, "critical", teller="teller")
    auth.login("teller")
    html = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    for action in ("statement", "supervisor", "outcome"):
        assert f"/screening/{session_id}/{action}" in html
