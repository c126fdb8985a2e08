"""`teller-guard verify` finds rows edited, deleted or inserted behind the app's back (in the
ledger and in sessions), and `teller-guard redact` keeps the chain valid."""

import json
import re
import sqlite3
from datetime import date

import pytest
from test_review_support import ledger_key, make_session
from verify_helpers import read_one, sqlite_only, tamper

from teller_guard import anchor, audit, clock
from teller_guard.cli import main
from teller_guard.review import integrity, retention

pytestmark = pytest.mark.both_backends


SUMMARY = re.compile(r"校验(通过|未通过)：账本 (\d+) 行，问题 (\d+) 处；业务 (\d+) 条，问题 (\d+) 处；"
                     r"用户、设置与令牌 (\d+) 条，问题 (\d+) 处；锚点 (\d+) 个，问题 (\d+) 处；用时 [\d.]+ 秒")


@pytest.fixture
def screened(app, database):
    ids = [make_session(app, database, level=level, outcome=outcome, vault={"customer_name": "李四"},
                        started_at=f"2026-0{n + 1}-15T10:00:00+08:00")
           for n, (level, outcome) in enumerate([("critical", "police_called"), ("high", "cancelled"),
                                                 ("low", "proceeded"), ("medium", None)])]
    database.conn.close()  # the tests edit the file directly; let go of it first
    return ids




def run_verify(runner, app):
    result = runner.invoke(main, ["verify", "--instance", app.instance_path])
    summary = SUMMARY.search(result.output)
    assert summary, result.output
    return result, summary


def event_id(app, session_id, kind):
    return read_one(app, "SELECT id FROM ledger WHERE session_id = ? AND kind = ?",
                    session_id, kind)[0]


def test_untouched_database_verifies(runner, app, screened):
    result, summary = run_verify(runner, app)
    assert result.exit_code == 0, result.output
    assert summary.group(1) == "通过" and summary.group(4) == "4"
    # 5 users and the one branch (its settings); no ANCHOR_DIR here, so a warning, no anchors
    assert summary.group(6, 7, 8, 9) == ("6", "0", "0", "0")
    assert result.output.strip().splitlines() == [f"[提示] {anchor.NOT_ANCHORED}", summary.group(0)]


def test_edited_ledger_row(runner, app, screened):
    row = event_id(app, screened[0], "screening.assessed")
    tamper(app, "UPDATE ledger SET data = replace(data, 'critical', 'low') WHERE id = ?", row)
    result, summary = run_verify(runner, app)
    assert result.exit_code == 1
    # the screening's event is in its branch's chain (issue 16), which the line names
    assert f"[账本] 网点 0001：账本第 {row} 行被改动 (edited)" in result.output
    assert summary.group(1) == "未通过" and summary.group(3) == "1"


def test_deleted_ledger_row(runner, app, screened):
    row = event_id(app, screened[1], "screening.outcome")
    tamper(app, "DELETE FROM ledger WHERE id = ?", row)
    result, _ = run_verify(runner, app)
    assert result.exit_code == 1
    assert f"账本第 {row + 1} 行之前有记录被删除 (deleted)" in result.output
    # the session now disagrees with what is left of its events, too
    assert f"[业务] 业务 #{screened[1]} 与账本不一致（outcome、duration_seconds、status）" in result.output


def test_inserted_ledger_row(runner, app, screened):
    last = read_one(app, "SELECT id, hash FROM ledger ORDER BY id DESC LIMIT 1")
    tamper(app, "INSERT INTO ledger (id, at, actor_id, kind, session_id, data, prev_hash, hash) "
                "VALUES (?, '2026-01-01T00:00:00+08:00', 1, 'review.note', ?, '{}', ?, 'forged')",
           last[0] + 1, screened[0], last[1])
    result, _ = run_verify(runner, app)
    assert result.exit_code == 1
    assert f"账本第 {last[0] + 1} 行是绕过系统插入的 (inserted)" in result.output


