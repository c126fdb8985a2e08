"""The queue (待复核): who sees what, filters, keyset pages, counts, and accessible markup."""

import re
from datetime import date

import pytest
from test_review_support import make_session, user_id

from teller_guard.review import filters
from teller_guard.storage import review
from teller_guard.users import get_user

pytestmark = pytest.mark.both_backends


def references(html):
    return re.findall(r">(TG\d{8}-\d{6})</a>", html)


@pytest.fixture
def sessions(app, database):
    made = {
        "critical": make_session(app, database, level="critical", outcome="police_called",
                                 started_at="2026-10-05T09:00:00+08:00"),
        "high": make_session(app, database, "teller2", level="high", outcome="cancelled",
                             typology="fake_loan", started_at="2026-11-02T10:00:00+08:00"),
        "override": make_session(app, database, level="critical", override=True,
                                 outcome="proceeded", started_at="2026-11-20T11:00:00+08:00"),
        "low": make_session(app, database, level="low", outcome="proceeded",
                            started_at="2026-11-21T11:00:00+08:00"),
        "medium_police": make_session(app, database, "teller2", level="medium",
                                      outcome="police_called", typology="task_rebate",
                                      started_at="2026-11-22T12:00:00+08:00"),
    }
    return {name: database.execute("SELECT reference FROM sessions WHERE id = ?", [sid]).fetchone()[0]
            for name, sid in made.items()}


@pytest.mark.parametrize("role", ["supervisor", "security", "admin"])
def test_review_roles_see_every_queued_session_newest_first(client, auth, sessions, role):
    auth.login(role)
    html = client.get("/review/").get_data(as_text=True)
    assert references(html) == [sessions[name] for name in
                                ("medium_police", "override", "high", "critical")]
    assert sessions["low"] not in html


def test_tellers_have_no_review_area(client, auth, sessions):
    auth.login("teller")
    for path in ("/review/", "/review/1", "/review/statistics"):
        assert client.get(path).status_code == 403


def test_visibility_scopes_tellers_to_their_own(app, database, sessions):
    teller = get_user(database, user_id(database, "teller"))
    page = review.queue_page(database, teller, filters.Filters())
    assert {row["teller_id"] for row in page.rows} == {teller.id}
    other = database.execute("SELECT id FROM sessions WHERE teller_id != ?", [teller.id]).fetchone()[0]
    assert review.case(database, teller, other) is None
    assert review.visibility(None) == ("1 = 0", [])  # a boolean on PostgreSQL too


@pytest.mark.parametrize(("query", "expected"), [
    ("level=high", ["high"]),
    ("typology=fake_loan", ["high"]),
    ("outcome=police_called", ["medium_police", "critical"]),
    ("status=pending", ["medium_police", "override", "high", "critical"]),
    ("status=false_alarm", []),
    ("date_from=2026-11-01&date_to=2026-11-20", ["override", "high"]),
    ("date_to=2026-10-31", ["critical"]),
])
def test_filters(client, auth, sessions, query, expected):
    auth.login("security")
    html = client.get(f"/review/?{query}").get_data(as_text=True)
    assert references(html) == [sessions[name] for name in expected]


def test_teller_and_reference_filters(client, auth, database, sessions):
    auth.login("security")
    teller2 = user_id(database, "teller2")
    html = client.get(f"/review/?teller={teller2}").get_data(as_text=True)
    assert references(html) == [sessions["medium_police"], sessions["high"]]
    exact = sessions["override"].lower()  # typed in lower case
    assert references(client.get(f"/review/?reference={exact}").get_data(as_text=True)) == [
        sessions["override"]]
    prefix = client.get("/review/?reference=TG202611").get_data(as_text=True)
    assert references(prefix) == [sessions[n] for n in ("medium_police", "override", "high")]
    # counted from the queued cases' references (0018), as the list shows them
    assert re.search(r'全部 <span class="count">3</span>', prefix)


