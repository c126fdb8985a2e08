"""Drafts: the facts and questions forms saved as typed, and kept across the idle logout."""

import time

import pytest
from conftest import csrf_token
from screening_helpers import (
    BENIGN_ANSWERS,
    BENIGN_FACTS,
    answer_all,
    post_facts,
    screen,
    session_id_from,
)

from teller_guard.screening import drafts
from teller_guard.storage import drafts as storage_drafts

pytestmark = pytest.mark.both_backends

ID_NUMBER = "110101195803070011"
PHONE = "13912345678"


def started(client, auth, username="teller") -> int:
    auth.login(username)
    return session_id_from(post_facts(client, BENIGN_FACTS))


def post_draft(client, path, data, page=None):
    token = csrf_token(client, page or path.removesuffix("/draft"))
    return client.post(path, data={**data, "csrf_token": token})


def draft_rows(database) -> list[dict]:
    return list(database["screening_drafts"].rows_where("1 = 1"))


def ledger_count(database) -> int:
    return database["ledger"].count


def session_row(database, session_id):
    return next(database["sessions"].rows_where("id = ?", [session_id]))


def make_idle(client, minutes=16):
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - minutes * 60


# --- the draft routes ----------------------------------------------------------------------------

def test_a_questions_draft_comes_back_and_is_never_scored_or_logged(client, auth, database):
    session_id = started(client, auth)
    before = ledger_count(database)
    path = f"/screening/{session_id}/questions/draft"
    response = post_draft(client, path, {"answers.purpose": "family_living",
                                         "answers.purpose_text": "给女儿交学费",
                                         "three_checks.possibly_scam": "no"})
    assert response.status_code == 200 and response.is_json
    assert response.get_json()["saved_at"]
    assert ledger_count(database) == before  # a draft is no step of the screening
    row = session_row(database, session_id)
    assert row["assessment"] is None and row["level"] is None and row["status"] == "draft"
    assert "answers" not in (row["form"] or "")
    html = client.get(f"/screening/{session_id}/questions").get_data(as_text=True)
    assert "自动保存、尚未提交的回答" in html
    assert 'value="family_living" checked' in html and "给女儿交学费" in html
    assert 'value="no" checked' in html


def test_a_submitted_step_drops_its_draft(client, auth, database):
    session_id = started(client, auth)
    post_draft(client, f"/screening/{session_id}/questions/draft",
               {"answers.purpose": "investment"})
    assert len(draft_rows(database)) == 1
    assert answer_all(client, session_id, BENIGN_ANSWERS).status_code == 302
    assert draft_rows(database) == []
    assert session_row(database, session_id)["assessment"] is not None


def test_personal_fields_are_sealed_in_the_draft(app, client, auth, database):
    session_id = started(client, auth)
    response = post_draft(client, f"/screening/{session_id}/facts/draft",
                          {**BENIGN_FACTS, "amount": "8888", "customer_id_number": ID_NUMBER,
                           "customer_phone": PHONE, "customer_name": "赵阿姨"})
    assert response.status_code == 200
    [row] = draft_rows(database)
    for secret in (ID_NUMBER, PHONE, "赵阿姨", BENIGN_FACTS["payee_account"], "8888"):
        assert secret not in row["sealed"]
    html = client.get(f"/screening/{session_id}/facts").get_data(as_text=True)
    assert "自动保存、尚未提交的内容" in html and 'value="8888"' in html
    # The seal names its teller and step: a row copied to another teller opens for nobody.
    secret = app.config["SECRET_KEY"]
    teller = row["teller_id"]
    assert drafts.load(database, secret, teller, session_id, "facts").as_dict()["amount"] == "8888"
    other = next(database["users"].rows_where("username = ?", ["teller2"]))["id"]
    storage_drafts.save(database, other, f"{session_id}/facts", session_id, row["sealed"], 1)
    assert drafts.load(database, secret, other, session_id, "facts") is None
    assert drafts.load(database, "another instance secret", teller, session_id, "facts") is None


def test_drafts_need_the_login_and_the_csrf_token(client, auth, database):
    session_id = started(client, auth)
    path = f"/screening/{session_id}/questions/draft"
    assert client.post(path, data={"answers.purpose": "investment"}).status_code == 400
    auth.logout()
    response = client.post(path, data={"answers.purpose": "investment"})
    assert response.status_code in (302, 400)  # no login: no CSRF token to match either
    assert draft_rows(database) == []


