"""待主管处理 (issue 15, item 10): the branch's 高/极高 screenings waiting for a supervisor's
confirmation or written override, newest first, masked, with the teller, the time waited and a
link to the case; the count in the supervisor's menu."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from api_helpers import CRITICAL, new_token, post
from printing_web_helpers import CUSTOMER_ID, keys_of, make_session, user_id
from screening_helpers import BENIGN_FACTS

from teller_guard import settings
from teller_guard.risk import default_rules
from teller_guard.screening import inputs, service
from teller_guard.supervision import waited_text

pytestmark = pytest.mark.both_backends

HIGH_FACTS = {**BENIGN_FACTS, "amount": "4万", "payee_account": "6222029911223344",
              "payee_known": "new"}
HIGH_ANSWERS = {
    "answers": {"purpose": "investment", "knows_payee": "in_person", "relationship": "friend"},
    "three_checks": {"paying_stranger": False, "possibly_scam": "unsure"},
    "observations": ["hurried"],
}


def high_session(app, database, teller: str = "teller") -> int:
    checked = inputs.parse_facts(HIGH_FACTS, date.today())
    keys, branch = keys_of(app), settings.load(database)
    teller_id = user_id(database, teller)
    session_id = service.start(database, keys, teller_id, checked.value, branch)
    assessment = service.assess(database, keys, session_id, branch, default_rules(), {},
                                teller_id, answers=HIGH_ANSWERS)
    assert assessment.level == "high"
    return session_id


def pending_page(client) -> str:
    response = client.get("/supervision/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def listed(html: str) -> list[str]:
    """The references in the table, in the order shown."""
    return re.findall(r"<td>(TG\d{8}-\d{6})</td>", html)


def reference(database, session_id: int) -> str:
    return database["sessions"].get(session_id)["reference"]


def test_only_cases_waiting_for_a_supervisor_are_listed_newest_first(app, client, auth,
                                                                     database):
    keys = keys_of(app)
    waiting_critical = make_session(app, database, "critical")
    waiting_high = high_session(app, database, teller="teller2")
    confirmed = high_session(app, database)
    service.supervise(database, keys, confirmed, user_id(database, "supervisor"), None)
    finished = make_session(app, database, "critical")
    service.record_outcome(database, keys, finished, "police_called", user_id(database, "teller"))
    make_session(app, database, "medium")
    make_session(app, database, "low")
    make_session(app, database, "critical", assessed=False)  # still answering: nothing to decide
    own = make_session(app, database, "critical", teller="supervisor")  # four eyes: not theirs
    # The older assessment comes later in the list.
    database.execute("UPDATE sessions SET updated_at = ? WHERE id = ?",
                     [(service.now_local() - timedelta(minutes=25)).isoformat(), waiting_critical])

    auth.login("supervisor")
    html = pending_page(client)
    assert listed(html) == [reference(database, waiting_high), reference(database, waiting_critical)]
    assert reference(database, own) not in html
    assert "共 2 笔" in html
    assert "待主管确认" in html and "待主管书面放行或报警" in html
    assert "teller2名（TELLER2）" in html and "teller名（TELLER）" in html
    assert "25 分钟" in html
    for session_id in (waiting_high, waiting_critical):
        assert f'href="/screening/{session_id}/result"' in html
    # The first case's link has the focus: Enter opens it.
    assert re.search(r'href="/screening/\d+/result" autofocus', html)


def test_personal_data_is_masked_on_the_list(app, client, auth, database):
    make_session(app, database, "critical")
    auth.login("supervisor")
    html = pending_page(client)
    assert "6217001234567890123" not in html and CUSTOMER_ID not in html
    assert "王秀英" not in html and "13912345678" not in html
    assert "6217 **** **** 0123" in html
    assert "王**" in html


def test_the_menu_counts_what_waits_and_the_count_follows_each_decision(app, client, auth,
                                                                        database):
    keys = keys_of(app)
    first = high_session(app, database)
    high_session(app, database, teller="teller2")
    auth.login("supervisor")
    html = client.get("/screening/").get_data(as_text=True)
    assert re.search(r'id="nav-pending"[^>]*>待主管处理 <span class="badge">2<', html)
    service.supervise(database, keys, first, user_id(database, "supervisor"), None)
    html = client.get("/screening/").get_data(as_text=True)
    assert re.search(r'待主管处理 <span class="badge">1<', html)
    # A new statement re-scores the case: a new assessment needs a new decision.
    service.assess(database, keys, first, settings.load(database), default_rules(), {},
                   user_id(database, "teller"), answers=HIGH_ANSWERS)
    assert re.search(r'待主管处理 <span class="badge">2<',
                     client.get("/screening/").get_data(as_text=True))


def test_nothing_waiting_shows_no_badge_and_says_so(app, client, auth, database):
    auth.login("supervisor")
    html = pending_page(client)
    assert 'class="badge"' not in html
    assert "目前没有等待主管处理的问询" in html


@pytest.mark.parametrize("role, home", [("teller", "/screening/"), ("security", "/review/"),
                                        ("admin", "/admin/")])
def test_other_roles_have_no_pending_menu(app, client, auth, database, role, home):
    high_session(app, database)
    auth.login(role)
    assert "待主管处理" not in client.get(home).get_data(as_text=True)
    assert client.get("/supervision/").status_code == 403


def test_the_link_tells_the_supervisor_where_to_act(app, client, auth, database):
    session_id = make_session(app, database, "critical")
    auth.login("supervisor")
    html = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert 'id="where-to-act"' in html
    assert "请到柜员 teller名（工号 TELLER） 的终端" in html
    assert "主管书面放行" in html


def test_a_screening_filed_through_the_api_names_its_system(app, client, auth, database):
    token = new_token(app, name="核心系统柜面前端")[1]
    response = post(client, token, CRITICAL)
    assert response.status_code == 201 and response.get_json()["level"] == "critical"
    session_id = response.get_json()["id"]
    auth.login("supervisor")
    html = pending_page(client)
    assert "经“核心系统柜面前端”提交，在该系统中授权" in html
    result = client.get(f"/screening/{session_id}/result").get_data(as_text=True)
    assert "请在该系统中完成主管授权" in result


def test_waited_text():
    now = datetime(2026, 11, 30, 14, 0, tzinfo=datetime.now().astimezone().tzinfo)
    ago = lambda **delta: (now - timedelta(**delta)).isoformat()  # noqa: E731
    assert waited_text(ago(seconds=30), now) == "不到 1 分钟"
    assert waited_text(ago(minutes=7), now) == "7 分钟"
    assert waited_text(ago(hours=2), now) == "2 小时"
    assert waited_text(ago(hours=2, minutes=5), now) == "2 小时 5 分钟"
    assert waited_text(ago(days=3, hours=1), now) == "3 天 1 小时"
    assert waited_text("", now) == "" and waited_text(None, now) == ""
