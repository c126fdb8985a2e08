"""CSV exports: UTF-8 with BOM, Chinese intact, personal data masked unless an admin confirms."""

import csv
import io
import json

import pytest
from conftest import csrf_token
from test_review_support import make_session, user_id

from teller_guard import clock
from teller_guard.review import export, stats

pytestmark = pytest.mark.both_backends


FULL = {"payee_account": "6222021234564321", "customer_id_number": "110101199001011234",
        "customer_name": "张三丰"}


@pytest.fixture
def cases(app, database):
    return [
        make_session(app, database, level="critical", outcome="police_called", vault=FULL,
                     started_at="2026-11-10T09:30:00+08:00"),
        make_session(app, database, "teller2", level="high", outcome="cancelled",
                     typology="task_rebate", started_at="2026-11-11T10:00:00+08:00"),
        make_session(app, database, level="low", outcome="proceeded",
                     started_at="2026-11-12T10:00:00+08:00"),
    ]


def export_queue(client, data=None):
    token = csrf_token(client, "/review/")
    return client.post("/review/export/queue", data={"csrf_token": token, **(data or {})})


def read_csv(response):
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so Excel reads the Chinese"
    text = raw.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def events(database, kind):
    return [(session_id, json.loads(data)) for session_id, data in database.execute(
        "SELECT session_id, data FROM ledger WHERE kind = ? ORDER BY id", [kind])]


def test_masked_queue_csv_opens_with_correct_chinese(client, auth, database, cases):
    auth.login("security")
    response = export_queue(client, {"level": "critical"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == export.QUEUE_HEADER
    assert len(rows) == 2
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["风险等级"] == "极高风险" and record["办理结果"] == "已报警"
    assert record["复核状态"] == "待复核" and record["主要诈骗类型"] == "冒充公检法"
    assert record["金额（元）"] == "50000.00" and record["客户姓名（脱敏）"] == "张*"  # CSV: a plain number for Excel
    body = response.get_data(as_text=True)
    for value in FULL.values():
        assert value not in body
    assert events(database, "export.queue") == [
        (None, {"full": False, "filters": {"level": "critical"}, "rows": 1})]
    assert events(database, "pii.accessed") == []


def test_admin_full_export_needs_the_confirmation(client, auth, database, cases):
    auth.login("admin")
    response = export_queue(client, {"full": "1"})
    assert response.status_code == 303
    assert events(database, "export.queue") == []
    assert "请勾选确认项" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_admin_full_export_reads_the_vault_and_logs_it(client, auth, database, cases):
    auth.login("admin")
    response = export_queue(client, {"full": "1", "confirm": "1", "outcome": "police_called"})
    rows = read_csv(response)
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["收款账号"] == FULL["payee_account"]
    assert record["客户身份证号"] == FULL["customer_id_number"]
    assert record["客户姓名"] == "张三丰"
    admin = user_id(database, "admin")
    exported = events(database, "export.queue")
    assert exported == [(None, {"full": True, "filters": {"outcome": "police_called"}, "rows": 1,
                                "sessions_with_personal_data": 1})]
    accessed = events(database, "pii.accessed")
    assert accessed == [(cases[0], {"fields": sorted(FULL), "purpose": "导出复核队列（完整个人信息）"})]
    actor = database.execute("SELECT actor_id FROM ledger WHERE kind = 'export.queue'").fetchone()[0]
    assert actor == admin


def test_only_admin_may_export_full_data(client, auth, database, cases):
    auth.login("security")
    assert export_queue(client, {"full": "1", "confirm": "1"}).status_code == 403
    assert events(database, "pii.accessed") == []


def test_full_export_is_capped(app, client, auth, database, cases, monkeypatch):
    monkeypatch.setattr(export, "MAX_FULL_ROWS", 1)
    auth.login("admin")
    response = export_queue(client, {"full": "1", "confirm": "1"})
    assert response.status_code == 303
    assert events(database, "pii.accessed") == []


def test_supervisor_cannot_export_the_queue(client, auth, cases):
    auth.login("supervisor")
    assert export_queue(client).status_code == 403


def test_statistics_csv(client, auth, database, cases):
    auth.login("supervisor")
    token = csrf_token(client, "/review/statistics")
    response = client.post("/review/export/statistics", data={
        "csrf_token": token, "date_from": "2026-11-01", "date_to": "2026-11-30"})
    rows = read_csv(response)
    table = {row[0]: row[1:] for row in rows if row}
    assert table["统计期间"] == ["2026-11-01 至 2026-11-30"]
    assert table["问询总数"] == ["3"]
    assert table["进入复核队列"] == ["2"]
    assert table["保护金额（元，高风险、极高风险中已取消或已报警）"] == ["100000.00"]
    assert ["极高风险", "1"] in rows and table["冒充公检法"] == ["1"] and table["刷单返利"] == ["1"]
    assert table["teller名"] == ["2", "1"]
    assert events(database, "export.statistics") == [
        (None, {"date_from": "2026-11-01", "date_to": "2026-11-30"})]


def test_formula_like_cells_are_defused():
    figures = stats.Statistics(None, None, tellers=[(1, 2, 0)])
    text = export.statistics_text(figures, {1: "=cmd|' /C calc'!A0"}, {})
    assert "'=cmd" in text
    assert export.BOM == text[0]


def test_queue_csv_columns_for_excel_masked_name_id_and_overrides(app, client, auth, database):
    """Times as Excel reads a date and time (local, no T or zone), the masked name and the
    masked ID number in columns of their own, and 主管书面放行 marked."""
    clock.use_zone("Asia/Shanghai")  # the bank's zone: stored UTC, exported in local time
    form = {"facts": {"amount": "30000.00", "customer_name": "王**",
                      "customer_id_number": "110***********123X"}}
    make_session(app, database, level="critical", outcome="proceeded", override=True, form=form,
                 customer_masked="王**", started_at="2026-11-10T01:30:05+00:00")
    make_session(app, database, level="high", outcome="cancelled",
                 started_at="2026-11-11T10:00:00+08:00")
    auth.login("security")
    rows = read_csv(export_queue(client))
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    plain, override = records  # newest first
    assert override["开始时间"] == "2026-11-10 09:30:05"
    assert (override["客户姓名（脱敏）"], override["客户身份证号（脱敏）"]) == ("王**", "110***********123X")
    assert override["主管书面放行"] == "是" and plain["主管书面放行"] == "否"
    assert (plain["客户姓名（脱敏）"], plain["客户身份证号（脱敏）"]) == ("张*", "")


def test_statistics_csv_has_the_level_by_outcome_table(client, auth, database, cases):
    auth.login("supervisor")
    token = csrf_token(client, "/review/statistics")
    rows = read_csv(client.post("/review/export/statistics", data={
        "csrf_token": token, "date_from": "2026-11-01", "date_to": "2026-11-30"}))
    start = rows.index(["风险等级 × 办理结果", "已办理", "已取消", "改为延时到账", "已报警", "暂缓", "合计"])
    assert rows[start + 1:start + 4] == [["低风险", "1", "0", "0", "0", "0", "1"],
                                         ["高风险", "0", "1", "0", "0", "0", "1"],
                                         ["极高风险", "0", "0", "0", "1", "0", "1"]]