def test_edited_session_row(runner, app, screened):
    tamper(app, "UPDATE sessions SET level = 'low', score = 1 WHERE id = ?", screened[1])
    tamper(app, "UPDATE sessions SET outcome = 'proceeded', amount_fen = 1 WHERE id = ?", screened[0])
    result, summary = run_verify(runner, app)
    assert result.exit_code == 1
    assert f"业务 #{screened[1]} 与账本不一致（level、score）" in result.output
    assert f"业务 #{screened[0]} 与账本不一致（outcome、amount_fen）" in result.output
    assert summary.group(3) == "0" and summary.group(5) == "2"


def test_hiding_a_case_from_the_queue_is_found(runner, app, screened):
    tamper(app, "UPDATE sessions SET in_queue = 0, review_status = NULL WHERE id = ?", screened[0])
    result, _ = run_verify(runner, app)
    assert result.exit_code == 1
    assert f"业务 #{screened[0]} 与账本不一致（in_queue）" in result.output


def test_review_status_must_match_its_transitions(runner, app, screened):
    tamper(app, "UPDATE sessions SET review_status = 'false_alarm' WHERE id = ?", screened[0])
    result, _ = run_verify(runner, app)
    assert f"业务 #{screened[0]} 与账本不一致（review_status）" in result.output


def test_deleted_session_row(runner, app, screened):
    tamper(app, "DELETE FROM pii_vault WHERE session_id = ?", screened[2])
    tamper(app, "DELETE FROM sessions WHERE id = ?", screened[2])
    result, summary = run_verify(runner, app)
    assert result.exit_code == 1
    assert f"[业务] 业务 #{screened[2]} 在账本中有记录，但业务表中已被删除 (deleted)" in result.output
    assert summary.group(4) == "3"


def test_inserted_session_row(runner, app, screened):
    tamper(app, "INSERT INTO sessions (id, reference, teller_id, started_at, status, level) "
                "VALUES (500, 'TG20260101-999999', 1, '2026-01-01T09:00:00+08:00', 'finished', 'low')")
    result, _ = run_verify(runner, app)
    assert result.exit_code == 1
    assert "[业务] 业务 #500 在账本中没有开始记录，是绕过系统插入的 (inserted)" in result.output


def test_every_problem_is_listed(runner, app, screened):
    tamper(app, "UPDATE sessions SET score = 0 WHERE id = ?", screened[0])
    tamper(app, "UPDATE sessions SET score = 0 WHERE id = ?", screened[1])
    tamper(app, "UPDATE ledger SET actor_id = 99 WHERE id = 1")
    result, summary = run_verify(runner, app)
    assert summary.group(3) == "1" and summary.group(5) == "2"
    assert len([line for line in result.output.strip().splitlines()
                if not line.startswith("[提示]")]) == 4


def test_redaction_empties_old_personal_data_and_keeps_the_chain(app, database):
    clock.use_zone("Asia/Shanghai")  # the cut-off is the start of the bank's day, in UTC
    old = make_session(app, database, level="critical", started_at="2025-01-10T10:00:00+08:00",
                       vault={"customer_name": "王五", "payee_account": "6222000011112222"})
    new = make_session(app, database, level="critical", started_at="2026-11-20T10:00:00+08:00",
                       vault={"customer_name": "赵六"})
    database.execute("INSERT INTO outbox (session_id, kind, idempotency_key, payload, status, "
                     "created_at) VALUES (?, 'police_alert', 'k1', '{\"customer_name\": \"王五\"}', "
                     "'sent', '2025-01-10')", [old])
    result = retention.redact(database, ledger_key(app), days=365, today=date(2026, 11, 30))
    assert (result.before, result.sessions, result.fields, result.alert_payloads) == (
        "2025-11-29T16:00:00+00:00", 1, 2, 1)
    vault = dict(((s, f), v) for s, f, v in database.execute(
        "SELECT session_id, field, value FROM pii_vault"))
    assert vault == {(old, "customer_name"): "", (old, "payee_account"): "",
                     (new, "customer_name"): "赵六"}
    assert database.execute("SELECT payload FROM outbox").fetchone()[0] == retention.REDACTED_PAYLOAD
    event = database.execute("SELECT data FROM ledger WHERE kind = 'retention.redacted'").fetchone()
    assert json.loads(event[0]) == {"days": 365, "before": "2025-11-29T16:00:00+00:00", "sessions": 1,
                                    "fields": 2, "alert_payloads": 1}
    assert audit.verify_chain(database, ledger_key(app))[1] == []
    assert integrity.check_sessions(database, ledger_key(app))[1] == []
    again = retention.redact(database, ledger_key(app), days=365, today=date(2026, 11, 30))
    assert (again.sessions, again.fields) == (0, 0)
    with pytest.raises(ValueError):
        retention.redact(database, ledger_key(app), days=0)


