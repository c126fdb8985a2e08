"""Account, ID and phone numbers typed into free text are masked before they are stored or
logged (issue 13, item 5): 客户原话, destinations, follow-up statements, supervisor reasons,
review notes and the free-text facts."""

import pytest
from conftest import csrf_token, database_bytes
from printing_web_helpers import CRITICAL_ANSWERS, make_session, session_row
from screening_helpers import (
    BENIGN_ANSWERS,
    BENIGN_FACTS,
    SAFE_ACCOUNT_ANSWERS,
    SAFE_ACCOUNT_FACTS,
    screen,
)

from teller_guard import pii

# Numbers that appear nowhere else in the test data (not the payee account, not the customer).
ACCOUNT = "6228480402564890018"
SPACED_ACCOUNT = "6228 4804 0256 4890 018"
ID_NUMBER = "44030619850101234X"
PHONE = "13987654321"
DASHED_PHONE = "139-8765-4321"
SECRETS = ("6228480402564890018", "44030619850101234", "13987654321", "98765432")


@pytest.mark.parametrize(("text", "hidden"), [
    (f"对方让我转到{ACCOUNT}这个账户", ACCOUNT),
    (f"账号 {SPACED_ACCOUNT} 是警官给的", "4804 0256"),
    (f"身份证{ID_NUMBER}", "19850101"),
    ("身份证 440306 19850101 234X", "19850101"),
    (f"警官电话{PHONE}", "98765432"),
    (f"回拨 {DASHED_PHONE}", "8765"),
    (f"+86{PHONE}", "98765432"),
    ("全角 ６２２８４８０４０２５６４８９００１８", "４８０４０２５６"),
])
def test_numbers_in_text_are_masked(text, hidden):
    masked = pii.mask_numbers_in_text(text)
    assert hidden not in masked and "*" in masked
    assert masked != text


@pytest.mark.parametrize("text", [
    "业务 TG20261130-000123 已核实", "2024-03-05 客户来电", "金额 50000 元", "20万", "客户说是自己的钱",
    "电话 110", "",
])
def test_ordinary_text_is_kept(text):
    assert pii.mask_numbers_in_text(text) == text


def test_account_like_numbers_keep_their_ends_for_the_reader():
    assert pii.mask_numbers_in_text(f"转到{ACCOUNT}") == "转到6228 **** **** 0018"
    assert pii.mask_numbers_in_text(f"电话{PHONE}") == "电话*******4321"


def assert_nowhere(app, client, pages=()):
    raw = database_bytes(app.config["DATABASE"])
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
        for page in pages:
            assert secret not in client.get(page).get_data(as_text=True), (secret, page)


def test_customer_words_and_destination_are_masked_on_the_web(app, client, auth, database):
    auth.login("teller")
    answers = {**SAFE_ACCOUNT_ANSWERS,
               "answers.purpose_text": f"警官让我转到安全账户{ACCOUNT}，有事打{PHONE}",
               "answers.destination_text": f"安全账户 {SPACED_ACCOUNT}，身份证{ID_NUMBER}"}
    session_id = screen(client, SAFE_ACCOUNT_FACTS, answers)
    row = session_row(database, session_id)
    assert row["level"] == "critical"  # the words still fire as before
    assert "6228 **** **** 0018" in row["form"]
    assert_nowhere(app, client, [f"/screening/{session_id}/result"])


def test_follow_up_statement_is_masked(app, client, auth, database):
    auth.login("teller")
    session_id = screen(client, {**BENIGN_FACTS, "payee_known": "new"},
                        {**BENIGN_ANSWERS, "answers.purpose": "investment"})
    path = f"/screening/{session_id}/result"
    response = client.post(f"/screening/{session_id}/statement", data={
        "statement": f"客户说对方电话是 {DASHED_PHONE}，账户{ACCOUNT}",
        "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    assert "*******4321" in session_row(database, session_id)["form"]
    assert_nowhere(app, client, [path])


def api_facts(form_facts: dict) -> dict:
    """The web form's facts as the API takes them (numbers as numbers, no empty fields)."""
    facts = {name: value for name, value in form_facts.items() if value != ""}
    if "customer_age" in facts:
        facts["customer_age"] = int(facts["customer_age"])
    return facts


def test_api_answers_are_masked(app, client, database):
    from printing_web_helpers import CRITICAL_FACTS, user_id

    from teller_guard import api_tokens

    key = app.extensions["teller_guard"]["ledger_key"]
    _, token = api_tokens.create(database, key, "核心系统", user_id(database, "admin"))
    answers = {**CRITICAL_ANSWERS, "answers": {
        **CRITICAL_ANSWERS["answers"], "purpose_text": f"转到{ACCOUNT}，身份证{ID_NUMBER}",
        "destination_text": f"打{PHONE}确认"}}
    created = client.post("/api/v1/screenings", headers={"Authorization": f"Bearer {token}"},
                          json={"teller": "teller", "facts": api_facts(CRITICAL_FACTS), **answers})
    assert created.status_code == 201, created.get_json()
    assert_nowhere(app, client)


def test_free_text_facts_are_masked(app, client, auth, database):
    auth.login("teller")
    session_id = screen(client, {**BENIGN_FACTS, "payee_bank": f"农商银行 卡号{ACCOUNT}",
                                 "payee_city": f"邢台 {PHONE}"}, BENIGN_ANSWERS)
    assert "6228 **** **** 0018" in session_row(database, session_id)["form"]
    assert_nowhere(app, client, [f"/screening/{session_id}/result"])


def test_supervisor_reason_is_masked(app, client, auth, database):
    session_id = make_session(app, database, "critical")
    auth.login("teller")
    path = f"/screening/{session_id}/result"
    response = client.post(f"/screening/{session_id}/supervisor", data={
        "supervisor_username": "supervisor", "supervisor_password": "supervisor-pass",
        "supervisor_reason": f"已核实，客户子女电话{PHONE}，身份证{ID_NUMBER}",
        "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    assert "*******4321" in session_row(database, session_id)["supervisor_reason"]
    assert_nowhere(app, client, [path])


def test_review_notes_are_masked(app, client, auth, database):
    session_id = make_session(app, database, "critical")
    auth.login("security")
    page = f"/review/{session_id}"
    for action, data in (("transition", {"to": "in_review"}),
                         ("note", {"note": f"已联系家属 {DASHED_PHONE}"}),
                         ("transition", {"to": "dissuaded",
                                         "note": f"客户已取消，涉案账户{ACCOUNT}"})):
        response = client.post(f"{page}/{action}",
                               data={**data, "csrf_token": csrf_token(client, page)})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert_nowhere(app, client, [page])