@pytest.mark.parametrize(("query", "message"), [
    ("date_from=2026-13-45", "开始日期“2026-13-45”格式不正确"),
    ("date_to=yesterday", "结束日期“yesterday”格式不正确"),
    ("date_from=2026-11-30&date_to=2026-11-01", "开始日期晚于结束日期"),
    ("level=extreme", "风险等级“extreme”无法识别"),
    ("teller=abc", "柜员条件无法识别"),
    ("teller=99999", "柜员条件无法识别"),
    ("status=%00", "复核状态"),
    ("reference=%27%3B+DROP+TABLE", "业务编号只能包含"),
    ("after=-1&typology=<script>", "诈骗类型"),
])
def test_bad_filters_are_ignored_with_a_chinese_message(client, auth, sessions, query, message):
    auth.login("security")
    response = client.get(f"/review/?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert len(references(html)) == 4  # the bad condition is ignored, not applied
    assert "<script>" not in html


def test_keyset_pages(app, client, auth, database):
    made = [make_session(app, database, level="high", started_at=f"2026-09-01T08:{n:02d}:00+08:00")
            for n in range(review.PAGE_SIZE + 5)]
    auth.login("security")
    first = client.get("/review/").get_data(as_text=True)
    assert len(references(first)) == review.PAGE_SIZE and "下一页" in first
    cursor = re.search(r'href="/review/\?after=(\d+)"[^>]*>下一页', first) or re.search(
        r'rel="next" href="/review/\?after=(\d+)"', first)
    assert cursor and int(cursor.group(1)) == made[5]
    second = client.get(f"/review/?after={cursor.group(1)}").get_data(as_text=True)
    assert len(references(second)) == 5 and "下一页" not in second and "回到第一页" in second
    assert set(references(first)).isdisjoint(references(second))


def test_next_page_keeps_the_filters(app, client, auth, database):
    for n in range(review.PAGE_SIZE + 1):
        make_session(app, database, level="critical", started_at=f"2026-09-02T08:{n:02d}:00+08:00")
    make_session(app, database, level="high", started_at="2026-09-02T09:00:00+08:00")
    auth.login("security")
    html = client.get("/review/?level=critical").get_data(as_text=True)
    link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "level=critical" in link and "after=" in link
    rest = client.get(link).get_data(as_text=True)
    assert len(references(rest)) == 1


def test_counts_per_status_follow_the_other_filters(app, client, auth, database, sessions):
    from test_review_support import ledger_key

    from teller_guard.review import dispositions

    security = get_user(database, user_id(database, "security"))
    first = database.execute("SELECT id FROM sessions WHERE reference = ?",
                             [sessions["critical"]]).fetchone()[0]
    dispositions.change_status(database, ledger_key(app), security, first, "in_review")
    counts = review.status_counts(database, security, filters.Filters())
    assert counts["pending"] == 3 and counts["in_review"] == 1 and counts["false_alarm"] == 0
    only_police = review.status_counts(database, security,
                                        filters.Filters(outcome="police_called", status="pending"))
    assert only_police["pending"] == 1 and only_police["in_review"] == 1
    auth.login("security")
    html = client.get("/review/").get_data(as_text=True)
    assert re.search(r"全部 <span class=\"count\">4</span>", html)
    assert re.search(r"复核中 <span class=\"count\">1</span>", html)


def test_queue_shows_masks_never_full_personal_data(app, client, auth, database):
    make_session(app, database, level="critical", payee_masked="6222 **** **** 4321",
                 vault={"payee_account": "6222021234564321", "customer_id_number": "110101199001011234"})
    auth.login("security")
    html = client.get("/review/").get_data(as_text=True)
    assert "6222 **** **** 4321" in html
    assert "6222021234564321" not in html and "110101199001011234" not in html


def test_filter_form_is_accessible(client, auth, sessions):
    auth.login("supervisor")
    html = client.get("/review/").get_data(as_text=True)
    controls = re.findall(r'<(?:input|select|textarea)\b[^>]*>', html)
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    for control in controls:
        if 'type="hidden"' in control:
            continue
        control_id = re.search(r'id="([^"]+)"', control)
        assert control_id and control_id.group(1) in labelled, f"no label for {control}"
    for header in re.findall(r"<th\b[^>]*>", html):
        assert 'scope="' in header, header
    assert "导出" not in html  # supervisors read only


def test_pages_keep_to_the_content_security_policy(app, client, auth, database, sessions):
    auth.login("admin")
    case = database.execute("SELECT min(id) FROM sessions WHERE in_queue = 1").fetchone()[0]
    for path in ("/review/", f"/review/{case}", "/review/statistics?date_from=2026-10-01&date_to=2026-11-30"):
        html = client.get(path).get_data(as_text=True)
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), path


def test_filters_round_trip():
    chosen, errors = filters.parse({"date_from": "2026-11-01", "level": "high", "teller": "3",
                                    "status": "in_review", "reference": " tg2026 "},
                                   teller_ids={3}, typologies={})
    assert errors == []
    assert chosen == filters.Filters(date_from=date(2026, 11, 1), level="high", teller_id=3,
                                     status="in_review", reference="TG2026")
    assert filters.parse(chosen.query_args(), teller_ids={3}, typologies={})[0] == chosen


@pytest.mark.parametrize("chosen", [
    filters.Filters(),
    filters.Filters(date_from=date(2026, 11, 1)),
    filters.Filters(date_from=date(2026, 11, 1), date_to=date(2026, 11, 20), typology="fake_loan"),
    filters.Filters(date_to=date(2026, 10, 31), status="pending"),
    filters.Filters(level="critical", date_from=date(2026, 10, 1)),
])
def test_both_ways_of_counting_agree_with_a_recount(app, database, sessions, chosen):
    security = get_user(database, user_id(database, "security"))
    database.execute("UPDATE sessions SET review_status = 'in_review' WHERE typology = 'fake_loan'")
    low, high = filters.day_bounds(chosen.date_from, chosen.date_to)
    expected = dict.fromkeys(("pending", "in_review"), 0)
    for row in database.execute(
            "SELECT COALESCE(review_status, 'pending'), started_at, typology, level FROM sessions "
            "WHERE in_queue = 1"):
        if ((low and row[1] < low) or (high and row[1] >= high)
                or (chosen.typology and row[2] != chosen.typology)
                or (chosen.level and row[3] != chosen.level)):
            continue
        expected[row[0]] += 1
    counts = review.status_counts(database, security, chosen)
    assert {status: counts[status] for status in expected} == expected
    assert sum(counts.values()) == sum(expected.values())


def test_the_queue_marks_the_cases_escalated_to_head_office(client, auth, database, sessions):
    database.execute("UPDATE sessions SET escalated_at = '2026-11-02T10:05:00+08:00', "
                     "escalated_why = 'branch' WHERE reference = ?", [sessions["high"]])
    auth.login("security")
    html = client.get("/review/").get_data(as_text=True)
    marked = re.findall(r">(TG\d{8}-\d{6})</a> <span class=\"escalated-mark\">已上报总行</span>",
                        html)
    assert marked == [sessions["high"]]