def test_redact_command_then_verify(runner, app, screened):
    result = runner.invoke(main, ["redact", "--days", "100", "--instance", app.instance_path])
    assert result.exit_code == 0, result.output
    assert "已清除" in result.output and "审计日志" in result.output
    emptied = read_one(app, "SELECT count(*) FROM pii_vault WHERE value = ''")[0]
    assert emptied >= 3  # January to March 2026 are older than 100 days from any day this year
    verified, summary = run_verify(runner, app)
    assert verified.exit_code == 0 and summary.group(1) == "通过"
    refused = runner.invoke(main, ["redact", "--days", "0", "--instance", app.instance_path])
    assert refused.exit_code == 2


def test_redact_uses_the_configured_retention(runner, app, screened, monkeypatch):
    monkeypatch.setenv("TELLER_GUARD_PII_RETENTION_DAYS", "36500")
    result = runner.invoke(main, ["redact", "--instance", app.instance_path])
    assert result.exit_code == 0, result.output
    assert "保留期限 36500 天" in result.output and "的 0 笔业务" in result.output


def test_detail_page_shows_redaction_without_values(app, client, auth, database):
    case = make_session(app, database, level="critical", started_at="2020-01-01T10:00:00+08:00",
                        vault={"customer_id_number": "110101199001011234"})
    retention.redact(database, ledger_key(app), days=30)
    auth.login("security")
    html = client.get(f"/review/{case}").get_data(as_text=True)
    assert "客户身份证号（已按保留期限清除）" in html
    assert "110101199001011234" not in html


def test_a_damaged_page_is_found_by_verify_pages_but_does_not_hold_up_serving(runner, app,
                                                                              screened, backend):
    sqlite_only(backend, "the pages of the database file")
    # Serving starts with a cheap check (header, schema, write lock): on years of data a full
    # page check took seconds warm and minutes cold, in every server process. verify --pages
    # reads every page.
    path = app.config["DATABASE"]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ledger'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as file:  # the ledger's root page: its cell pointers now point nowhere
        file.seek((root - 1) * page_size + 8)
        file.write(b"\xff" * 64)
    from teller_guard import db

    db.check_database(path)  # the quick start-up check passes over the page
    result = runner.invoke(main, ["verify", "--pages", "--instance", app.instance_path])
    assert result.exit_code == 1
    assert f"数据库文件已损坏 {path}" in result.output
    assert "Traceback" not in result.output


# Whatever is written around the app, verify finishes and names the damage: before, text a
# hash never holds, a NULL, a blob, bytes that are not UTF-8 or data that is not JSON ended it
# with a traceback (UnicodeEncodeError, TypeError, "malformed JSON", a decoding error).
# Blobs and bytes that are not UTF-8: PostgreSQL refuses them on the way in (its columns are
# typed text, always UTF-8), so they are SQLite's alone.
NOT_TEXT = "a blob or bytes that are not UTF-8 in a text column"


