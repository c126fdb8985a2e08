import json
import re

import pytest
from conftest import csrf_token
from screening_helpers import (
    BENIGN_ANSWERS,
    BENIGN_FACTS,
    SAFE_ACCOUNT_ANSWERS,
    SAFE_ACCOUNT_FACTS,
    answer_all,
    post_facts,
    screen,
    session_id_from,
)

from teller_guard import users
from teller_guard.screening import service
from teller_guard.web_context import app_db

pytestmark = pytest.mark.both_backends


def session_row(database, session_id):
    return next(database["sessions"].rows_where("id = ?", [session_id]))


def test_new_screening_page(client, auth):
    auth.login("teller")
    html = client.get("/screening/new").get_data(as_text=True)
    assert "新建问询" in html and 'name="amount"' in html and "autofocus" in html
    assert html.count("<option") >= 34 + 5


def test_bad_facts_show_messages_and_keep_what_was_typed(client, auth, database):
    auth.login("teller")
    response = post_facts(client, {**BENIGN_FACTS, "amount": "1.234", "payee_account": "12ab",
                                   "payee_name": "保留的名字", "customer_age": ""})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "金额最多保留两位小数" in html and "账号只能包含数字" in html
    assert "请输入客户年龄、出生年份或身份证号" in html
    assert 'value="1.234"' in html and 'value="保留的名字"' in html and 'value="12ab"' in html
    assert database["sessions"].count == 0


def test_other_region_is_derived_never_asked(client, auth, database):
    auth.login("teller")
    local = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    away = screen(client, {**BENIGN_FACTS, "payee_province": "云南省", "payee_city": "昆明市"},
                  BENIGN_ANSWERS)
    assert session_row(database, local)["other_region"] == 0
    assert session_row(database, away)["other_region"] == 1
    assert "other_region" not in client.get("/screening/new").get_data(as_text=True)


def test_questions_appear_only_when_they_apply(client, auth):
    auth.login("teller")
    small = session_id_from(post_facts(client, BENIGN_FACTS))
    html = client.get(f"/screening/{small}/questions").get_data(as_text=True)
    assert "转账汇款目的必问" in html and "是否给陌生人汇款" in html
    assert "大额转账汇款必问" not in html and "异地转账汇款必问" not in html
    assert "和家人商量" not in html
    big = session_id_from(post_facts(client, {**BENIGN_FACTS, "amount": "8万",
                                              "payee_province": "云南省",
                                              "customer_age": "70"}))
    html = client.get(f"/screening/{big}/questions").get_data(as_text=True)
    assert "大额转账汇款必问" in html and "异地转账汇款必问" in html and "和家人商量" in html
    assert "请对客户说" not in html  # the label comes from CSS; the words themselves are shown
    assert "请问这笔钱是转给谁" in html


