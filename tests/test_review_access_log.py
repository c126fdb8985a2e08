"""导出与查阅记录: exports and full personal-data reads, from the ledger, for branch security."""

import pytest
from conftest import csrf_token
from test_review_export import FULL, export_queue
from test_review_support import make_session, user_id

from teller_guard import audit, storage
from teller_guard.review import access_log
from teller_guard.storage import review

pytestmark = pytest.mark.both_backends


@pytest.fixture
def case(app, database):
    return make_session(app, database, level="critical", outcome="police_called", vault=FULL,
                        started_at="2026-11-10T09:30:00+08:00")


def page_text(client, query=""):
    response = client.get("/review/access-log" + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_masked_export_is_listed_with_its_rows_and_filters(client, auth, case):
    auth.login("security")
    export_queue(client, {"level": "critical", "status": "pending"})
    text = page_text(client)
    assert "导出复核队列" in text
    assert "复核队列 CSV，1 条；个人信息已脱敏；筛选：风险等级 极高风险，复核状态 待复核" in text


def test_a_full_export_lists_each_personal_data_read_with_its_session(client, auth, database,
                                                                     case):
    auth.login("admin")
    export_queue(client, {"full": "1", "confirm": "1"})
    auth.logout()
    auth.login("security")
    text = page_text(client, "?kind=pii.accessed")
    reference = database.execute("SELECT reference FROM sessions WHERE id = ?",
                                 [case]).fetchone()[0]
    assert f'href="/review/{case}">{reference}</a>' in text
    assert "用途：导出复核队列（完整个人信息）" in text
    assert "导出复核队列</td>" not in text  # filtered to one kind
    for value in FULL.values():
        assert value not in text  # which fields were read, never their values


def test_statistics_and_watchlist_exports_are_listed(client, auth):
    auth.login("security")
    token = csrf_token(client, "/review/statistics")
    client.post("/review/export/statistics", data={
        "csrf_token": token, "date_from": "2026-11-01", "date_to": "2026-11-30"})
    token = csrf_token(client, "/watchlist/")
    assert client.post("/watchlist/export", data={"csrf_token": token}).status_code == 200
    text = page_text(client)
    assert "统计 CSV，2026-11-01 至 2026-11-30" in text
    assert "高风险收款账户 CSV，0 条" in text


def test_filter_by_user_and_bad_filters_get_a_chinese_message(client, auth, database, case):
    auth.login("security")
    export_queue(client)
    auth.logout()
    auth.login("admin")
    export_queue(client, {"level": "high"})
    security = user_id(database, "security")
    text = page_text(client, f"?user={security}")
    assert text.count("导出复核队列</td>") == 1 and "风险等级 高风险" not in text
    text = page_text(client, "?kind=login.succeeded&user=999999&before=%E2%93%B5")
    assert "请从列表中选择记录类别" in text and "请从列表中选择操作人" in text
    assert text.count("导出复核队列</td>") == 2  # the bad filters are dropped, not applied


def test_pages_go_back_to_the_first_event_without_repeats(app, client, auth, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    admin = user_id(database, "admin")
    with storage.transaction(database):
        for number in range(access_log.PAGE_SIZE * 2 + 7):
            audit.append(database, key, audit.AuditEvent(
                "watchlist.exported", admin, data={"rows": number}))
            audit.append(database, key, audit.AuditEvent("login.succeeded", admin))
    auth.login("security")
    seen, query = [], ""
    while True:
        text = page_text(client, query)
        seen += [int(part.split(" 条", 1)[0]) for part in text.split("高风险收款账户 CSV，")[1:]]
        if 'rel="next"' not in text:
            break
        query = "?" + text.split('rel="next" href="/review/access-log?', 1)[1].split('"', 1)[0]
        query = query.replace("&amp;", "&")
    assert seen == list(range(access_log.PAGE_SIZE * 2 + 6, -1, -1))


def test_text_from_the_ledger_is_shown_escaped(app, client, auth, database):
    # The export forms validate their filters, but the page shows whatever the ledger holds.
    key = app.extensions["teller_guard"]["ledger_key"]
    with storage.transaction(database):
        audit.append(database, key, audit.AuditEvent("export.queue", user_id(database, "admin"),
                     data={"rows": 1, "filters": {"reference": "<script>alert(1)</script>"}}))
    auth.login("security")
    text = page_text(client)
    assert "<script>alert(1)</script>" not in text
    assert "业务编号 &lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize("kind, actor_id, before", [
    (None, None, None), ("export.queue", 3, 10), (None, 1, None), ("pii.accessed", None, 2**63 - 1)])
def test_every_page_query_reads_the_partial_index(database, backend, kind, actor_id, before):
    # Screenings write many ledger rows and the access events are rare: a page must not scan
    # the ledger. (INDEXED BY fails the query outright if its WHERE stops matching the index.)
    if backend == "postgresql":
        pytest.skip("SQLite's query plan; PostgreSQL's planner picks by table statistics")
    sql, params = review.access_events_query(kind, actor_id, before, 51)
    plan = " ".join(row[3] for row in database.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "USING INDEX ledger_access_events" in plan or \
        "USING COVERING INDEX ledger_access_events" in plan, plan