@pytest.mark.parametrize("sql, where", [
    ("UPDATE ledger SET prev_hash = 'ü' || substr(prev_hash, 2) WHERE id = ?", "chain"),
    ("UPDATE ledger SET hash = 'ü' || substr(hash, 2) WHERE id = ?", "chain"),
    ("UPDATE ledger SET hash = 7 WHERE id = ?", "chain"),  # NOT NULL, but any type
    ("UPDATE ledger SET prev_hash = 42 WHERE id = ?", "chain"),
    ("UPDATE ledger SET at = x'00ff' WHERE id = ?", "chain"),
    ("UPDATE ledger SET kind = CAST(x'ff' AS TEXT) WHERE id = ?", "chain"),
    ("UPDATE ledger SET data = 'not json {' WHERE id = ?", "both"),
    ("UPDATE ledger SET data = CAST(x'7bff7d' AS TEXT) WHERE id = ?", "both"),
    # U+0000 as JSON writes it, which PostgreSQL's jsonb cannot hold: the event's values still
    # agree with the session (a review note may hold one in a genuine row)
    ("UPDATE ledger SET data = replace(data, '\"level\"', '\"note\": \"\\u0000\", \"level\"') "
     "WHERE id = ?", "chain only"),
])
def test_verify_survives_any_tampering_of_a_ledger_row(runner, app, screened, sql, where,
                                                       backend):
    if "x'" in sql:
        sqlite_only(backend, NOT_TEXT)
    row = event_id(app, screened[0], "screening.assessed")
    tamper(app, sql, row)
    result, summary = run_verify(runner, app)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a report, not a crash
    assert int(summary.group(3)) >= 1  # the chain is broken at that row
    assert f"账本第 {row} 行" in result.output
    if where == "both":  # the session no longer agrees with an event that has no level
        assert f"业务 #{screened[0]} 与账本不一致" in result.output
    if where == "chain only":
        assert f"业务 #{screened[0]}" not in result.output


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_head SET seal = 'ü' || substr(seal, 2)",
    "UPDATE ledger_head SET last_hash = CAST(x'ff' AS TEXT)",
    "UPDATE ledger_head SET seal = NULL",
])
def test_verify_survives_any_tampering_of_the_head(runner, app, screened, sql, backend):
    if "x'" in sql:
        sqlite_only(backend, NOT_TEXT)
    tamper(app, sql)
    result, summary = run_verify(runner, app)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "链头被改动" in result.output


def test_verify_on_postgresql_reads_one_snapshot(app, screened, backend, monkeypatch):
    # The chain walk, its workers, the sessions check (on its own connections) and the users,
    # settings and anchors all read the state of the moment verify began: a screening written
    # meanwhile is neither counted nor half seen (its events without its row, or the reverse).
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite the sessions check takes a snapshot of its own")
    from teller_guard import db as databases
    from teller_guard.storage import integrity as stored

    ledger_rows = read_one(app, "SELECT count(*) FROM ledger")[0]
    begin = stored.begin_snapshot

    def begin_then_screen(database):
        snapshot = begin(database)
        other = databases.connect(app.config["DATABASE"])
        try:
            make_session(app, other, level="critical", outcome="police_called")
        finally:
            other.conn.close()
        return snapshot

    monkeypatch.setattr(stored, "begin_snapshot", begin_then_screen)
    report = integrity.verify(app.config["DATABASE"], ledger_key(app))
    assert report.ok, report.lines()
    assert (report.ledger_rows, report.session_rows) == (ledger_rows, 4)
    monkeypatch.undo()
    report = integrity.verify(app.config["DATABASE"], ledger_key(app))
    assert report.ok and report.session_rows == 5 and report.ledger_rows > ledger_rows


def test_a_database_error_during_verify_is_a_message_not_a_traceback(runner, app, monkeypatch):
    import psycopg

    def server_gone(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(integrity, "verify", server_gone)
    result = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "错误: 校验时数据库出错" in result.output and "server closed" in result.output
