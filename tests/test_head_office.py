"""Head office (issue 16, item 3): escalation to head office (a branch's 上报总行, every 极高
assessment, every printed police alert), head office's queue of escalated cases across
branches with its filters, dispositions by head office, and bank-wide statistics whose daily
tables equal a recount of the sessions at every level of the drill-down."""

from __future__ import annotations

import json
import random
import statistics as pystats
from datetime import date

import pytest
from conftest import csrf_token
from printing_web_helpers import make_session as screened
from test_review_support import make_session

from teller_guard import settings, users
from teller_guard.head_office import stats
from teller_guard.storage import branch_stats, head_office

pytestmark = pytest.mark.both_backends

HO_PASSWORD = "Head-office-pass-1"


def key_of(app) -> bytes:
    return app.extensions["teller_guard"]["ledger_key"]


def row_of(database, session_id: int) -> dict:
    return next(database["sessions"].rows_where("id = ?", [session_id]))


def ledger_events(database, session_id: int, kind: str) -> list[dict]:
    return [{"actor_id": actor, **json.loads(data)} for actor, data in database.execute(
        "SELECT actor_id, data FROM ledger WHERE session_id = ? AND kind = ? ORDER BY id",
        [session_id, kind]).fetchall()]


@pytest.fixture
def bank(app, database):
    """Branch 1 (河北省邢台市, the fixtures' users), branch 2 (广东省深圳市) and branch 3
    (广东省广州市), a teller in each new branch, and a head-office security account."""
    key = key_of(app)
    second = settings.create_branch(database, key, "0002", settings.BranchSettings(
        branch_name="深圳南山支行", province="广东省", city="深圳市"))
    third = settings.create_branch(database, key, "0003", settings.BranchSettings(
        branch_name="广州天河支行", province="广东省", city="广州市"))
    tellers = {}
    for branch_id, username in ((second, "t_sz"), (third, "t_gz")):
        tellers[username] = users.create_user(
            database, key, username, "Teller-pass-99", "teller", f"{username}名",
            username.upper(), must_change=False, branch_id=branch_id)
    ho = users.create_user(database, key, "ho", HO_PASSWORD, "ho_security", "总行反诈员",
                           must_change=False)
    return {"branches": (1, second, third), "tellers": tellers, "ho": ho}


def in_branch(app, database, teller="teller", **kwargs) -> int:
    """test_review_support's session, in its teller's branch (as sessions.start sets it)."""
    session_id = make_session(app, database, teller, **kwargs)
    database.execute("UPDATE sessions SET branch_id = (SELECT branch_id FROM users "
                     "WHERE users.id = sessions.teller_id) WHERE id = ?", [session_id])
    return session_id


