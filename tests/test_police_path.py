"""Issue 15 items 4 and 6: the teller's police path (customer details before the alert, the
alert of their own case, 已报警 with the police response) and the watchlist hit's short set of
questions and entry details."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from conftest import csrf_token
from printing_web_helpers import CUSTOMER_ID, events, id_with_check, pdf_text, session_row
from screening_helpers import (
    BENIGN_FACTS,
    SAFE_ACCOUNT_ANSWERS,
    SAFE_ACCOUNT_FACTS,
    post_facts,
    screen,
    session_id_from,
)

from teller_guard import clock, db, labels, pii
from teller_guard.review import integrity, timeline
from teller_guard.risk import ScreeningInput, applicable_questions, evaluate
from teller_guard.risk.engine import WATCHLIST_QUESTIONS
from teller_guard.screening import police

pytestmark = pytest.mark.both_backends

NAME, PHONE = "王秀英", "13912345678"
RECEIPT = "JJ20261202-0031"


def critical_case(client, auth) -> int:
    """A 极高 screening by `teller` through the pages, with no customer name, phone or ID."""
    auth.login("teller")
    return screen(client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)


def post(client, path: str, data: dict, page: str):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def add_customer(client, session_id: int, **data):
    return post(client, f"/print/{session_id}/alert/customer", data, f"/print/{session_id}/alert")


def print_alert(client, session_id: int):
    return post(client, f"/print/{session_id}/alert.pdf", {}, f"/print/{session_id}/alert")


def record(client, session_id: int, **data):
    return post(client, f"/screening/{session_id}/outcome", data,
                f"/screening/{session_id}/result")


def verify_sessions(app, database) -> list:
    return integrity.check_sessions(database, app.extensions["teller_guard"]["ledger_key"])[1]


# --- the alert of the teller's own case, after the customer's details ------------------------


def test_the_teller_adds_the_customers_details_then_prints_their_own_alert(app, client, auth,
                                                                           database):
    session_id = critical_case(client, auth)
    result = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert 'id="alert-customer-link"' in result  # the button asks for the details first

    page = client.get(f"/print/{session_id}/alert")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "补录客户信息" in html
    for name in police.CUSTOMER_FIELDS:
        assert f'name="{name}"' in html
    refused = print_alert(client, session_id)  # no way round the form
    assert refused.status_code == 409 and "请先补录客户" in refused.get_data(as_text=True)
    assert events(database, session_id, "print.alert") == []

    bad_id = CUSTOMER_ID[:-1] + ("0" if CUSTOMER_ID[-1] != "0" else "1")
    wrong = add_customer(client, session_id, customer_name=NAME, customer_phone="139-abc",
                         customer_id_number=bad_id)
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    assert "身份证号校验位不正确" in text and "电话号码只能包含数字" in text
    assert f'value="{NAME}"' in text  # what was typed is kept
    missing = add_customer(client, session_id, customer_name="", customer_phone=PHONE,
                           customer_id_number=CUSTOMER_ID)
    assert missing.status_code == 400 and "请输入客户姓名（打印警情通报单必须填写）" in \
        missing.get_data(as_text=True)
    assert all(event["step"] != "customer"
               for event in events(database, session_id, "screening.step_saved"))

    done = add_customer(client, session_id, customer_name=NAME, customer_phone=PHONE,
                        customer_id_number=CUSTOMER_ID)
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/print/{session_id}/alert")
    vault = dict(database.execute("SELECT field, value FROM pii_vault WHERE session_id = ?",
                                  [session_id]).fetchall())
    assert (vault["customer_name"], vault["customer_phone"], vault["customer_id_number"]) == \
        (NAME, PHONE, CUSTOMER_ID)
    row = session_row(database, session_id)
    assert row["customer_hash"] == pii.keyed_hash(app.extensions["teller_guard"]["pii_key"],
                                                  CUSTOMER_ID)
    assert NAME not in row["form"] and PHONE not in row["form"] and CUSTOMER_ID not in row["form"]
    assert row["customer_masked"] == pii.mask_name(NAME)
    saved = events(database, session_id, "screening.step_saved")[-1]
    assert saved["step"] == "customer"
    assert saved["fields"] == ["customer_id_number", "customer_name", "customer_phone"]
    assert verify_sessions(app, database) == []  # the event's state pins the new facts and vault

    for path in (f"/print/{session_id}/alert", f"/screening/{session_id}/result"):
        shown = client.get(path).get_data(as_text=True)
        assert PHONE not in shown and CUSTOMER_ID not in shown and NAME not in shown, path
    assert pii.mask_phone(PHONE) in client.get(f"/print/{session_id}/alert").get_data(as_text=True)

    printed = print_alert(client, session_id)
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    text = pdf_text(printed.data)
    assert NAME in text and PHONE in text and CUSTOMER_ID in text
    assert [event["reprint"] for event in events(database, session_id, "print.alert")] == [False]
    assert events(database, session_id, "pii.accessed")[-1]["purpose"] == "police_alert"
    assert session_row(database, session_id)["alerts_printed"] == 1


def test_details_given_at_step_one_are_not_asked_again(app, client, auth, database):
    auth.login("teller")
    session_id = screen(client, {**SAFE_ACCOUNT_FACTS, "customer_name": NAME,
                                 "customer_phone": PHONE, "customer_id_number": CUSTOMER_ID},
                        SAFE_ACCOUNT_ANSWERS)
    html = client.get(f"/print/{session_id}/alert").get_data(as_text=True)
    assert "补录客户信息" not in html and "打印警情通报单" in html
    result = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert 'id="alert-customer-link"' not in result
    assert f'action="/print/{session_id}/alert.pdf"' in result
    assert print_alert(client, session_id).status_code == 200


def test_only_the_missing_fields_are_asked(app, client, auth, database):
    auth.login("teller")
    session_id = screen(client, {**SAFE_ACCOUNT_FACTS, "customer_name": NAME},
                        SAFE_ACCOUNT_ANSWERS)
    html = client.get(f"/print/{session_id}/alert").get_data(as_text=True)
    assert 'name="customer_phone"' in html and 'name="customer_id_number"' in html
    assert 'name="customer_name"' not in html
    # a name sent anyway does not replace the one recorded at step 1
    assert add_customer(client, session_id, customer_name="张三", customer_phone=PHONE,
                        customer_id_number=CUSTOMER_ID).status_code == 302
    vault = dict(database.execute("SELECT field, value FROM pii_vault WHERE session_id = ?",
                                  [session_id]).fetchall())
    assert vault["customer_name"] == NAME


def test_supervisors_print_another_tellers_alert_as_before(app, client, auth, database):
    session_id = critical_case(client, auth)
    auth.logout()
    auth.login("supervisor")
    html = client.get(f"/print/{session_id}/alert").get_data(as_text=True)
    assert "补录客户信息" not in html  # only the teller with the customer is asked
    assert add_customer(client, session_id, customer_name=NAME, customer_phone=PHONE,
                        customer_id_number=CUSTOMER_ID).status_code == 403
    assert print_alert(client, session_id).status_code == 200


def test_another_teller_gets_403_for_the_alert_and_the_details(app, client, auth, database):
    session_id = critical_case(client, auth)
    auth.logout()
    auth.login("teller2")
    assert client.get(f"/print/{session_id}/alert").status_code == 403
    token = csrf_token(client, "/screening/")
    for path in (f"/print/{session_id}/alert.pdf", f"/print/{session_id}/alert/customer"):
        assert client.post(path, data={"csrf_token": token, "customer_name": "x"}
                           ).status_code == 403
    assert "customer_name" not in dict(database.execute(
        "SELECT field, value FROM pii_vault WHERE session_id = ?", [session_id]).fetchall())


# --- 已报警 needs the printed alert or the police response -------------------------------------


def test_police_called_needs_an_alert_or_the_police_response(app, client, auth, database):
    session_id = critical_case(client, auth)
    nothing = record(client, session_id, outcome="police_called")
    assert nothing.status_code == 400
    assert police.EVIDENCE_NEEDED in nothing.get_data(as_text=True)
    assert session_row(database, session_id)["status"] == "assessed"

    officer_only = record(client, session_id, outcome="police_called", police_officer="张警官")
    text = officer_only.get_data(as_text=True)
    assert officer_only.status_code == 400 and "请同时填写接警时间" in text
    assert 'value="张警官"' in text  # kept
    assert re.search(r'id="outcome-police_called"[^>]*checked', text)  # the choice is kept

    time_only = record(client, session_id, outcome="police_called", police_time=(
        datetime.now() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M"))
    assert time_only.status_code == 400 and "请同时填写出警民警姓名" in time_only.get_data(as_text=True)
    for bad, message in (("25:99", "接警时间格式不正确"), ("明天上午", "接警时间格式不正确"),
                         ((datetime.now() + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"),
                          "接警时间不能晚于现在")):
        refused = record(client, session_id, outcome="police_called", police_officer="张警官",
                         police_time=bad)
        assert refused.status_code == 400 and message in refused.get_data(as_text=True), bad
    bad_receipt = record(client, session_id, outcome="police_called",
                         police_receipt_no="回执<script>")
    assert bad_receipt.status_code == 400
    assert "接警回执号为 3 至 40 位字母、数字" in bad_receipt.get_data(as_text=True)
    assert events(database, session_id, "screening.outcome") == []

    at = (datetime.now() - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    done = record(client, session_id, outcome="police_called", police_officer="张警官",
                  police_time=at)
    assert done.status_code == 302
    event = events(database, session_id, "screening.outcome")[0]
    assert event["outcome"] == "police_called"
    assert event["police"]["officer"] == "张警官"
    assert event["police"]["reported_at"].startswith(at.replace(" ", "T"))
    assert session_row(database, session_id)["outcome"] == "police_called"
    result = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert f"警方接警：出警民警 张警官；接警时间 {at}" in result
    assert verify_sessions(app, database) == []


def test_the_receipt_is_shown_on_review_and_printed_on_the_alert(app, client, auth, database):
    session_id = critical_case(client, auth)
    assert record(client, session_id, outcome="police_called",
                  police_receipt_no=RECEIPT).status_code == 302
    assert events(database, session_id, "screening.outcome")[0]["police"] == \
        {"receipt_no": RECEIPT}
    auth.logout()
    auth.login("security")
    detail = client.get(f"/review/{session_id}").get_data(as_text=True)
    assert f"接警回执号 {RECEIPT}" in detail
    assert detail.count(RECEIPT) >= 2  # the case's facts and the timeline's 记录结果
    printed = print_alert(client, session_id)
    assert printed.status_code == 200
    assert f"警方接警：接警回执号{RECEIPT}" in pdf_text(printed.data)


def test_a_printed_alert_is_enough_for_police_called(app, client, auth, database):
    session_id = critical_case(client, auth)
    assert add_customer(client, session_id, customer_name=NAME, customer_phone=PHONE,
                        customer_id_number=CUSTOMER_ID).status_code == 302
    assert print_alert(client, session_id).status_code == 200
    html = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert "本案已打印警情通报单，以下可不填" in html
    assert record(client, session_id, outcome="police_called").status_code == 302
    assert "police" not in events(database, session_id, "screening.outcome")[0]


def test_other_outcomes_ask_nothing_of_the_police(app, client, auth, database):
    session_id = critical_case(client, auth)
    assert record(client, session_id, outcome="cancelled",
                  police_officer="ignored").status_code == 302
    assert "police" not in events(database, session_id, "screening.outcome")[0]


# --- the watchlist hit -----------------------------------------------------------------------


def listed(app, database, account="6222021234567890"):
    key = app.extensions["teller_guard"]["pii_key"]
    database["watchlist"].insert({
        "account_hash": pii.keyed_hash(key, account), "account_masked": pii.mask_account(account),
        "source": "市公安局反诈中心通报", "listed_on": "2026-11-20",
        "note": "多名受害人报案，冒充客服退款", "added_at": "2026-11-21T01:30:00+00:00"})


def test_an_entry_stops_screenings_through_its_expiry_day_only(app, client, auth, database):
    listed(app, database)
    auth.login("teller")
    facts = {**BENIGN_FACTS, "customer_name": NAME, "customer_phone": PHONE,
             "customer_id_number": CUSTOMER_ID}
    levels = []
    for expires_on in (date.today(), date.today() - timedelta(days=1)):
        with db.write_transaction(database):
            database.execute("UPDATE watchlist SET expires_on = ?", [expires_on.isoformat()])
        session_id = session_id_from(post_facts(client, facts))
        levels.append(session_row(database, session_id)["level"])
        html = client.get(f"/screening/{session_id}/questions").get_data(as_text=True)
        assert ("收款账户在涉诈名单中" in html) == (expires_on == date.today())
    assert levels == ["critical", None]  # expired: the full questions, no verdict yet


def test_a_watchlist_hit_asks_the_short_set_and_shows_the_entry(app, client, auth, database):
    listed(app, database)
    auth.login("teller")
    response = post_facts(client, {**BENIGN_FACTS, "customer_name": NAME,
                                   "customer_phone": PHONE, "customer_id_number": CUSTOMER_ID})
    assert response.headers["Location"].endswith("/questions")
    session_id = session_id_from(response)
    assert session_row(database, session_id)["level"] == "critical"  # stopped at once

    path = f"/screening/{session_id}/questions"
    html = client.get(path).get_data(as_text=True)
    for shown in ("收款账户在涉诈名单中", "市公安局反诈中心通报", "2026-11-20", "多名受害人报案"):
        assert shown in html, shown
    asked = set(re.findall(r'name="((?:answers|three_checks)\.[a-z_]+)"', html))
    assert asked == {"answers.purpose", "answers.purpose_text", "answers.knows_payee",
                     "answers.relationship"}
    assert 'name="observations"' in html and 'id="three-checks"' not in html

    answers = {"answers.purpose": "refund_claim", "answers.knows_payee": "phone_only",
               "answers.relationship": "stranger", "observations": ["on_phone"]}
    unsaid = client.post(path, data={**answers, "csrf_token": csrf_token(client, path)})
    assert unsaid.status_code == 400 and "请记录客户原话" in unsaid.get_data(as_text=True)
    statement = "自称淘宝客服的人打电话说退款，让我转到这个账户"
    done = client.post(path, data={**answers, "answers.purpose_text": statement,
                                   "csrf_token": csrf_token(client, path)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/result")
    row = session_row(database, session_id)
    assert row["level"] == "critical"

    result = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    for shown in ("收款账户在涉诈名单中", "市公安局反诈中心通报", "2026-11-20",
                  "多名受害人报案，冒充客服退款", labels.when("2026-11-21T01:30:00+00:00", False)):
        assert shown in result, shown
    text = pdf_text(print_alert(client, session_id).data)
    assert "退款、理赔" in text and "陌生人" in text  # the interview record
    assert statement.replace("，", "，") in text
    assert "涉诈名单记录（来源：市公安局反诈中心通报，列入日期：2026-11-20" in text


def test_the_engine_asks_the_short_set_only_for_a_listed_payee():
    base = {"transaction": {"amount": "50000", "other_region": True},
            "customer": {"age": 70}}
    listed_input = ScreeningInput.from_dict({**base, "cross_session": {"payee_watchlisted": True}})
    ids = [question.id for question in applicable_questions(listed_input)]
    assert ids == list(WATCHLIST_QUESTIONS)
    assert evaluate(listed_input).level == "critical"
    full = [question.id for question in applicable_questions(ScreeningInput.from_dict(base))]
    assert set(WATCHLIST_QUESTIONS) < set(full) and "family_consulted" in full


# --- pure checks and wording ---------------------------------------------------------------------


def test_police_response_checks():
    started = datetime.now().astimezone() - timedelta(minutes=30)
    now = datetime.now().astimezone()

    def check(printed=False, **raw):
        return police.parse_police_response(raw, alert_printed=printed, started_at=started,
                                            now=now)

    assert check(police_receipt_no=" jj-2026/0031 ").value == {"receipt_no": "jj-2026/0031"}
    assert check(police_receipt_no="ＪＪ２０２６").value == {"receipt_no": "JJ2026"}  # full-width
    assert check(printed=True).ok and check(printed=True).value == {}
    assert check(police_officer="李警官 13912345678", police_time="10:05").value["officer"] == \
        "李警官 *******5678"  # a phone typed in the name is masked like any free text
    assert "police_time" in check(police_officer="李", police_time=(
        started - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")).errors
    assert "police_officer" in check(police_officer="x" * 31, police_time="10:05").errors


def test_the_timeline_words_the_police_response():
    clock.use_zone("Asia/Shanghai")  # the bank's: a time stored with another offset is shown in it
    data = {"outcome": "police_called", "amount_fen": 100, "duration_seconds": 60,
            "police": {"receipt_no": RECEIPT, "officer": "张警官",
                       "reported_at": "2026-12-02T10:15+08:00"}}
    text = timeline.describe("screening.outcome", data, {}, {})
    assert text.endswith(f"；接警回执号 {RECEIPT}；出警民警 张警官；接警时间 2026-12-02 10:15")
    assert "customer" in labels.STEPS
    assert timeline.describe("screening.step_saved", {"step": "customer", "fields": ["a"]},
                             {}, {}) == "补录客户信息；修改 1 项"


def test_an_id_from_the_form_is_checked_like_step_one():
    today = datetime.now().date()
    checked = police.parse_customer({"customer_id_number": id_with_check("11010519491231002")},
                                    ["customer_id_number"], today)
    assert checked.ok and checked.value["customer_id_number"].endswith(
        id_with_check("11010519491231002")[-1])
    assert "customer_id_number" in police.parse_customer(
        {"customer_id_number": "123"}, ["customer_id_number"], today).errors
