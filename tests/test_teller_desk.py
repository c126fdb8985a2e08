"""我的问询's desk tools (issue 15 items 5 and 7): discarding an unfinished screening, the
huge-amount confirmation, searching one's own screenings and the 今日 summary."""

import json
import re
from datetime import date

import pytest
from api_helpers import BENIGN, body, call, new_token, post
from conftest import csrf_token
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, post_facts, screen, session_id_from
from test_review_support import ledger_key

from teller_guard import pii
from teller_guard.review import integrity, stats
from teller_guard.storage import watchlist as watchlist_store

pytestmark = pytest.mark.both_backends

CUSTOMER = {"customer_name": "张三丰", "customer_phone": "13912345678"}
FACTS = {**BENIGN_FACTS, **CUSTOMER}


def start_draft(client, facts=FACTS) -> int:
    """新建问询 up to the questions, left there (a draft, as when the customer walks away)."""
    response = post_facts(client, facts)
    assert response.status_code == 302 and response.headers["Location"].endswith("/questions")
    return session_id_from(response)


def discard(client, session_id, **form):
    path = f"/screening/{session_id}/discard"
    return client.post(path, data={"csrf_token": csrf_token(client, "/screening/"), **form})


def status_of(database, session_id) -> str:
    return database.execute("SELECT status FROM sessions WHERE id = ?", [session_id]).fetchone()[0]


def listed(html: str) -> list[str]:
    """The references in the page's results table."""
    table = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"TG\d{8}-\d{6}", table)


def today() -> date:
    from teller_guard.screening import service

    return service.now_local().date()


# --- 我的问询 and discarding -----------------------------------------------------------------


def test_unfinished_list_shows_masked_customer_and_a_discard_button(client, auth):
    auth.login("teller")
    session_id = start_draft(client)
    html = client.get("/screening/").get_data(as_text=True)
    assert "张**" in html and "6222 **** **** 7890" in html and "3,000.00" in html
    assert "张三丰" not in html and "13912345678" not in html and "6222021234567890" not in html
    assert f'href="/screening/{session_id}/discard"' in html


def test_discarding_asks_for_a_reason_then_records_it(client, auth, database):
    auth.login("teller")
    session_id = start_draft(client)
    page = client.get(f"/screening/{session_id}/discard").get_data(as_text=True)
    assert "确认作废" in page and "张**" in page and "客户放弃办理或已离开" in page
    assert status_of(database, session_id) == "draft"  # the GET only asks

    refused = discard(client, session_id)
    assert refused.status_code == 400 and "请选择作废原因" in refused.get_data(as_text=True)
    refused = discard(client, session_id, reason="other")
    assert refused.status_code == 400 and "请写明原因" in refused.get_data(as_text=True)
    refused = discard(client, session_id, reason="duplicate", note="重复\x07")
    assert refused.status_code == 400 and "控制字符" in refused.get_data(as_text=True)
    refused = discard(client, session_id, reason="duplicate", note="长" * 201)
    assert refused.status_code == 400 and "说明过长（最多 200 字）" in refused.get_data(as_text=True)
    assert status_of(database, session_id) == "draft"

    response = discard(client, session_id, reason="other", note="客户改天再来，卡号 6222021234567890")
    assert response.status_code == 302 and response.headers["Location"].endswith("/screening/")
    assert status_of(database, session_id) == "discarded"
    events = list(database["ledger"].rows_where("session_id = ? AND kind = ?",
                                                [session_id, "screening.discarded"]))
    assert len(events) == 1
    data = json.loads(events[0]["data"])
    assert data["reason"] == "other" and "6222021234567890" not in data["note"]
    assert "客户改天再来" in data["note"]
    mine = client.get("/screening/").get_data(as_text=True)
    assert "已作废" in mine and f"/screening/{session_id}/questions" not in mine
    # The ledger still agrees with every row.
    assert integrity.check_sessions(database, ledger_key(client.application))[1] == []