def post(client, page: str, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


# --- escalation ---------------------------------------------------------------------------------


def test_a_critical_assessment_escalates_by_itself_and_a_medium_one_does_not(app, database):
    critical = screened(app, database, "critical")
    medium = screened(app, database, "medium")
    row = row_of(database, critical)
    assert row["escalated_why"] == "critical"
    assert row["escalated_at"] == row["updated_at"]  # set in the assessment's own UPDATE
    assert row_of(database, medium)["escalated_at"] is None


def test_a_printed_police_alert_escalates_and_the_branch_page_says_so(
        app, client, auth, database):
    high = make_session(app, database, level="high", outcome=None)
    assert row_of(database, high)["escalated_at"] is None
    auth.login("supervisor")
    response = post(client, f"/print/{high}/alert", f"/print/{high}/alert.pdf", {})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    row = row_of(database, high)
    assert row["escalated_why"] == "police_alert" and row["escalated_at"]
    html = client.get(f"/review/{high}").get_data(as_text=True)
    assert "已上报总行" in html and "已打印警情通报单" in html
    assert 'id="escalate-form"' not in html


def test_branch_security_escalates_a_case_with_a_reason(app, client, auth, database):
    high = make_session(app, database, level="high")
    auth.login("security")
    page = client.get(f"/review/{high}").get_data(as_text=True)
    assert 'id="escalate-form"' in page and "已上报总行" not in page
    refused = post(client, f"/review/{high}", f"/review/{high}/escalate", {"reason": "  "})
    assert refused.status_code == 409 and "请填写上报总行的理由" in refused.get_data(as_text=True)
    assert row_of(database, high)["escalated_at"] is None
    no_token = client.post(f"/review/{high}/escalate", data={"reason": "跨行团伙"})
    assert no_token.status_code == 400
    done = post(client, f"/review/{high}", f"/review/{high}/escalate",
                {"reason": "疑似跨网点同一团伙，客户电话 13912345678"})
    assert done.status_code == 303
    row = row_of(database, high)
    assert row["escalated_why"] == "manual" and row["escalated_at"]
    [event] = ledger_events(database, high, "screening.escalated")
    assert event["why"] == "manual" and "13912345678" not in event["reason"]
    assert event["reason"].startswith("疑似跨网点同一团伙")
    html = client.get(f"/review/{high}").get_data(as_text=True)
    assert "已上报总行" in html and "网点上报" in html and "上报总行" in html
    again = post(client, f"/review/{high}", f"/review/{high}/escalate", {"reason": "再报一次"})
    assert again.status_code == 409 and "该案件已上报总行" in again.get_data(as_text=True)
    assert len(ledger_events(database, high, "screening.escalated")) == 1


def test_tellers_and_admins_may_not_escalate(app, client, auth, database):
    high = make_session(app, database, level="high")
    auth.login("admin")
    assert post(client, f"/review/{high}", f"/review/{high}/escalate",
                {"reason": "x"}).status_code == 403
    auth.logout()
    auth.login("teller")
    token = csrf_token(client, "/screening/")
    assert client.post(f"/review/{high}/escalate",
                       data={"reason": "x", "csrf_token": token}).status_code == 403
    assert row_of(database, high)["escalated_at"] is None


# --- who opens head office's pages -----------------------------------------------------------------


def test_branch_users_get_403_on_head_office_pages(app, client, auth, database, bank):
    critical = screened(app, database, "critical")
    for role in ("teller", "supervisor", "security", "admin"):
        auth.login(role)
        for path in ("/head-office/", f"/head-office/{critical}", "/head-office/statistics"):
            assert client.get(path).status_code == 403, (role, path)
        token = csrf_token(client, "/account/password")
        for path in (f"/head-office/{critical}/close", "/head-office/statistics/export"):
            assert client.post(path, data={"csrf_token": token, "to": "false_alarm",
                                           "note": "x"}).status_code == 403, (role, path)
        auth.logout()
    assert row_of(database, critical)["review_status"] == "pending"


# --- the queue ------------------------------------------------------------------------------------


def _escalated(app, database, teller, level, why, at, status="pending") -> int:
    session_id = in_branch(app, database, teller, level=level)
    database.execute("UPDATE sessions SET escalated_at = ?, escalated_why = ?, review_status = ? "
                     "WHERE id = ?", [at, why, status, session_id])
    return session_id


def test_head_office_queue_lists_escalations_of_every_branch_with_filters(
        app, client, auth, database, bank):
    one, two, three = bank["branches"]
    cases = {
        "a": _escalated(app, database, "teller", "critical", "critical", "2026-11-03T09:00:00+08:00"),
        "b": _escalated(app, database, "t_sz", "high", "manual", "2026-11-04T09:00:00+08:00"),
        "c": _escalated(app, database, "t_gz", "high", "police_alert", "2026-11-04T09:00:00+08:00",
                        status="false_alarm"),
        "d": _escalated(app, database, "t_sz", "critical", "critical", "2026-11-05T09:00:00+08:00"),
    }
    make_session(app, database, "t_sz", level="high")  # queued at its branch, not escalated

    def listed(**filters) -> list[int]:
        return [row["id"] for row in head_office.queue_page(
            database, head_office.QueueFilters(**filters)).rows]

    newest_first = [cases["d"], cases["c"], cases["b"], cases["a"]]
    assert listed() == newest_first  # same time: the higher id first
    assert listed(branch_id=two) == [cases["d"], cases["b"]]
    assert listed(province="广东省") == [cases["d"], cases["c"], cases["b"]]
    assert listed(city="广州市") == [cases["c"]]
    assert listed(level="critical") == [cases["d"], cases["a"]]
    assert listed(why="manual") == [cases["b"]]
    assert listed(status="pending") == [cases["d"], cases["b"], cases["a"]]
    assert listed(status="false_alarm", province="广东省") == [cases["c"]]
    # keyset pages of one row follow the same order, ties on the time included
    seen, after = [], None
    while True:
        page = head_office.queue_page(database, head_office.QueueFilters(), after, limit=1)
        seen += [row["id"] for row in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == newest_first

    auth.login("ho", HO_PASSWORD)
    html = client.get("/head-office/?province=广东省&why=police_alert").get_data(as_text=True)
    references = {name: row_of(database, session_id)["reference"] for name, session_id in cases.items()}
    assert references["c"] in html and references["b"] not in html and references["a"] not in html
    assert "广州天河支行" in html and "张*" in html
    first = client.get("/head-office/").get_data(as_text=True)
    assert all(reference in first for reference in references.values())
    bad = client.get("/head-office/?branch=99&level=nope").get_data(as_text=True)
    assert "请从列表中选择网点" in bad and "请从列表中选择风险等级" in bad
    assert references["a"] in bad  # the bad filters are dropped


def test_head_office_records_a_disposition_on_an_escalated_case(app, client, auth, database, bank):
    case = _escalated(app, database, "t_sz", "high", "manual", "2026-11-04T09:00:00+08:00")
    not_escalated = make_session(app, database, "t_sz", level="high")
    auth.login("ho", HO_PASSWORD)
    page = client.get(f"/head-office/{case}").get_data(as_text=True)
    assert "深圳南山支行" in page and "网点上报" in page and 'id="close-form"' in page
    assert client.get(f"/head-office/{not_escalated}").status_code == 404
    refused = post(client, f"/head-office/{case}", f"/head-office/{case}/close",
                   {"to": "false_alarm", "note": ""})
    assert refused.status_code == 409 and "必须填写复核备注" in refused.get_data(as_text=True)
    done = post(client, f"/head-office/{case}", f"/head-office/{case}/close",
                {"to": "false_alarm", "note": "总行核实：客户为正常家庭转账", "expected": "pending"})
    assert done.status_code == 303
    assert row_of(database, case)["review_status"] == "false_alarm"
    transitions = ledger_events(database, case, "review.transition")
    assert [event["to"] for event in transitions] == ["in_review", "false_alarm"]
    assert {event["actor_id"] for event in transitions} == {bank["ho"]}


# --- statistics ------------------------------------------------------------------------------------

LEVELS = ["low", "medium", "high", "critical", None]
OUTCOMES = [None, "proceeded", "cancelled", "police_called", "delayed"]
TYPOLOGIES = [None, "task_rebate", "fake_loan", "gov_impersonation"]
STATUSES = [None, "pending", "in_review", "false_alarm", "dissuaded", "confirmed_fraud"]


def _random_sessions(database, bank, rng: random.Random, count: int) -> list[int]:
    tellers = [(1, database.execute("SELECT id FROM users WHERE username = 'teller'").fetchone()[0]),
               (1, database.execute("SELECT id FROM users WHERE username = 'teller2'").fetchone()[0]),
               (bank["branches"][1], bank["tellers"]["t_sz"]),
               (bank["branches"][2], bank["tellers"]["t_gz"])]
    ids = []
    for number in range(count):
        branch_id, teller_id = rng.choice(tellers)
        level, outcome = rng.choice(LEVELS), rng.choice(OUTCOMES)
        in_queue = rng.choice([0, 1])
        ids.append(database.execute(
            "INSERT INTO sessions (reference, teller_id, branch_id, started_at, status, level, "
            "outcome, typology, amount_fen, duration_seconds, in_queue, review_status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [f"TGR-{number:06d}", teller_id, branch_id,
             f"2026-{rng.randint(10, 12)}-{rng.randint(1, 28):02d}T{rng.randint(8, 17):02d}:00:00+08:00",
             rng.choice(["finished", "finished", "assessed", "draft", "discarded"]), level,
             outcome, rng.choice(TYPOLOGIES), rng.randint(0, 10**7),
             rng.choice([None, rng.randint(5, 900), rng.randint(600, 4000)]), in_queue,
             rng.choice(STATUSES) if in_queue else None]).fetchone()[0])
    return ids


# Not whole months: October's end, November, December's beginning (month and day tables).
RANGE = (date(2026, 10, 15), date(2026, 12, 10))


def _exact_median_bucket(database, scope: head_office.Scope) -> int | None:
    conditions, params = ["status != 'discarded'", "duration_seconds IS NOT NULL",
                          "started_at >= '2026-10-15'", "started_at < '2026-12-11'"], []
    for column, value in (("branch_id", scope.branch_id), ("teller_id", scope.teller_id)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    durations = sorted(row[0] for row in database.execute(
        f"SELECT duration_seconds FROM sessions WHERE {' AND '.join(conditions)}", params))
    if not durations:
        return None
    return branch_stats.bucket_of(pystats.median_low(durations))


def _check_every_scope(database, bank, granularity: str) -> None:
    tellers = [row[0] for row in database.execute("SELECT DISTINCT teller_id FROM sessions")]
    scopes = [head_office.Scope()] + [head_office.Scope(b) for b in bank["branches"]] + [
        head_office.Scope(head_office.teller_branch(database, t), t) for t in tellers]
    for scope in scopes:
        from_tables = stats.fold(head_office.statistics(database, scope, *RANGE, granularity))
        recount = stats.fold(head_office.statistics_from_sessions(database, scope, *RANGE,
                                                                  granularity))
        assert from_tables == recount, scope
        assert from_tables.total.median_bucket == _exact_median_bucket(database, scope), scope


def test_drill_down_figures_equal_a_recount_of_the_sessions(app, database, bank):
    """Random sessions across 3 branches, then updates of every watched column (branch and
    teller too), discards and deletes: bank, branch and teller figures equal the sessions'."""
    rng = random.Random(16)
    ids = _random_sessions(database, bank, rng, 160)
    _check_every_scope(database, bank, "day")
    changes = [
        ("level", lambda: rng.choice(LEVELS)), ("outcome", lambda: rng.choice(OUTCOMES)),
        ("typology", lambda: rng.choice(TYPOLOGIES)), ("amount_fen", lambda: rng.randint(0, 10**6)),
        ("duration_seconds", lambda: rng.choice([None, rng.randint(1, 3000)])),
        ("in_queue", lambda: rng.choice([0, 1])), ("review_status", lambda: rng.choice(STATUSES)),
        ("status", lambda: rng.choice(["finished", "discarded"])),
        ("started_at", lambda: f"2026-{rng.randint(10, 12)}-{rng.randint(1, 30):02d}T09:00:00+08:00"),
        ("branch_id", lambda: rng.choice(bank["branches"])),
    ]
    for session_id in rng.sample(ids, 60):
        column, value = rng.choice(changes)
        database.execute(f"UPDATE sessions SET {column} = ? WHERE id = ?",  # noqa: S608
                         [value(), session_id])
    for session_id in rng.sample(ids, 10):
        database.execute("DELETE FROM sessions WHERE id = ?", [session_id])
    for granularity in stats.GRANULARITIES:
        _check_every_scope(database, bank, granularity)


@pytest.mark.parametrize("low, high, months, edges", [
    ("2026-10-15", "2026-12-10", ("2026-11", "2026-11"), [("2026-10-15", "2026-10-31"),
                                                         ("2026-12-01", "2026-12-10")]),
    ("2026-01-01", "2026-12-31", ("2026-01", "2026-12"), []),
    ("2026-02-01", "2026-02-28", ("2026-02", "2026-02"), []),
    ("2026-02-02", "2026-02-28", None, [("2026-02-02", "2026-02-28")]),
    ("2026-11-03", "2026-12-02", None, [("2026-11-03", "2026-12-02")]),
    ("2026-12-31", "2027-02-27", ("2027-01", "2027-01"), [("2026-12-31", "2026-12-31"),
                                                         ("2027-02-01", "2027-02-27")]),
])
def test_a_range_splits_into_whole_months_and_days(low, high, months, edges):
    assert head_office.month_split(date.fromisoformat(low), date.fromisoformat(high)) == (
        months, [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in edges])


def test_figures_follow_the_definitions(app, database, bank):
    two = bank["branches"][1]
    for level, outcome, amount, status, seconds in (
            ("high", "cancelled", 100_00, "dissuaded", 65), ("critical", "police_called", 900_00,
                                                             "false_alarm", 125),
            ("medium", "cancelled", 50_00, None, 300), ("high", "proceeded", 70_00, "false_alarm", 31)):
        session_id = in_branch(app, database, "t_sz", level=level, outcome=outcome,
                                  amount_fen=amount, duration_seconds=seconds,
                                  started_at="2026-11-10T10:00:00+08:00")
        if status:
            database.execute("UPDATE sessions SET in_queue = 1, review_status = ? WHERE id = ?",
                             [status, session_id])
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    figures = stats.fold(head_office.statistics(database, head_office.Scope(two), *nov, "month"))
    total = figures.total
    assert total.n == 4 and total.levels == {"high": 2, "critical": 1, "medium": 1}
    # 劝阻: 高/极高 cancelled or police_called only (not the medium one, not the proceeded one)
    assert (total.stopped, total.stopped_fen) == (2, 1000_00)
    assert (total.closed, total.false_alarms, total.false_alarm_share) == (3, 2, 2 / 3)
    # lower median 65 s: the 60-90 s bucket, shown as its middle
    assert total.median_bucket == 60 and total.median_seconds == 75
    assert [period for period, _ in figures.periods] == ["2026-11"]
    weeks = stats.fold(head_office.statistics(database, head_office.Scope(two), *nov, "week"))
    assert [period for period, _ in weeks.periods] == [stats.period_of("2026-11-10", "week")]
    assert weeks.periods[0][0] == "2026-11-09"  # that Tuesday's Monday
    assert [key for key, _ in figures.groups] == [bank["tellers"]["t_sz"]]


def test_statistics_pages_drill_down_and_export_csv(app, client, auth, database, bank):
    one, two, _ = bank["branches"]
    today = date.today().isoformat()
    for teller in ("teller", "t_sz", "t_sz"):
        in_branch(app, database, teller, level="high", outcome="cancelled", amount_fen=300_00,
                     started_at=f"{today}T10:00:00+08:00")
    auth.login("ho", HO_PASSWORD)
    bank_page = client.get("/head-office/statistics").get_data(as_text=True)
    first_branch = settings.load(database, one).branch_name
    assert "深圳南山支行（0002）" in bank_page and f"{first_branch}（0001）" in bank_page
    assert "<svg" in bank_page and f'href="/head-office/statistics?branch={two}' in bank_page
    branch_page = client.get(f"/head-office/statistics?branch={two}&by=week").get_data(as_text=True)
    assert "t_sz名" in branch_page and "teller名" not in branch_page
    teller_page = client.get(
        f"/head-office/statistics?branch={two}&teller={bank['tellers']['t_sz']}").get_data(as_text=True)
    assert "t_sz名" in teller_page and 'id="ho-groups"' not in teller_page
    wrong = client.get(f"/head-office/statistics?branch={two}&teller=1&by=year").get_data(as_text=True)
    assert "该柜员不属于所选网点" in wrong and "请从列表中选择统计粒度" in wrong
    response = post(client, "/head-office/statistics", "/head-office/statistics/export",
                    {"date_from": today, "date_to": today, "by": "day"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("合计,问询量,极高风险,高风险")
    assert lines[1].startswith("合计,3,0,3,") and ",3,900.00," in lines[1]
    assert any(line.startswith("深圳南山支行（0002）,2,") for line in lines)
    exported = database.execute("SELECT data FROM ledger WHERE kind = 'export.statistics'").fetchall()
    assert json.loads(exported[-1][0])["scope"] == "bank"


def test_the_branch_statistics_trigger_takes_the_day_lock_before_the_older_one():
    """The day's advisory lock orders every statistics write of that day (no deadlock between
    two tellers' transactions): it is taken by the trigger PostgreSQL fires first, and that
    trigger fires on every change the older one does."""
    from teller_guard.storage import branch_stats, duration_months, stats_triggers

    assert branch_stats.POSTGRESQL_TRIGGER < "stats_sessions_change"
    # the month table's triggers (0015) fire after the lock too
    assert all(branch_stats.POSTGRESQL_TRIGGER < name
               for name in duration_months.POSTGRESQL_TRIGGER_NAMES)
    assert set(duration_months.WATCHED_COLUMNS) <= set(branch_stats.WATCHED_COLUMNS)
    assert set(stats_triggers.WATCHED_COLUMNS) <= set(branch_stats.WATCHED_COLUMNS)
    function = branch_stats.postgresql_statements()[0]
    assert function.index("pg_advisory_xact_lock") < function.index("UPDATE ")