@pytest.mark.parametrize("username, status", [("teller2", 404), ("supervisor", 403)])
def test_only_the_screenings_teller_keeps_a_draft(client, auth, database, username, status):
    session_id = started(client, auth)
    auth.logout()
    auth.login(username)
    token = csrf_token(client, "/screening/")
    for step in ("facts", "questions"):
        response = client.post(f"/screening/{session_id}/{step}/draft",
                               data={"answers.purpose": "investment", "csrf_token": token})
        assert response.status_code == status
    assert draft_rows(database) == []


def test_bad_draft_input_is_refused_naming_the_field(client, auth, database):
    session_id = started(client, auth)
    path = f"/screening/{session_id}/questions/draft"
    response = post_draft(client, path, {"answers.purpose_text": "长" * 1001})
    assert response.status_code == 400
    assert response.get_json() == {"error": "内容过长（每项最多 1000 字），未能自动保存",
                                   "field": "answers.purpose_text"}
    token = csrf_token(client, f"/screening/{session_id}/questions")
    response = client.post(path, json={"answers.purpose": "investment"},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 400 and "表单" in response.get_json()["error"]
    response = post_draft(client, path, {"observations": ["on_phone"] * 101})
    assert response.status_code == 400 and response.get_json()["field"] is None
    assert draft_rows(database) == []


def test_a_finished_screening_takes_no_draft(client, auth, database):
    auth.login("teller")
    session_id = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    client.post(f"/screening/{session_id}/outcome",
                data={"outcome": "proceeded", "csrf_token": csrf_token(client, "/screening/")})
    assert session_row(database, session_id)["status"] == "finished"
    response = post_draft(client, f"/screening/{session_id}/questions/draft",
                          {"answers.purpose": "investment"}, page="/screening/")
    assert response.status_code == 409 and "已记录结果" in response.get_json()["error"]


def test_a_new_screenings_draft_opens_only_on_the_way_back_from_the_login(client, auth,
                                                                           database):
    auth.login("teller")
    response = post_draft(client, "/screening/new/draft",
                          {"amount": "7777", "customer_id_number": ID_NUMBER})
    assert response.status_code == 200 and len(draft_rows(database)) == 1
    # Opening 新建问询 again later is another customer: the old form is dropped, not shown.
    html = client.get("/screening/new").get_data(as_text=True)
    assert "7777" not in html and ID_NUMBER not in html
    assert draft_rows(database) == []


def test_coming_back_to_an_empty_new_screening_restores_no_later_draft(client, auth, database):
    auth.login("teller")
    client.get("/screening/new")
    make_idle(client)
    assert client.get("/screening/new").headers["Location"] == "/login"
    assert auth.login("teller").headers["Location"] == "/screening/new"
    client.get("/screening/new")  # the way back: nothing was typed
    post_draft(client, "/screening/new/draft", {"amount": "7777"})
    assert "7777" not in client.get("/screening/new").get_data(as_text=True)


# --- the idle logout -------------------------------------------------------------------------------

def test_answers_posted_after_the_idle_limit_return_after_the_login(client, auth, database):
    session_id = started(client, auth)
    page = f"/screening/{session_id}/questions"
    token = csrf_token(client, page)
    make_idle(client)
    before = ledger_count(database)
    response = client.post(page, data={"csrf_token": token, "answers.purpose": "family_living",
                                       "answers.purpose_text": "给女儿交学费"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    login_page = client.get("/login").get_data(as_text=True)
    assert "刚才填写的内容已保存" in login_page
    assert session_row(database, session_id)["assessment"] is None  # not scored
    response = auth.login("teller")
    # A local path, and nothing personal in it.
    assert response.headers["Location"] == page
    html = client.get(page).get_data(as_text=True)
    assert 'value="family_living" checked' in html and "给女儿交学费" in html
    assert ledger_count(database) == before + 1  # the login, nothing for the kept form


def test_a_new_screening_posted_after_the_idle_limit_returns_filled_in(client, auth, database):
    auth.login("teller")
    token = csrf_token(client, "/screening/new")
    make_idle(client)
    response = client.post("/screening/new", data={
        **BENIGN_FACTS, "amount": "6543", "customer_phone": PHONE, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert database["sessions"].count == 0  # not started while logged out
    assert PHONE not in draft_rows(database)[0]["sealed"]
    assert auth.login("teller").headers["Location"] == "/screening/new"
    html = client.get("/screening/new").get_data(as_text=True)
    assert 'value="6543"' in html and f'value="{PHONE}"' in html
    assert "自动保存、尚未提交的内容" in html


def test_another_teller_logging_in_after_the_idle_logout_goes_home(client, auth, database):
    session_id = started(client, auth)
    page = f"/screening/{session_id}/questions"
    token = csrf_token(client, page)
    make_idle(client)
    client.post(page, data={"csrf_token": token, "answers.purpose": "investment"})
    assert auth.login("teller2").headers["Location"] == "/screening/"
    auth.logout()
    # The teller's own draft is still there for them.
    auth.login("teller")
    assert 'value="investment" checked' in client.get(page).get_data(as_text=True)


def test_a_late_post_without_the_logins_csrf_token_keeps_nothing(client, auth, database):
    session_id = started(client, auth)
    page = f"/screening/{session_id}/questions"
    make_idle(client)
    response = client.post(page, data={"csrf_token": "forged", "answers.purpose": "investment"})
    assert response.status_code == 400
    assert draft_rows(database) == []


def test_a_late_post_after_logout_keeps_nothing(client, auth, database):
    session_id = started(client, auth)
    page = f"/screening/{session_id}/questions"
    token = csrf_token(client, page)
    with client.session_transaction() as session:
        saved = dict(session)
    auth.logout()
    with client.session_transaction() as session:  # an old copy of the cookie
        session.update(saved)
        session["last_seen"] = int(time.time()) - 16 * 60
    client.post(page, data={"csrf_token": token, "answers.purpose": "investment"})
    assert draft_rows(database) == []


# --- the idle warning's keep-alive ----------------------------------------------------------------

def test_keepalive_restarts_the_idle_limit(client, auth):
    auth.login("teller")
    token = csrf_token(client, "/screening/")
    make_idle(client, minutes=14)
    response = client.post("/session/keepalive", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json() == {"idle_seconds": 900}
    with client.session_transaction() as session:
        assert time.time() - session["last_seen"] < 60
    make_idle(client, minutes=14)  # 14 minutes after the keep-alive: still logged in
    assert client.get("/screening/").status_code == 200


def test_keepalive_after_the_limit_or_without_token_is_refused(client, auth):
    assert client.post("/session/keepalive").status_code == 400  # no CSRF token
    auth.login("security")
    token = csrf_token(client, "/review/")
    assert client.post("/session/keepalive", headers={"X-CSRFToken": token}).status_code == 200
    assert client.post("/session/keepalive").status_code == 400
    make_idle(client)
    response = client.post("/session/keepalive", headers={"X-CSRFToken": token})
    assert response.status_code == 401 and "重新登录" in response.get_json()["error"]


def test_the_warning_is_on_every_page_of_a_login(client, auth, app):
    assert 'id="idle-warning"' not in client.get("/login").get_data(as_text=True)
    app.config["SESSION_IDLE_WARNING_SECONDS"] = 90
    auth.login("teller")
    html = client.get("/screening/").get_data(as_text=True)
    assert 'role="alertdialog"' in html and 'data-idle-seconds="900"' in html
    assert 'data-warn-seconds="90"' in html and "js/idle.js" in html


@pytest.mark.parametrize("role, home", [("teller", "/screening/"), ("supervisor", "/screening/"),
                                        ("security", "/review/"), ("admin", "/admin/")])
def test_keepalive_and_new_draft_by_role(client, auth, database, role, home):
    token = csrf_token(client, "/login")
    response = client.post("/session/keepalive", headers={"X-CSRFToken": token})
    assert response.status_code == 401  # no login
    response = client.post("/screening/new/draft", data={"amount": "1", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    auth.login(role)
    token = csrf_token(client, home)
    assert client.post("/session/keepalive", headers={"X-CSRFToken": token}).status_code == 200
    response = client.post("/screening/new/draft", data={"amount": "1", "csrf_token": token})
    assert response.status_code == (200 if role in ("teller", "supervisor") else 403)
    assert len(draft_rows(database)) == (1 if role in ("teller", "supervisor") else 0)