def test_a_discarded_screening_cannot_be_continued(client, auth, database):
    auth.login("teller")
    session_id = start_draft(client)
    discard(client, session_id, reason="duplicate")
    for path in (f"/screening/{session_id}/questions", f"/screening/{session_id}/facts"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/screening/")
    posted = client.post(f"/screening/{session_id}/questions",
                         data={**BENIGN_ANSWERS, "csrf_token": csrf_token(client, "/screening/")})
    assert posted.status_code == 302
    assert "该问询已作废" in client.get("/screening/").get_data(as_text=True)
    assert status_of(database, session_id) == "discarded"
    again = discard(client, session_id, reason="duplicate")
    assert again.status_code == 302
    assert len(list(database["ledger"].rows_where(
        "session_id = ? AND kind = ?", [session_id, "screening.discarded"]))) == 1


def test_only_the_own_teller_discards_and_never_an_assessed_screening(app, client, auth,
                                                                      database):
    auth.login("teller")
    draft = start_draft(client)
    assessed = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)  # assessed (and not yet finished)
    assert status_of(database, assessed) == "assessed"
    response = discard(client, assessed, reason="duplicate")
    assert response.status_code == 302 and "/result" in response.headers["Location"]
    assert status_of(database, assessed) == "assessed"
    assert f"/screening/{assessed}/discard" not in client.get("/screening/").get_data(as_text=True)
    auth.logout()

    auth.login("teller2")
    assert client.get(f"/screening/{draft}/discard").status_code == 404
    assert discard(client, draft, reason="duplicate").status_code == 404
    auth.logout()
    auth.login("supervisor")
    assert discard(client, draft, reason="duplicate").status_code == 403
    assert status_of(database, draft) == "draft"


def test_verify_finds_a_row_marked_discarded_behind_the_apps_back(app, client, auth, database):
    auth.login("teller")
    kept, dropped = start_draft(client), start_draft(client)
    discard(client, dropped, reason="duplicate")
    key = ledger_key(app)
    assert integrity.check_sessions(database, key)[1] == []
    database.execute("UPDATE sessions SET status = 'discarded' WHERE id = ?", [kept])
    database.execute("UPDATE sessions SET status = 'draft' WHERE id = ?", [dropped])
    problems = integrity.check_sessions(database, key)[1]
    assert sorted((p.session_id, p.fields) for p in problems) == [
        (kept, ("status",)), (dropped, ("status",))]


def test_a_discarded_screening_counts_in_no_statistics(client, auth, database):
    auth.login("teller")
    kept, dropped = start_draft(client), start_draft(client)
    day = today()
    before = stats.compute(database, day, day)
    assert dict(before.levels).get("") == 2 and before.total == 2
    discard(client, dropped, reason="entry_error")
    assert status_of(database, kept) == "draft"
    for figures in (stats.compute(database, day, day),
                    stats.compute_from_sessions(database, day, day)):
        assert dict(figures.levels).get("") == 1, figures.levels  # 未评估: the kept one only
        assert figures.total == 1 and [count for _, count, _ in figures.tellers] == [1]
    html = client.get("/screening/").get_data(as_text=True)
    assert re.search(r"<dt>问询</dt><dd>1 笔</dd>", html)


def test_a_discarded_screening_feeds_no_customer_or_payee_signal(app, client, auth, database):
    auth.login("teller")
    session_id = start_draft(client)
    key = app.extensions["teller_guard"]["pii_key"]
    customer = pii.keyed_hash(key, f"{CUSTOMER['customer_name']}|{CUSTOMER['customer_phone']}")
    payee = pii.keyed_hash(key, BENIGN_FACTS["payee_account"])
    low, high = "2000-01-01", "2999-01-01"
    assert len(watchlist_store.sessions_of_customer(database, customer, low, high)) == 1
    assert len(watchlist_store.sessions_to_payee(database, payee, low, high)) == 1
    discard(client, session_id, reason="customer_left")
    assert watchlist_store.sessions_of_customer(database, customer, low, high) == []
    assert watchlist_store.sessions_to_payee(database, payee, low, high) == []


def test_review_shows_a_discarded_screening_as_such(client, auth):
    auth.login("teller")
    session_id = start_draft(client)
    discard(client, session_id, reason="test")
    auth.logout()
    auth.login("security")
    html = client.get(f"/review/{session_id}").get_data(as_text=True)
    assert "已作废" in html and "作废未完成的问询" in html and "操作练习或测试" in html


# --- the huge-amount confirmation ------------------------------------------------------------


def test_a_huge_amount_needs_the_tick_and_keeps_what_was_typed(client, auth, database):
    auth.login("teller")
    count = database.execute("SELECT count(*) FROM sessions").fetchone()[0]
    facts = {**FACTS, "amount": "2000万"}
    response = post_facts(client, facts)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "贰仟万元整" in html and "20,000,000.00" in html and 'id="amount_confirmed"' in html
    assert 'value="王小明"' in html and 'value="2000万"' in html
    assert database.execute("SELECT count(*) FROM sessions").fetchone()[0] == count
    confirmed = post_facts(client, {**facts, "amount_confirmed": "1"})
    assert confirmed.status_code == 302
    assert database.execute("SELECT amount_fen FROM sessions ORDER BY id DESC LIMIT 1"
                            ).fetchone()[0] == 2_000_000_000
    # Up to the line no tick is asked for.
    assert post_facts(client, {**facts, "amount": "1000万"}).status_code == 302


