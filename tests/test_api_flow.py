"""The API's two-step flow, follow-ups, supervisor step and outcome, and the reconciliation
listing: the same rules as the web pages, through the service they share."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from api_helpers import (
    BENIGN,
    CRITICAL,
    answers_of,
    body,
    call,
    count,
    facts_only,
    new_token,
    post,
)
from conftest import open_database
from jsonschema import Draft202012Validator

from teller_guard import api_schema, api_scope, audit, pii
from teller_guard.review import integrity

pytestmark = pytest.mark.both_backends


SUPERVISING = api_scope.Scope(may_supervise=True)
# 高 (not 极高): fees for a loan to a stranger known by phone, no hard stop.
HIGH = body(BENIGN, facts__payee_known="new", answers__relationship="stranger",
            answers__knows_payee="phone_only", answers__purpose="loan_fee",
            three_checks__paying_stranger=True)


def screening(client, token, session_id):
    return call(client, token, "get", f"/api/v1/screenings/{session_id}")


def answer(client, token, session_id, payload, **headers):
    return call(client, token, "put", f"/api/v1/screenings/{session_id}/answers", payload,
                **headers)


def outcome(client, token, session_id, value, **headers):
    return call(client, token, "post", f"/api/v1/screenings/{session_id}/outcome",
                {"outcome": value}, **headers)


def supervise(client, token, session_id, payload, **headers):
    return call(client, token, "post", f"/api/v1/screenings/{session_id}/supervisor", payload,
                **headers)


def draft(client, token, base=BENIGN, **changes) -> dict:
    reply = post(client, token, facts_only(base, **changes))
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def assessed(client, token, base) -> dict:
    created = draft(client, token, base)
    reply = answer(client, token, created["id"], answers_of(base))
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def events(app, session_id: int, kind: str) -> list[dict]:
    database = open_database(app)
    try:
        return [json.loads(row[0]) for row in database.execute(
            "SELECT data FROM ledger WHERE session_id = ? AND kind = ? ORDER BY id",
            [session_id, kind])]
    finally:
        database.conn.close()


def stored_answers(app, session_id: int) -> dict:
    database = open_database(app)
    try:
        form = database.execute("SELECT form FROM sessions WHERE id = ?", [session_id]).fetchone()
        return json.loads(form[0])["answers"]
    finally:
        database.conn.close()


def refused(reply, status: int, field: str, code: str) -> dict:
    error = reply.get_json()["error"]
    assert reply.status_code == status, error
    assert error["field_codes"].get(field) == code, error
    return error


# --- two steps ------------------------------------------------------------------------------

def test_facts_alone_save_a_draft_and_answer_with_the_questions(app, client, token):
    reply = post(client, token, facts_only(CRITICAL))
    assert reply.status_code == 201, reply.get_json()
    created = reply.get_json()
    assert reply.headers["Location"] == f"/api/v1/screenings/{created['id']}"
    assert created["status"] == "draft" and created["level"] is None
    assert created["reasons"] == [] and created["action"] is None
    questions = {question["id"]: question for question in created["questions"]}
    # 20万 to another province for a 66-year-old: the large-amount, destination and family
    # questions apply besides the ones always asked.
    assert {"purpose", "large_amount_confirm", "destination", "knows_payee", "relationship",
            "knows_payee_again", "observe_customer", "paying_stranger", "possibly_scam",
            "family_consulted"} == set(questions)
    purpose = questions["purpose"]
    assert purpose["section"] == "five" and purpose["answer_field"] == "answers.purpose"
    assert purpose["text_zh"].startswith("转账汇款目的必问") and "做什么用" in purpose["say_zh"]
    assert ["safe_account", "转到“安全账户”、配合调查"] in purpose["options"]
    assert questions["paying_stranger"]["options"] == [[True, "是，给陌生人"], [False, "不是"]]
    assert count(app, "SELECT count(*) FROM sessions WHERE status = 'draft'") == 1
    assert [event["reference"] for event in events(app, created["id"], "screening.started")] \
        == [created["reference"]]
    assert events(app, created["id"], "screening.assessed") == []


def test_step_facts_said_explicitly(client, token):
    created = draft(client, token, BENIGN)
    reply = post(client, token, {**facts_only(BENIGN), "step": "facts"})
    assert reply.status_code == 201 and reply.get_json()["status"] == "draft"
    assert reply.get_json()["id"] == created["id"] + 1


def test_step_facts_with_answers_is_refused(app, client, token):
    refused(post(client, token, {**body(BENIGN), "step": "facts"}), 400, "step", "invalid_value")
    assert count(app, "SELECT count(*) FROM sessions") == 0


def test_step_all_without_answers_names_the_questions(client, token):
    reply = post(client, token, {**facts_only(BENIGN), "step": "all"})
    refused(reply, 400, "answers.purpose", "required")


def test_answers_score_the_draft_as_the_one_step_post_would(app, client, token):
    created = draft(client, token, CRITICAL)
    reply = answer(client, token, created["id"], answers_of(CRITICAL))
    assert reply.status_code == 200, reply.get_json()
    scored = reply.get_json()
    once = post(client, token, CRITICAL).get_json()
    assert scored["id"] == created["id"] and scored["status"] == "assessed"
    for name in ("level", "score", "hard_stop", "reasons", "typologies", "action", "follow_ups"):
        assert scored[name] == once[name], name
    assert scored["level"] == "critical" and scored["needs_supervisor"] == "override"
    assert len(events(app, created["id"], "screening.assessed")) == 1


def test_a_watchlisted_payee_is_critical_after_the_facts_alone(app, client, token, database):
    key = app.extensions["teller_guard"]["pii_key"]
    database["watchlist"].insert({"account_hash": pii.keyed_hash(key, "6222021234567890"),
                                  "account_masked": "6222 **** **** 7890", "source": "公安"})
    created = draft(client, token, BENIGN)
    assert created["status"] == "assessed" and created["level"] == "critical"
    assert created["action"]["code"] == "stop_and_report"
    assert any("涉诈名单" in reason["reason_zh"] for reason in created["reasons"])
    assert created["questions"]  # still listed: answers may be added, the level stays


def test_answers_are_checked_as_strictly_as_the_one_step_post(client, token):
    created = draft(client, token, BENIGN)
    path = created["id"]
    refused(answer(client, token, path, answers_of(body(BENIGN, answers__purpose_txt="x"))),
            400, "answers.purpose_txt", "unknown_field")
    refused(answer(client, token, path, {**answers_of(BENIGN), "observation": []}), 400,
            "observation", "unknown_field")
    missing = answers_of(BENIGN)
    del missing["answers"]["purpose"]
    refused(answer(client, token, path, missing), 400, "answers.purpose", "required")
    refused(answer(client, token, path, {"statement": "客户说是给女儿的生活费"}), 400,
            "answers.purpose", "required")
    refused(answer(client, token, path, {}), 400, "answers.purpose", "required")
    assert screening(client, token, path).get_json()["status"] == "draft"


def test_an_answer_that_does_not_apply_is_named_in_warnings(client, token):
    created = draft(client, token, BENIGN)
    reply = answer(client, token, created["id"], answers_of(
        body(BENIGN, answers__destination_text="北京")))
    assert reply.status_code == 200
    assert "answers.destination_text" in reply.get_json()["warnings"]


def test_a_follow_up_statement_is_added_and_scored_again(app, client, token):
    first = assessed(client, token, HIGH)
    reply = answer(client, token, first["id"], {"statement": "对方说 6222021234567890 是安全账户"})
    assert reply.status_code == 200, reply.get_json()
    again = reply.get_json()
    words = stored_answers(app, first["id"])["answers"]["purpose_text"]
    assert words.endswith("对方说 6222 **** **** 7890 是安全账户")  # masked as on the web
    assert stored_answers(app, first["id"])["answers"]["purpose"] == "loan_fee"  # kept
    assert len(events(app, first["id"], "screening.assessed")) == 2
    assert again["level"] == "critical"  # 安全账户 in the customer's words is a hard stop
    second = answer(client, token, first["id"], {"statement": "还说要保密"})
    assert second.status_code == 200
    assert stored_answers(app, first["id"])["answers"]["purpose_text"].splitlines()[-2:] == [
        "对方说 6222 **** **** 7890 是安全账户", "还说要保密"]


def test_answers_replace_the_earlier_ones(app, client, token):
    first = assessed(client, token, CRITICAL)
    reply = answer(client, token, first["id"], answers_of(body(
        CRITICAL, answers__purpose="family_living", answers__purpose_text="给女儿的生活费",
        answers__relationship="family", answers__knows_payee="in_person",
        three_checks__paying_stranger=False, answers__destination_text="女儿在深圳上班",
        observations=[])))
    assert reply.status_code == 200
    assert reply.get_json()["level"] in ("low", "medium")
    assert stored_answers(app, first["id"])["answers"]["purpose_text"] == "给女儿的生活费"


def test_a_blank_statement_is_refused(client, token):
    first = assessed(client, token, HIGH)
    refused(answer(client, token, first["id"], {"statement": "  "}), 400, "statement", "required")
    refused(answer(client, token, first["id"], {}), 400, "$", "required")


def test_a_new_assessment_needs_a_new_supervisor_decision(app, client):
    _, token = new_token(app, "授权系统", SUPERVISING)
    first = assessed(client, token, HIGH)
    assert supervise(client, token, first["id"], {"supervisor": "supervisor",
                                                  "decision": "confirm"}).status_code == 200
    again = answer(client, token, first["id"], {"statement": "客户补充：对方是网上认识的老师"})
    assert again.get_json()["supervisor"] is None
    assert again.get_json()["needs_supervisor"] is not None


# --- outcome --------------------------------------------------------------------------------

def test_the_outcome_finishes_the_screening(app, client, auth, token):
    first = assessed(client, token, BENIGN)
    assert first["level"] == "low" and first["needs_supervisor"] is None
    reply = outcome(client, token, first["id"], "proceeded")
    assert reply.status_code == 200, reply.get_json()
    done = reply.get_json()
    assert done["status"] == "finished" and done["outcome"] == "proceeded"
    assert done["finished_at"] and "questions" not in done
    assert [event["outcome"] for event in events(app, first["id"], "screening.outcome")] == [
        "proceeded"]
    auth.login("teller")  # among 我的问询's finished screenings, not the unfinished
    unfinished, finished = client.get("/screening/").get_data(as_text=True).split("最近完成")
    assert first["reference"] not in unfinished and first["reference"] in finished


def test_nothing_changes_once_finished(client, token):
    first = assessed(client, token, BENIGN)
    assert outcome(client, token, first["id"], "cancelled").status_code == 200
    refused(outcome(client, token, first["id"], "proceeded"), 409, "$", "wrong_state")
    refused(answer(client, token, first["id"], answers_of(BENIGN)), 409, "$", "wrong_state")


def test_no_outcome_before_the_assessment(client, token):
    created = draft(client, token, BENIGN)
    refused(outcome(client, token, created["id"], "cancelled"), 409, "$", "wrong_state")


def test_police_called_may_carry_the_police_response(app, client, token):
    first = assessed(client, token, BENIGN)
    path = f"/api/v1/screenings/{first['id']}/outcome"
    later = (datetime.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    refused(call(client, token, "post", path, {"outcome": "police_called",
                                               "police": {"reported_at": later}}),
            400, "police.reported_at", "out_of_range")
    refused(call(client, token, "post", path, {"outcome": "police_called",
                                               "police": {"receipt_no": "回执"}}),
            400, "police.receipt_no", "invalid_value")
    refused(call(client, token, "post", path, {"outcome": "police_called",
                                               "police": {"receipt": "JJ-1"}}),
            400, "police.receipt", "unknown_field")
    refused(call(client, token, "post", path, {"outcome": "cancelled",
                                               "police": {"receipt_no": "JJ-1"}}),
            400, "police", "invalid_value")
    at = (datetime.now() - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    reply = call(client, token, "post", path, {"outcome": "police_called", "police": {
        "receipt_no": "JJ20261202-0031", "officer": "张警官", "reported_at": at}})
    assert reply.status_code == 200, reply.get_json()
    police = events(app, first["id"], "screening.outcome")[0]["police"]
    assert police["receipt_no"] == "JJ20261202-0031" and police["officer"] == "张警官"
    assert police["reported_at"].startswith(at)


def test_police_called_without_the_police_response_is_still_accepted(app, client, token):
    first = assessed(client, token, BENIGN)
    assert outcome(client, token, first["id"], "police_called").status_code == 200
    assert "police" not in events(app, first["id"], "screening.outcome")[0]


@pytest.mark.parametrize("value", ["paused", "", None, 1, "已办理"])
def test_only_the_five_outcomes(client, token, value):
    first = assessed(client, token, BENIGN)
    reply = call(client, token, "post", f"/api/v1/screenings/{first['id']}/outcome",
                 {"outcome": value})
    assert reply.status_code == 400 and "outcome" in reply.get_json()["error"]["fields"]


def test_police_called_needs_no_receipt_as_on_the_web(app, client, token):
    first = assessed(client, token, CRITICAL)
    reply = outcome(client, token, first["id"], "police_called")
    assert reply.status_code == 200 and reply.get_json()["outcome"] == "police_called"
    refused(call(client, token, "post", f"/api/v1/screenings/{first['id']}/outcome",
                 {"outcome": "police_called", "receipt": "110-1"}), 400, "receipt",
            "unknown_field")


@pytest.mark.parametrize("base", [HIGH, CRITICAL])
def test_proceeded_on_high_or_critical_needs_the_supervisor_first(client, token, base):
    first = assessed(client, token, base)
    assert first["level"] == ("high" if base is HIGH else "critical")
    assert first["needs_supervisor"] == ("confirm" if base is HIGH else "override")
    refused(outcome(client, token, first["id"], "proceeded"), 409, "outcome", "wrong_state")
    assert outcome(client, token, first["id"], "delayed").status_code == 200


# --- supervisor -----------------------------------------------------------------------------

def test_a_token_without_the_right_cannot_assert_a_supervisor(client, token):
    first = assessed(client, token, HIGH)
    refused(supervise(client, token, first["id"], {"supervisor": "supervisor",
                                                   "decision": "confirm"}),
            403, "$", "out_of_scope")
    assert screening(client, token, first["id"]).get_json()["supervisor"] is None


def test_supervisor_override_then_proceeded_is_ledgered_with_the_system(app, client):
    _, token = new_token(app, "柜面授权系统", SUPERVISING)
    first = assessed(client, token, CRITICAL)
    reply = supervise(client, token, first["id"], {
        "supervisor": "supervisor", "decision": "override",
        "reason": "客户子女到场核实，确为购房首付，账号 6222021234567890"})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["supervisor"] == {"username": "supervisor", "decision": "override"}
    assert reply.get_json()["needs_supervisor"] is None
    [event] = events(app, first["id"], "screening.supervisor_override")
    assert event["api_token"] == "柜面授权系统" and isinstance(event["api_token_id"], int)
    assert "6222021234567890" not in event["reason"]  # masked like the web's reason
    assert outcome(client, token, first["id"], "proceeded").status_code == 200


def test_supervisor_confirms_high(app, client):
    _, token = new_token(app, "柜面授权系统", SUPERVISING)
    first = assessed(client, token, HIGH)
    assert first["needs_supervisor"] == "confirm"
    reply = supervise(client, token, first["id"], {"supervisor": "supervisor",
                                                   "decision": "confirm"})
    assert reply.status_code == 200 and reply.get_json()["supervisor"]["decision"] == "confirmed"
    assert len(events(app, first["id"], "screening.supervisor_confirmed")) == 1
    assert outcome(client, token, first["id"], "proceeded").status_code == 200


def test_four_eyes_the_screener_never_approves(app, client):
    _, token = new_token(app, "柜面授权系统", SUPERVISING)
    first = assessed(client, token, body(CRITICAL, teller="supervisor"))
    error = refused(supervise(client, token, first["id"], {
        "supervisor": "supervisor", "decision": "override", "reason": "本人审批"}),
        403, "supervisor", "four_eyes")
    assert "双人复核" in error["fields"]["supervisor"]
    assert events(app, first["id"], "screening.supervisor_override") == []
    refused(outcome(client, token, first["id"], "proceeded"), 409, "outcome", "wrong_state")


@pytest.mark.parametrize("base, payload, status, field, code", [
    (HIGH, {"supervisor": "supervisor", "decision": "override", "reason": "x"}, 409,
     "decision", "wrong_state"),
    (CRITICAL, {"supervisor": "supervisor", "decision": "confirm"}, 409, "decision",
     "wrong_state"),
    (CRITICAL, {"supervisor": "supervisor", "decision": "override"}, 400, "reason", "required"),
    (CRITICAL, {"supervisor": "supervisor", "decision": "override", "reason": " "}, 400,
     "reason", "required"),
    (CRITICAL, {"supervisor": "teller2", "decision": "override", "reason": "x"}, 400,
     "supervisor", "invalid_value"),
    (CRITICAL, {"supervisor": "nobody", "decision": "override", "reason": "x"}, 400,
     "supervisor", "invalid_value"),
    (CRITICAL, {"supervisor": "supervisor", "decision": "override", "reason": "x" * 501}, 400,
     "reason", "too_long"),
    (CRITICAL, {"supervisor": "supervisor", "decision": "override", "reason": "x",
                "password": "x"}, 400, "password", "unknown_field"),
    (BENIGN, {"supervisor": "supervisor", "decision": "confirm"}, 409, "$", "wrong_state"),
])
def test_supervisor_step_refusals(app, client, base, payload, status, field, code):
    _, token = new_token(app, "柜面授权系统", SUPERVISING)
    first = assessed(client, token, base)
    refused(supervise(client, token, first["id"], payload), status, field, code)
    assert screening(client, token, first["id"]).get_json()["supervisor"] is None


def test_no_supervisor_step_on_a_draft(app, client):
    _, token = new_token(app, "柜面授权系统", SUPERVISING)
    created = draft(client, token, CRITICAL)
    refused(supervise(client, token, created["id"], {"supervisor": "supervisor",
                                                     "decision": "override", "reason": "x"}),
            409, "$", "wrong_state")


# --- idempotency of the new steps -----------------------------------------------------------

def test_a_retried_facts_post_makes_one_draft(app, client, token):
    first = post(client, token, facts_only(BENIGN), **{"Idempotency-Key": "facts-1"})
    again = post(client, token, facts_only(BENIGN), **{"Idempotency-Key": "facts-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert count(app, "SELECT count(*) FROM sessions") == 1


def test_a_retried_follow_up_is_added_once(app, client, token):
    first = assessed(client, token, HIGH)
    headers = {"Idempotency-Key": "follow-up-1"}
    one = answer(client, token, first["id"], {"statement": "对方是投资老师"}, **headers)
    two = answer(client, token, first["id"], {"statement": "对方是投资老师"}, **headers)
    assert one.status_code == two.status_code == 200 and one.get_json() == two.get_json()
    assert two.headers["Idempotent-Replayed"] == "true"
    assert stored_answers(app, first["id"])["answers"]["purpose_text"].count("对方是投资老师") == 1
    assert len(events(app, first["id"], "screening.assessed")) == 2
    refused(answer(client, token, first["id"], {"statement": "另一句"}, **headers), 409,
            "Idempotency-Key", "idempotency_conflict")


def test_a_retried_outcome_is_recorded_once(app, client, token):
    first = assessed(client, token, BENIGN)
    headers = {"Idempotency-Key": "outcome-1"}
    assert outcome(client, token, first["id"], "cancelled", **headers).status_code == 200
    again = outcome(client, token, first["id"], "cancelled", **headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert len(events(app, first["id"], "screening.outcome")) == 1
    # The key belongs to that request: the same key on another path is a conflict.
    refused(answer(client, token, first["id"], answers_of(BENIGN), **headers), 409,
            "Idempotency-Key", "idempotency_conflict")


def test_a_refused_step_leaves_its_key_unused(client, token):
    first = assessed(client, token, HIGH)
    headers = {"Idempotency-Key": "outcome-2"}
    assert outcome(client, token, first["id"], "proceeded", **headers).status_code == 409
    assert outcome(client, token, first["id"], "cancelled", **headers).status_code == 200


# --- GET and the listing --------------------------------------------------------------------

def test_get_says_who_when_how_much_for_whom_and_from_which_system(app, client):
    _, token = new_token(app, "核心系统A")
    created = post(client, token, body(BENIGN, facts__amount="4万")).get_json()
    reply = screening(client, token, created["id"])
    fetched = reply.get_json()
    assert fetched["teller"] == "teller" and fetched["api_client"] == "核心系统A"
    assert fetched["amount"] == "40000.00" and fetched["payee_masked"] == "6222 **** **** 7890"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", fetched["started_at"])
    assert fetched["finished_at"] is None and fetched["outcome"] is None
    assert "6222021234567890" not in reply.get_data(as_text=True)
    done = outcome(client, token, created["id"], "proceeded").get_json()
    assert done["finished_at"] >= done["started_at"]


def test_a_draft_can_be_read_back_with_its_questions(client, token):
    created = draft(client, token, BENIGN)
    fetched = screening(client, token, created["id"]).get_json()
    assert fetched["status"] == "draft" and fetched["questions"] == created["questions"]


def listing(client, token, query: str = ""):
    return call(client, token, "get", f"/api/v1/screenings{query}")


def test_listing_pages_by_keyset_and_filters(app, client, token):
    made = [post(client, token, BENIGN).get_json()["id"] for _ in range(3)]
    made.append(draft(client, token, BENIGN)["id"])
    made.append(post(client, token, body(BENIGN, teller="teller2")).get_json()["id"])
    outcome(client, token, made[0], "cancelled")
    seen, after, pages = [], 0, 0
    while True:
        reply = listing(client, token, f"?limit=2&after={after}")
        assert reply.status_code == 200, reply.get_json()
        page = reply.get_json()
        pages += 1
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == made and pages == 3
    items = {item["id"]: item for item in listing(client, token).get_json()["items"]}
    assert items[made[0]]["outcome"] == "cancelled" and items[made[3]]["status"] == "draft"
    assert items[made[4]]["teller"] == "teller2" and items[made[0]]["amount"] == "3000.00"
    assert items[made[0]]["api_client"] == "核心系统"

    def ids(query):
        reply = listing(client, token, query)
        assert reply.status_code == 200, reply.get_json()
        return [item["id"] for item in reply.get_json()["items"]]

    today = items[made[0]]["started_at"][:10]
    assert ids("?teller=teller2") == [made[4]]
    assert ids("?outcome=cancelled") == [made[0]]
    assert ids("?status=draft") == [made[3]]
    assert ids("?level=low&status=assessed") == made[1:3] + [made[4]]
    assert ids(f"?reference={items[made[2]]['reference']}") == [made[2]]
    assert ids(f"?date_from={today}&date_to={today}") == made
    assert ids("?date_from=2000-01-01&date_to=2000-01-31") == []
    assert ids(f"?after={made[-1]}") == []


@pytest.mark.parametrize("query, field, code", [
    ("?limit=0", "limit", "out_of_range"),
    ("?limit=201", "limit", "out_of_range"),
    ("?limit=ten", "limit", "wrong_type"),
    ("?after=-1", "after", "out_of_range"),
    ("?after=99999999999999999999", "after", "out_of_range"),
    ("?date_from=2026-02-30", "date_from", "invalid_value"),
    ("?date_from=20260201", "date_from", "invalid_value"),
    ("?date_from=2026-02-02&date_to=2026-02-01", "date_to", "out_of_range"),
    ("?level=severe", "level", "invalid_value"),
    ("?outcome=paused", "outcome", "invalid_value"),
    ("?reference=TG1", "reference", "invalid_value"),
    ("?teller=nobody", "teller", "invalid_value"),
    ("?teller=a&teller=b", "teller", "invalid_value"),
    ("?levle=high", "levle", "unknown_field"),
])
def test_listing_refuses_bad_queries(client, token, query, field, code):
    refused(listing(client, token, query), 400, field, code)


def test_limit_is_at_most_two_hundred(client, token):
    for _ in range(3):
        post(client, token, BENIGN)
    page = listing(client, token, "?limit=200").get_json()
    assert len(page["items"]) == 3 and page["next"] is None


# --- the contract and the ledger ------------------------------------------------------------

def test_every_step_answers_as_the_document_says(app, client):
    _, token = new_token(app, "授权系统", SUPERVISING)
    document = api_schema.openapi_document()
    screening_schema = Draft202012Validator(api_schema.screening_schema())
    created = draft(client, token, CRITICAL)
    replies = [created, screening(client, token, created["id"]).get_json()]
    replies.append(answer(client, token, created["id"], answers_of(CRITICAL)).get_json())
    replies.append(supervise(client, token, created["id"], {
        "supervisor": "supervisor", "decision": "override", "reason": "核实无误"}).get_json())
    replies.append(outcome(client, token, created["id"], "proceeded").get_json())
    for reply in replies:
        screening_schema.validate(reply)
    Draft202012Validator(api_schema.screening_list_schema()).validate(
        listing(client, token).get_json())
    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/screenings"])
    assert "put" in paths["/api/v1/screenings/{id}/answers"]
    assert "post" in paths["/api/v1/screenings/{id}/outcome"]
    assert "post" in paths["/api/v1/screenings/{id}/supervisor"]


def test_the_ledger_agrees_with_the_rows_after_the_api_flow(app, client, database):
    _, token = new_token(app, "授权系统", SUPERVISING)
    created = draft(client, token, CRITICAL)
    answer(client, token, created["id"], answers_of(CRITICAL))
    answer(client, token, created["id"], {"statement": "客户坚持要转"})
    supervise(client, token, created["id"], {"supervisor": "supervisor",
                                             "decision": "override", "reason": "核实无误"})
    outcome(client, token, created["id"], "proceeded")
    post(client, token, BENIGN)
    key = app.extensions["teller_guard"]["ledger_key"]
    assert integrity.check_sessions(database, key) == (2, [])
    assert audit.verify_chain(database, key)[1] == []
    [started] = events(app, created["id"], "screening.started")
    assert started["api_token_id"] == api_token_id(database, "授权系统")


def api_token_id(database, name: str) -> int:
    return database.execute("SELECT id FROM api_tokens WHERE name = ?", [name]).fetchone()[0]


# --- the README's walk-through works as written ---------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"
CURL = re.compile(r"curl -s(?: -X (?P<method>[A-Z]+))? http://127\.0\.0\.1:5000(?P<path>\S+)"
                  r"(?P<rest>.*?)(?=\ncurl |\n#|\n```)", re.S)


def readme_requests(marker: str):
    """(method, path, body, headers) of each curl between the README's `marker` comments, with
    the README's usernames made the test instance's."""
    text = README.read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker}:start -->(.*?)<!-- {marker}:end -->", text, re.S).group(1)
    for found in CURL.finditer(block):
        data = re.search(r"-d '(.*?)'\s*$", found["rest"], re.S)
        payload = None
        if data:
            payload = json.loads(data.group(1).replace('"teller1"', '"teller"')
                                 .replace('"supervisor1"', '"supervisor"'))
        key = re.search(r'-H "Idempotency-Key: ([^"]+)"', found["rest"])
        yield (found["method"] or "GET").lower(), found["path"].rstrip("\\"), payload, \
            {"Idempotency-Key": key.group(1)} if key else {}


def test_the_readme_walk_through_works(client, token):
    steps = list(readme_requests("api-walkthrough"))
    assert [(method, re.sub(r"/\d+", "/N", path)) for method, path, _, _ in steps] == [
        ("post", "/api/v1/screenings"), ("put", "/api/v1/screenings/N/answers"),
        ("put", "/api/v1/screenings/N/answers"), ("post", "/api/v1/screenings/N/outcome")]
    replies = []
    session_id = None
    for method, path, payload, headers in steps:
        if session_id is not None:
            path = re.sub(r"/screenings/\d+", f"/screenings/{session_id}", path)
        reply = call(client, token, method, path, payload, **headers)
        assert reply.status_code in (200, 201), (path, reply.get_json())
        replies.append(reply.get_json())
        session_id = replies[0]["id"]
    facts, answers, follow_up, finished = replies
    assert facts["status"] == "draft" and facts["questions"][0]["id"] == "purpose"
    assert answers["level"] == "critical" and answers["needs_supervisor"] == "override"
    assert answers["primary_typology"]["id"] == "fake_investment"
    assert follow_up["status"] == "assessed"
    assert finished["status"] == "finished" and finished["outcome"] == "police_called"


def test_the_readme_supervisor_example_works(app, client):
    _, token = new_token(app, "柜面授权系统", SUPERVISING)
    session_id = assessed(client, token, HIGH)["id"]
    for method, path, payload, headers in readme_requests("api-supervisor"):
        path = re.sub(r"/screenings/\d+", f"/screenings/{session_id}", path)
        reply = call(client, token, method, path, payload, **headers)
        assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["outcome"] == "proceeded"
    assert reply.get_json()["supervisor"] == {"username": "supervisor", "decision": "confirmed"}
