"""Issue 15 item 11: close a case in one step with a note and go on to 下一条, search the
queue by what the masked columns show (terms never in a URL), overrides marked, errors next
to their field with the focus on it, and a record that names every answer once."""

import json
import re
from urllib.parse import unquote

import pytest
from conftest import csrf_token
from test_review_support import ledger_key, make_session, user_id

from teller_guard import audit, labels
from teller_guard.review import filters, integrity
from teller_guard.storage import review
from teller_guard.users import get_user

pytestmark = pytest.mark.both_backends


def post(client, path, data, page="/review/"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def review_events(database, session_id):
    return [(kind, json.loads(data)) for kind, data in database.execute(
        "SELECT kind, data FROM ledger WHERE session_id = ? AND kind LIKE 'review.%' ORDER BY id",
        [session_id])]


def status_of(database, session_id):
    return database.execute("SELECT review_status FROM sessions WHERE id = ?",
                            [session_id]).fetchone()[0]


def references(html):
    return re.findall(r">(TG\d{8}-\d{6})</a>", html)


def reference_of(database, session_id):
    return database.execute("SELECT reference FROM sessions WHERE id = ?", [session_id]).fetchone()[0]


@pytest.fixture
def cases(app, database):
    """Oldest first: a high, a critical, a high (so level=high skips the critical one)."""
    return [make_session(app, database, level=level, outcome="cancelled",
                         started_at=f"2026-11-{day:02d}T10:00:00+08:00")
            for level, day in (("high", 3), ("critical", 4), ("high", 5))]


def test_close_in_one_step_from_pending_then_the_next_case(app, client, auth, database, cases):
    auth.login("security")
    older_high, critical, newest_high = cases
    page = f"/review/{newest_high}?level=high"
    response = post(client, f"/review/{newest_high}/close",
                    {"to": "dissuaded", "note": "客户已回家，其子女确认", "then": "next",
                     "expected": "pending", "level": "high"}, page)
    assert response.status_code == 303
    # 下一条 under the same filter: the older 高风险 case, not the 极高风险 one
    assert response.headers["Location"] == f"/review/{older_high}?level=high"
    security = user_id(database, "security")
    assert review_events(database, newest_high) == [
        ("review.transition", {"from": "pending", "to": "in_review", "note": ""}),
        ("review.assigned", {"assignee_id": security}),
        ("review.transition", {"from": "in_review", "to": "dissuaded", "note": "客户已回家，其子女确认"}),
    ]
    assert status_of(database, newest_high) == "dissuaded"
    assert status_of(database, critical) == "pending"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"业务 {reference_of(database, newest_high)} 已结案：成功劝阻" in html
    rows, problems = integrity.check_sessions(database, ledger_key(app))
    assert problems == []
    assert audit.verify_chain(database, ledger_key(app))[1] == []


def test_closing_the_last_open_case_of_the_filter_returns_to_the_queue(client, auth, database,
                                                                      cases):
    auth.login("security")
    for case in (cases[2], cases[0]):
        response = post(client, f"/review/{case}/close",
                        {"to": "false_alarm", "note": "核实为本人购房", "then": "next", "level": "high"},
                        f"/review/{case}")
    assert response.headers["Location"] == "/review/?level=high"
    assert "当前筛选条件下没有其他待处理的案件" in client.get("/review/?level=high").get_data(as_text=True)


def test_close_stays_on_the_case_and_in_review_cases_close_directly(client, auth, database, cases):
    auth.login("security")
    case = cases[1]
    post(client, f"/review/{case}/transition", {"to": "in_review"}, f"/review/{case}")
    response = post(client, f"/review/{case}/close",
                    {"to": "police_handled", "note": "报警回执 2026-1130", "then": "stay"},
                    f"/review/{case}")
    assert response.headers["Location"] == f"/review/{case}"
    assert [event["to"] for kind, event in review_events(database, case)
            if kind == "review.transition"] == ["in_review", "police_handled"]


@pytest.mark.parametrize(("data", "focused", "message"), [
    ({"to": "dissuaded", "note": "  "}, "close-note", "结案必须填写复核备注"),
    ({"note": "有备注没选结论"}, "close-confirmed_fraud", "请选择复核结论"),
    ({"to": "in_review", "note": "不是结论"}, "close-confirmed_fraud", "复核结论无效"),
])
def test_a_refused_close_names_the_field_and_focuses_it(client, auth, database, cases, data,
                                                       focused, message):
    auth.login("security")
    case = cases[0]
    response = post(client, f"/review/{case}/close", {**data, "then": "next"}, f"/review/{case}")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    field = re.search(rf'<[a-z]+ [^>]*id="{focused}"[^>]*>', html).group(0)
    assert "autofocus" in field and 'aria-invalid="true"' in field
    error_id = re.search(r'aria-describedby="([^"]+)"', field).group(1)
    assert re.search(rf'id="{error_id}"[^>]*>[^<]*{message}', html)
    assert html.count("autofocus") == 1
    assert 'class="error banner"' not in html  # next to its field, not at the top
    assert status_of(database, case) == "pending" and review_events(database, case) == []
    if data.get("note", "").strip():
        assert data["note"] in html  # what was typed is kept


def test_closing_a_closed_case_is_refused_on_a_banner(client, auth, database, cases):
    auth.login("security")
    case = cases[0]
    post(client, f"/review/{case}/close", {"to": "dissuaded", "note": "已劝阻"}, f"/review/{case}")
    response = post(client, f"/review/{case}/close", {"to": "false_alarm", "note": "再关一次"},
                    f"/review/{case}")
    assert response.status_code == 409
    assert "不能再结案" in response.get_data(as_text=True)
    assert status_of(database, case) == "dissuaded"


def test_supervisors_may_not_close(client, auth, database, cases):
    auth.login("supervisor")
    response = post(client, f"/review/{cases[0]}/close", {"to": "dissuaded", "note": "x"},
                    f"/review/{cases[0]}")
    assert response.status_code == 403
    assert status_of(database, cases[0]) == "pending"
    assert 'id="close-form"' not in client.get(f"/review/{cases[0]}").get_data(as_text=True)


def test_next_open_skips_closed_cases_and_wraps_to_the_newest(app, database, cases):
    user = get_user(database, user_id(database, "security"))
    older_high, critical, newest_high = cases
    database.execute("UPDATE sessions SET review_status = 'false_alarm' WHERE id = ?", [critical])
    everything = filters.Filters()
    assert review.next_open(database, user, everything, newest_high)["id"] == older_high
    assert review.next_open(database, user, everything, older_high)["id"] == newest_high  # wraps
    closed_filter = filters.Filters(status="false_alarm")  # next is still an open one
    assert review.next_open(database, user, closed_filter, newest_high)["id"] == older_high
    database.execute("UPDATE sessions SET review_status = 'dissuaded' WHERE id = ?", [older_high])
    assert review.next_open(database, user, everything, newest_high) is None


@pytest.fixture
def people(app, database):
    def form(name, id_number):
        return {"facts": {"amount": "50000.00", "payee_account": "6222 **** **** 0000",
                          "customer_name": name, "customer_id_number": id_number}}
    return {
        "wang": make_session(app, database, level="high", payee_masked="6217 **** **** 4821",
                             customer_masked="王**", form=form("王**", "110***********123X")),
        "zhang": make_session(app, database, level="critical", payee_masked="6222 **** **** 1234",
                              customer_masked="张*", form=form("张*", "320***********5678")),
        "ouyang": make_session(app, database, level="critical", payee_masked="6228 **** **** 4821",
                               customer_masked="欧***", form=form("欧***", "440********9012")),
        "id_only": make_session(app, database, level="high", payee_masked="6230 **** **** 7777",
                                customer_masked="320***********5678", form=form("", "320***********5678")),
    }


@pytest.mark.parametrize(("terms", "expected"), [
    ({"account_tail": "4821"}, {"wang", "ouyang"}),
    ({"surname": "王"}, {"wang"}),
    ({"surname": "欧"}, {"ouyang"}),
    ({"id_tail": "5678"}, {"zhang", "id_only"}),
    ({"id_tail": "123x"}, {"wang"}),  # lower-case x, as typed
    ({"id_tail": "9012"}, {"ouyang"}),  # a 15-character ID number
    ({"surname": "张", "id_tail": "5678"}, {"zhang"}),
    ({"account_tail": "４８２１", "surname": "王"}, {"wang"}),  # full-width digits
])
def test_search_by_masked_tails_keeps_the_terms_out_of_urls(client, auth, database, people,
                                                           terms, expected):
    auth.login("supervisor")  # searching is reading: supervisors may
    response = post(client, "/review/search", {**terms, "level": ""})
    assert response.status_code == 303
    location = unquote(response.headers["Location"])
    assert location == "/review/?search=1"
    html = client.get(location).get_data(as_text=True)
    assert set(references(html)) == {reference_of(database, people[name]) for name in expected}
    assert "正在查找" in html
    for value in terms.values():  # no link on the page carries a term
        assert all(value not in unquote(href) for href in re.findall(r'href="([^"]*)"', html))
    # without search=1 the stored terms do not apply
    assert len(references(client.get("/review/").get_data(as_text=True))) == 4


def test_search_keeps_the_other_filters_and_clears(client, auth, database, people):
    auth.login("security")
    response = post(client, "/review/search", {"account_tail": "4821", "level": "critical"})
    assert unquote(response.headers["Location"]) == "/review/?level=critical&search=1"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert references(html) == [reference_of(database, people["ouyang"])]
    detail_link = re.search(r'href="(/review/\d+\?[^"]+)"', html).group(1)
    assert "search=1" in detail_link  # 下一条 follows the search too
    response = post(client, "/review/search/clear", {"level": "critical"})
    assert response.headers["Location"] == "/review/?level=critical"
    html = client.get("/review/?level=critical&search=1").get_data(as_text=True)
    assert len(references(html)) == 2 and "正在查找" not in html


@pytest.mark.parametrize(("terms", "field", "message"), [
    ({"account_tail": "48"}, "account_tail", "4 位数字"),
    ({"surname": "Wang"}, "surname", "1 至 2 个汉字"),
    ({"id_tail": "12%4"}, "id_tail", "最后一位可以是 X"),
    ({}, "account_tail", "请至少填写一项"),
])
def test_bad_search_terms_are_named_at_their_field_with_the_focus(client, auth, people, terms,
                                                                 field, message):
    auth.login("security")
    response = post(client, "/review/search", terms)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    tag = re.search(rf'<input [^>]*id="{field}"[^>]*>', html).group(0)
    assert "autofocus" in tag and 'aria-invalid="true"' in tag
    assert re.search(rf'id="{field}-error">[^<]*{message}', html)


def test_tellers_cannot_search(client, auth):
    auth.login("teller")
    assert post(client, "/review/search", {"account_tail": "1234"}, "/screening/").status_code == 403


def test_overrides_are_marked_in_the_list_and_the_record(app, client, auth, database):
    override = make_session(app, database, level="critical", override=True, outcome="proceeded")
    make_session(app, database, level="critical", outcome="cancelled")
    auth.login("security")
    html = client.get("/review/").get_data(as_text=True)
    mark = f'<span class="override-mark">{labels.SUPERVISOR_DECISIONS["override"]}</span>'
    assert html.count(mark) == 1
    row = html.split(reference_of(database, override), 1)[1].split("</tr>", 1)[0]
    assert mark in row
    assert mark in client.get(f"/review/{override}").get_data(as_text=True)


def test_the_record_names_each_answer_once_and_shows_no_stored_keys(app, client, auth, database):
    form = {"facts": {"amount": "200000.00"}, "answers": {
        "answers": {"purpose": "safe_account", "purpose_text": "警官说要转到安全账户",
                    "knows_payee": "phone_only", "relationship": "stranger",
                    "verified_by_phone": False, "legacy_field": "旧版本的回答"},
        "three_checks": {"paying_stranger": True, "family_consulted": False}}}
    case = make_session(app, database, level="critical", form=form)
    auth.login("security")
    html = client.get(f"/review/{case}").get_data(as_text=True)
    answers = html.split('<dl class="facts answers">', 1)[1].split("</dl>", 1)[0]
    names = re.findall(r"<dt>([^<]*)</dt>", answers)
    assert names == ["转账目的", "客户原话", "是否认识收款人", "收款人与客户的关系",
                     "是否已用原号码电话或视频核实收款人", labels.OTHER_ANSWER, "是否给陌生人汇款",
                     "年龄较大的客户是否和家人商量"]
    assert len(set(names)) == len(names)
    assert all(labels.is_chinese_label(name) for name in names)
    assert "purpose_text" not in html and "legacy_field" not in html
    assert "<dd>警官说要转到安全账户</dd>" in answers


def test_the_queue_csv_follows_the_search(client, auth, database, people):
    auth.login("security")
    post(client, "/review/search", {"surname": "欧"})
    response = post(client, "/review/export/queue", {"search": "1"})
    body = response.get_data().decode("utf-8-sig")
    assert reference_of(database, people["ouyang"]) in body
    assert reference_of(database, people["wang"]) not in body
    exported = json.loads(database.execute(
        "SELECT data FROM ledger WHERE kind = 'export.queue' ORDER BY id DESC").fetchone()[0])
    assert exported == {"full": False, "filters": {"search": "1"}, "rows": 1}  # no term logged
    html = client.get("/review/access-log").get_data(as_text=True)
    assert "按账号尾号、客户姓氏或身份证号尾号查找 是" in html and "search" not in html.split("<main", 1)[1]


# Every POST route of the review area: who may use it (the rest get 403, anonymous the login).
REVIEW_POSTS = {
    "review.search": ({"supervisor", "security", "admin"}, {"account_tail": "1234"}),
    "review.clear_search": ({"supervisor", "security", "admin"}, {}),
    "review.close": ({"security", "admin"}, {"to": "dissuaded", "note": "已劝阻"}),
    "review.transition": ({"security", "admin"}, {"to": "in_review"}),
    "review.assign": ({"security", "admin"}, {}),
    "review.add_note": ({"security", "admin"}, {"note": "备注"}),
    "review.export_queue": ({"security", "admin"}, {}),
    "review.export_statistics": ({"supervisor", "security", "admin"}, {}),
    "review.propose_watchlist": ({"security", "admin"}, {"note": "请列入名单"}),
    "review.escalate": ({"supervisor", "security"}, {"reason": "多个网点出现同一收款账户"}),
}


@pytest.mark.parametrize("role", ["teller", "supervisor", "security", "admin", None])
def test_every_review_post_route_by_role(app, client, auth, database, role):
    from flask import url_for

    posts = {rule.endpoint: rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("review.") and "POST" in rule.methods}
    assert set(posts) <= set(REVIEW_POSTS), f"add {set(posts) - set(REVIEW_POSTS)} here"
    if role:
        auth.login(role)
    token = csrf_token(client, "/login" if role in (None, "teller") else "/review/")
    for endpoint in posts:
        allowed, form = REVIEW_POSTS[endpoint]
        if endpoint == "review.assign":
            form = {"assignee_id": str(user_id(database, "admin"))}
        case = make_session(app, database, level="critical")
        if endpoint == "review.propose_watchlist":  # only a case confirmed as fraud
            database.execute("UPDATE sessions SET review_status = 'confirmed_fraud' WHERE id = ?",
                             [case])
        with app.test_request_context():
            path = url_for(endpoint, **({"session_id": case} if "session_id" in
                                        posts[endpoint].arguments else {}))
        status = client.post(path, data={**form, "csrf_token": token}).status_code
        where = f"{role} POST {path}: {status}"
        if role is None:
            assert status == 302, where
        elif role in allowed:
            assert status in (200, 303), where
        else:
            assert status == 403, where


def test_a_refused_search_keeps_the_other_filters(client, auth, database, people):
    auth.login("security")
    response = post(client, "/review/search", {"account_tail": "12", "level": "critical"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert set(references(html)) == {reference_of(database, people[name])
                                     for name in ("zhang", "ouyang")}
    assert 'value="12"' in html  # what was typed is kept for correcting