def test_the_api_names_the_confirmation_field(app, client):
    _, token = new_token(app)
    refused = post(client, token, body(BENIGN, facts__amount="1.5亿"))
    assert refused.status_code == 400, refused.get_json()
    answer = refused.get_json()["error"]
    assert "壹亿伍仟万元整" in answer["fields"]["facts.amount_confirmed"]
    assert answer["field_codes"] == {"facts.amount_confirmed": "confirmation_required"}
    facts_only = {"teller": "teller", "facts": {**BENIGN["facts"], "amount": "1.5亿",
                                                "amount_confirmed": True}}
    accepted = post(client, token, facts_only)
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["status"] == "draft"
    assert post(client, token, body(BENIGN, facts__amount_confirmed="yes")).status_code == 400
    # The largest amount taken at all has no capitals (printing/capitals.py stops below it).
    largest = post(client, token, body(BENIGN, facts__amount=1_000_000_000_000))
    assert largest.status_code == 400
    assert largest.get_json()["error"]["field_codes"] == {
        "facts.amount_confirmed": "confirmation_required"}


def test_the_api_cannot_continue_a_discarded_screening(app, client, auth):
    _, token = new_token(app)
    created = post(client, token, {"teller": "teller", "facts": BENIGN["facts"]})
    assert created.status_code == 201 and created.get_json()["status"] == "draft"
    session_id = created.get_json()["id"]
    auth.login("teller")
    assert discard(client, session_id, reason="duplicate").status_code == 302
    answers = {part: BENIGN[part] for part in ("answers", "three_checks")}
    refused = call(client, token, "put", f"/api/v1/screenings/{session_id}/answers", answers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["field_codes"] == {"$": "wrong_state"}
    shown = call(client, token, "get", f"/api/v1/screenings/{session_id}").get_json()
    assert shown["status"] == "discarded" and "questions" not in shown


# --- search and 今日 --------------------------------------------------------------------------


def test_search_own_screenings_by_reference_date_and_payee_tail(client, auth, database):
    auth.login("teller2")
    start_draft(client, {**FACTS, "payee_account": "6222029999991234"})  # another teller's
    auth.logout()
    auth.login("teller")
    first = start_draft(client, {**FACTS, "payee_account": "6222021111111234"})
    second = start_draft(client, {**FACTS, "payee_account": "6222022222225678"})
    reference = {row["id"]: row["reference"] for row in database["sessions"].rows_where(
        "id IN (?, ?)", [first, second])}

    def found(**args):
        response = client.get("/screening/search", query_string=args)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        html = response.get_data(as_text=True)
        assert "6222021111111234" not in html and "张三丰" not in html
        return set(listed(html))

    assert found() == set(reference.values())
    assert found(payee_tail="1234") == {reference[first]}
    assert found(reference=reference[second][-6:]) == {reference[second]}
    day = today().isoformat()
    assert found(date_from=day, date_to=day) == set(reference.values())
    assert found(date_to="2000-01-01") == set()

    for args, message in (({"payee_tail": "12a4"}, "后 4 位数字"),
                          ({"date_from": "2026-13-01"}, "日期格式"),
                          ({"date_from": "2026-12-02", "date_to": "2026-12-01"}, "不能早于"),
                          ({"reference": "TG%"}, "业务编号只能包含")):
        response = client.get("/screening/search", query_string=args)
        assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_search_pages_through_results(client, auth, monkeypatch):
    from teller_guard.screening import desk

    monkeypatch.setattr(desk, "PAGE_SIZE", 2)
    auth.login("teller")
    ids = [start_draft(client) for _ in range(3)]
    first = client.get("/screening/search").get_data(as_text=True)
    assert len(listed(first)) == 2
    next_link = re.search(r'href="(/screening/search\?[^"]*before=(\d+)[^"]*)"', first)
    assert next_link and int(next_link.group(2)) == ids[1]
    rest = client.get(next_link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(listed(rest)) == 1 and "下一页" not in rest


def test_today_summary_counts_high_risk_and_slips(app, client, auth, database):
    from screening_helpers import SAFE_ACCOUNT_ANSWERS, SAFE_ACCOUNT_FACTS

    auth.login("teller")
    screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    critical = screen(client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)
    assert client.get(f"/print/{critical}/slip").status_code == 200
    dropped = start_draft(client)
    discard(client, dropped, reason="duplicate")
    html = client.get("/screening/").get_data(as_text=True)
    assert re.search(r"<dt>问询</dt><dd>2 笔</dd>", html), html
    assert re.search(r"<dt>高/极高风险</dt><dd>1 笔</dd>", html)
    assert re.search(r"<dt>已打印提示单</dt><dd>1 张</dd>", html)