def test_unanswered_questions_are_flagged_and_answers_kept(client, auth, database):
    auth.login("teller")
    session_id = session_id_from(post_facts(client, BENIGN_FACTS))
    path = f"/screening/{session_id}/questions"
    response = client.post(path, data={"csrf_token": csrf_token(client, path),
                                       "answers.purpose": "tuition",
                                       "answers.purpose_text": "交学费"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请询问客户并选择回答" in html
    assert 'value="tuition" checked' in html and "交学费" in html
    saved = json.loads(session_row(database, session_id)["form"])
    assert saved["answers"]["answers"]["purpose"] == "tuition"


def test_benign_family_transfer_end_to_end(client, auth, database):
    auth.login("teller")
    session_id = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    html = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert "低风险" in html and "level-low" in html
    response = client.post(f"/screening/{session_id}/outcome", data={
        "outcome": "proceeded", "csrf_token": csrf_token(client, f"/screening/{session_id}/result")})
    assert response.status_code == 302
    row = session_row(database, session_id)
    assert row["status"] == "finished" and row["outcome"] == "proceeded"
    assert row["duration_seconds"] is not None and row["in_queue"] == 0
    kinds = [event["kind"] for event in database["ledger"].rows_where(
        "session_id = ?", [session_id], order_by="id")]
    assert kinds[0] == "screening.started" and "screening.assessed" in kinds
    assert kinds[-1] == "screening.outcome"


def test_safe_account_case_is_critical_and_needs_a_written_override(client, auth, database):
    auth.login("teller")
    session_id = screen(client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)
    result_path = f"/screening/{session_id}/result"
    html = client.get(result_path).get_data(as_text=True)
    assert "极高风险" in html and "冒充公检法" in html and "110" in html
    assert "公检法" in html and "安全账户" in html
    token = csrf_token(client, result_path)
    refused = client.post(f"/screening/{session_id}/outcome",
                          data={"outcome": "proceeded", "csrf_token": token})
    assert refused.status_code == 400 and "主管" in refused.get_data(as_text=True)
    no_reason = client.post(f"/screening/{session_id}/supervisor", data={
        "supervisor_username": "supervisor", "supervisor_password": "supervisor-pass",
        "csrf_token": token})
    assert "极高风险放行必须填写书面理由" in no_reason.get_data(as_text=True)
    teller_as_supervisor = client.post(f"/screening/{session_id}/supervisor", data={
        "supervisor_username": "teller2", "supervisor_password": "teller-pass-2",
        "supervisor_reason": "客户坚持", "csrf_token": token})
    assert "须为主管账户" in teller_as_supervisor.get_data(as_text=True)
    override = client.post(f"/screening/{session_id}/supervisor", data={
        "supervisor_username": "supervisor", "supervisor_password": "supervisor-pass",
        "supervisor_reason": "已与客户子女视频核实，系其本人购房定金", "csrf_token": token})
    assert override.status_code == 302
    row = session_row(database, session_id)
    assert row["supervisor_decision"] == "override" and row["in_queue"] == 1
    done = client.post(f"/screening/{session_id}/outcome",
                       data={"outcome": "proceeded", "csrf_token": token})
    assert done.status_code == 302


def test_stopping_counts_as_protected(client, auth, database):
    auth.login("teller")
    session_id = screen(client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)
    token = csrf_token(client, f"/screening/{session_id}/result")
    client.post(f"/screening/{session_id}/outcome",
                data={"outcome": "police_called", "police_receipt_no": "JJ20261202-0031",
                      "csrf_token": token})
    row = session_row(database, session_id)
    assert row["outcome"] in service.PROTECTED_OUTCOMES and row["amount_fen"] == 20_000_000
    assert row["review_status"] == "pending"


def test_high_needs_supervisor_confirmation(client, auth, database):
    auth.login("teller")
    facts = {**BENIGN_FACTS, "amount": "6万", "payee_known": "new", "payee_province": "云南省"}
    answers = {**BENIGN_ANSWERS, "answers.purpose": "online_friend",
               "answers.knows_payee": "online_only", "answers.relationship": "online_contact",
               "answers.verified_by_phone": "false", "answers.use_confirmed": "true",
               "three_checks.possibly_scam": "unsure"}
    session_id = screen(client, facts, answers)
    row = session_row(database, session_id)
    assert row["level"] in ("high", "critical")
    if row["level"] == "high":
        token = csrf_token(client, f"/screening/{session_id}/result")
        assert client.post(f"/screening/{session_id}/outcome", data={
            "outcome": "proceeded", "csrf_token": token}).status_code == 400
        client.post(f"/screening/{session_id}/supervisor", data={
            "supervisor_username": "supervisor", "supervisor_password": "supervisor-pass",
            "csrf_token": token})
        assert session_row(database, session_id)["supervisor_decision"] == "confirmed"
        assert client.post(f"/screening/{session_id}/outcome", data={
            "outcome": "proceeded", "csrf_token": token}).status_code == 302


def test_a_supervisor_still_on_the_initial_password_cannot_sign(app, client, auth, database):
    with app_db(app) as (connection, key):
        users.reset_password(connection, key, "supervisor", "initial-pass-123")  # must change
    auth.login("teller")
    session_id = screen(client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)
    token = csrf_token(client, f"/screening/{session_id}/result")
    refused = client.post(f"/screening/{session_id}/supervisor", data={
        "supervisor_username": "supervisor", "supervisor_password": "initial-pass-123",
        "supervisor_reason": "客户坚持", "csrf_token": token})
    assert refused.status_code == 400
    assert "须先登录并修改初始密码" in refused.get_data(as_text=True)
    assert session_row(database, session_id)["supervisor_decision"] is None


def test_follow_up_statement_rescores(client, auth, database):
    auth.login("teller")
    answers = {**BENIGN_ANSWERS, "answers.purpose": "investment",
               "answers.knows_payee": "online_only", "answers.relationship": "online_contact"}
    session_id = screen(client, {**BENIGN_FACTS, "payee_known": "new"}, answers)
    before = session_row(database, session_id)["score"]
    path = f"/screening/{session_id}/result"
    html = client.get(path).get_data(as_text=True)
    assert "请继续追问" in html
    client.post(f"/screening/{session_id}/statement", data={
        "statement": "网上认识的导师带单，说稳赚不赔、高回报", "csrf_token": csrf_token(client, path)})
    after = session_row(database, session_id)
    assert after["score"] >= before and after["level"] in ("high", "critical")


def test_tellers_see_only_their_own_sessions(client, auth):
    auth.login("teller")
    session_id = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    auth.logout()
    auth.login("teller2")
    assert client.get(f"/screening/{session_id}/result").status_code == 404
    assert client.get(f"/screening/{session_id}/questions").status_code == 404
    auth.logout()
    auth.login("supervisor")
    assert client.get(f"/screening/{session_id}/result").status_code == 200


def test_unfinished_sessions_are_listed_and_resume_with_answers(client, auth):
    auth.login("teller")
    session_id = session_id_from(post_facts(client, BENIGN_FACTS))
    path = f"/screening/{session_id}/questions"
    client.post(path, data={"csrf_token": csrf_token(client, path), "action": "save",
                            "answers.purpose": "tuition"})
    mine = client.get("/screening/").get_data(as_text=True)
    assert "未完成的问询" in mine and f"/screening/{session_id}/questions" in mine
    assert 'value="tuition" checked' in client.get(path).get_data(as_text=True)


def test_personal_data_is_masked_and_never_in_ledger_or_urls(app, client, auth, database):
    auth.login("teller")
    facts = {**BENIGN_FACTS, "customer_name": "张三丰", "customer_phone": "13912345678"}
    response = post_facts(client, facts)
    assert "6222021234567890" not in response.headers["Location"]
    session_id = session_id_from(response)
    answer_all(client, session_id, BENIGN_ANSWERS)
    html = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert "6222 **** **** 7890" in html
    assert "6222021234567890" not in html and "张三丰" not in html and "13912345678" not in html
    row = session_row(database, session_id)
    for column in ("form", "payee_masked", "payee_hash", "assessment"):
        assert "6222021234567890" not in (row[column] or "")
    ledger = json.dumps(list(database["ledger"].rows), ensure_ascii=False)
    assert "6222021234567890" not in ledger and "张三丰" not in ledger
    vault = dict(database.execute("SELECT field, value FROM pii_vault WHERE session_id = ?",
                                  [session_id]).fetchall())
    assert vault["payee_account"] == "6222021234567890" and vault["customer_name"] == "张三丰"


def test_editing_facts_keeps_personal_values_when_left_blank(client, auth, database):
    auth.login("teller")
    session_id = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    path = f"/screening/{session_id}/facts"
    html = client.get(path).get_data(as_text=True)
    assert "6222 **** **** 7890" in html and "6222021234567890" not in html
    edited = {**BENIGN_FACTS, "payee_account": "", "payee_name": "", "amount": "4000"}
    response = post_facts(client, edited, path)
    assert response.status_code == 302
    row = session_row(database, session_id)
    assert row["amount_fen"] == 400000 and row["payee_masked"] == "6222 **** **** 7890"


def test_finished_sessions_cannot_change(client, auth, database):
    auth.login("teller")
    session_id = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    token = csrf_token(client, f"/screening/{session_id}/result")
    client.post(f"/screening/{session_id}/outcome", data={"outcome": "proceeded",
                                                          "csrf_token": token})
    again = client.post(f"/screening/{session_id}/outcome", data={"outcome": "cancelled",
                                                                  "csrf_token": token})
    assert again.status_code == 400 and "不能再修改" in again.get_data(as_text=True)
    assert session_row(database, session_id)["outcome"] == "proceeded"


def test_references_are_unique_and_readable(client, auth, database):
    auth.login("teller")
    first = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    second = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    references = [session_row(database, i)["reference"] for i in (first, second)]
    assert all(re.fullmatch(r"TG\d{8}-\d{6}", ref) for ref in references)
    assert references[0] != references[1]


def test_watchlisted_payee_is_critical_before_any_question(app, client, auth, database):
    from teller_guard import pii

    key = app.extensions["teller_guard"]["pii_key"]
    database["watchlist"].insert({"account_hash": pii.keyed_hash(key, "6222021234567890"),
                                  "account_masked": "6222 **** **** 7890", "source": "公安"})
    auth.login("teller")
    response = post_facts(client, BENIGN_FACTS)
    # 极高 at once; then only the short set the police alert needs (tests/test_police_path.py)
    assert response.headers["Location"].endswith("/questions")
    session_id = int(response.headers["Location"].split("/")[-2])
    assert session_row(database, session_id)["level"] == "critical"
    html = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert "极高风险" in html and "收款账户在涉诈名单中" in html
