"""`teller-guard verify` compares every column that matters with its events: the sessions'
teller, supervisor, typology, facts, answers and assessment, the vault, users and roles,
branch settings and API tokens; and it fails when the ledger is gone while the data stays.

Sessions here are written by the real screening service, whose events carry the digests.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest
from printing_web_helpers import keys_of, make_session, user_id
from screening_helpers import BENIGN_FACTS
from verify_helpers import read_one, tamper

from teller_guard import api_tokens, bank_settings, db, settings
from teller_guard.cli import main
from teller_guard.review import integrity, retention
from teller_guard.screening import inputs, service

pytestmark = pytest.mark.both_backends


@pytest.fixture
def cases(app, database):
    """A critical case overridden by the supervisor and finished, a medium one finished, a
    low one still open, and an API token."""
    keys = keys_of(app)
    critical = make_session(app, database, "critical")
    service.supervise(database, keys, critical, user_id(database, "supervisor"), "客户出示购房合同")
    service.record_outcome(database, keys, critical, "proceeded", user_id(database, "teller"))
    medium = make_session(app, database, "medium")
    service.record_outcome(database, keys, medium, "cancelled", user_id(database, "teller"))
    low = make_session(app, database, "low", teller="teller2")
    # a draft whose facts were corrected and whose answers are half taken: every writer of
    # the digest (start, update_facts, save_answers, assess) has had its turn
    draft = make_session(app, database, "low", assessed=False)
    corrected = inputs.parse_facts({**BENIGN_FACTS, "amount": "3500", "payee_name": "王小红"},
                                   date.today())
    service.update_facts(database, keys, draft, corrected.value, settings.load(database),
                         user_id(database, "teller"))
    service.save_answers(database, keys, draft, {"answers": {"purpose": "family_living"}},
                         user_id(database, "teller"))
    api_tokens.create(database, keys.ledger, "核心系统", user_id(database, "admin"))
    database.conn.close()  # the tests edit the file directly
    return {"critical": critical, "medium": medium, "low": low, "draft": draft}




def run_verify(runner, app):
    result = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert "Traceback" not in result.output
    return result


def session_fields(output: str, session_id: int) -> set[str]:
    found = re.search(rf"业务 #{session_id} 与账本不一致（([^）]+)）", output)
    assert found, output
    return set(found.group(1).split("、"))


def test_real_screenings_verify_clean(runner, app, cases):
    result = run_verify(runner, app)
    assert result.exit_code == 0, result.output
    assert "校验通过" in result.output


@pytest.mark.parametrize("case, sql, field", [
    ("critical", "UPDATE sessions SET teller_id = (SELECT id FROM users WHERE username = "
                 "'supervisor') WHERE id = ?", "teller_id"),
    ("critical", "UPDATE sessions SET supervisor_id = (SELECT id FROM users WHERE username = "
                 "'teller2') WHERE id = ?", "supervisor_id"),
    ("critical", "UPDATE sessions SET supervisor_decision = 'confirmed' WHERE id = ?",
     "supervisor_decision"),
    ("critical", "UPDATE sessions SET supervisor_reason = '主管同意' WHERE id = ?",
     "supervisor_reason"),
    ("medium", "UPDATE sessions SET supervisor_id = 1, supervisor_decision = 'confirmed' "
               "WHERE id = ?", "supervisor_id"),
    ("critical", "UPDATE sessions SET payee_hash = 'f00d' WHERE id = ?", "content"),
    ("critical", "UPDATE sessions SET payee_masked = '6222 **** **** 0000' WHERE id = ?",
     "content"),
    ("critical", "UPDATE sessions SET customer_hash = NULL WHERE id = ?", "content"),
    ("critical", "UPDATE sessions SET form = replace(form, 'safe_account', 'family_living') "
                 "WHERE id = ?", "content"),
    ("critical", "UPDATE sessions SET assessment = replace(assessment, '安全账户', '家人') "
                 "WHERE id = ?", "content"),
    ("critical", "UPDATE sessions SET started_at = '2020-01-01T09:00:00+08:00' WHERE id = ?",
     "content"),
    ("low", "UPDATE sessions SET amount_fen = 100 WHERE id = ?", "content"),
    ("low", "UPDATE sessions SET channel = 'atm' WHERE id = ?", "content"),
    ("draft", "UPDATE sessions SET form = replace(form, 'family_living', 'investment') "
              "WHERE id = ?", "content"),
    ("draft", "UPDATE sessions SET amount_fen = 300000 WHERE id = ?", "content"),
    ("critical", "UPDATE sessions SET typology = 'fake_loan' WHERE id = ?", "typology"),
    ("critical", "UPDATE sessions SET typologies = '[\"fake_loan\"]' WHERE id = ?", "typologies"),
    # not JSON: SQLite reads it as no value; PostgreSQL's fast statement stops and the guarded
    # one runs
    ("critical", "UPDATE sessions SET typologies = 'not json' WHERE id = ?", "typologies"),
    ("critical", "UPDATE sessions SET action = 'proceed' WHERE id = ?", "action"),
    ("critical", "UPDATE sessions SET rules_version = 'old' WHERE id = ?", "rules_version"),
    ("medium", "UPDATE sessions SET duration_seconds = 5 WHERE id = ?", "duration_seconds"),
    ("medium", "UPDATE sessions SET status = 'assessed', step = 'result' WHERE id = ?", "status"),
    ("medium", "UPDATE sessions SET slips_printed = 3 WHERE id = ?", "slips_printed"),
])
def test_an_edited_session_column_is_found(runner, app, cases, case, sql, field):
    tamper(app, sql, cases[case])
    result = run_verify(runner, app)
    assert result.exit_code == 1, result.output
    assert field in session_fields(result.output, cases[case])


@pytest.mark.parametrize("sql", [
    "UPDATE pii_vault SET value = '6217009999999999999' WHERE session_id = ? "
    "AND field = 'payee_account'",
    "UPDATE pii_vault SET value = '' WHERE session_id = ?",  # recent: not retention
    "DELETE FROM pii_vault WHERE session_id = ? AND field = 'payee_name'",
    "INSERT INTO pii_vault (session_id, field, value, stored_at) "
    "VALUES (?, 'payee_phone', '13800000000', '2026-01-01')",
])
def test_an_edited_vault_is_found(runner, app, cases, sql):
    tamper(app, sql, cases["critical"])
    result = run_verify(runner, app)
    assert result.exit_code == 1, result.output
    assert session_fields(result.output, cases["critical"]) == {"pii_vault"}


def test_retention_keeps_verify_clean(runner, app, database):
    keys = keys_of(app)
    case = make_session(app, database, "critical")
    redacted = retention.redact(database, keys.ledger, days=30,
                                today=date.fromisoformat("2099-01-01"))
    assert redacted.sessions == 1
    assert integrity.check_sessions(database, keys.ledger) == (1, [])
    database.conn.close()
    result = run_verify(runner, app)
    assert result.exit_code == 0, result.output
    # The cut-off allows emptied values only: a value put back is found.
    tamper(app, "UPDATE pii_vault SET value = 'x' WHERE session_id = ?", case)
    assert run_verify(runner, app).exit_code == 1


def test_an_edited_role_or_password_is_found(runner, app, cases):
    tamper(app, "UPDATE users SET role = 'admin' WHERE username = 'teller'")
    tamper(app, "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE "
                "username = 'teller2') WHERE username = 'admin'")
    tamper(app, "UPDATE users SET active = 0 WHERE username = 'security'")
    result = run_verify(runner, app)
    assert result.exit_code == 1, result.output
    ids = {name: read_one(app, "SELECT id FROM users WHERE username = ?", name)[0]
           for name in ("teller", "admin", "security")}
    assert f"[用户] 用户 #{ids['teller']} 与账本不一致（role），被绕过系统改动 (edited)" in result.output
    assert f"[用户] 用户 #{ids['admin']} 与账本不一致（password_hash）" in result.output
    assert f"[用户] 用户 #{ids['security']} 与账本不一致（active）" in result.output


def test_an_inserted_or_deleted_user_is_found(runner, app, cases):
    tamper(app, "INSERT INTO users (id, username, role, password_hash, active) "
                "VALUES (99, 'intruder', 'admin', 'x', 1)")
    tamper(app, "DELETE FROM users WHERE username = 'security'")
    result = run_verify(runner, app)
    assert result.exit_code == 1
    assert "[用户] 用户 #99 在账本中没有创建记录，是绕过系统插入的 (inserted)" in result.output
    assert "但用户表中已被删除 (deleted)" in result.output


def test_an_edited_setting_is_found(runner, app, cases):
    tamper(app, "UPDATE branches SET large_amount = '5000000' WHERE id = 1")
    result = run_verify(runner, app)
    assert result.exit_code == 1
    assert "[网点设置] 网点 0001 的设置 large_amount 与账本不一致，被绕过系统改动 (edited)" \
        in result.output


def test_a_branch_added_outside_the_app_is_found(runner, app, cases):
    tamper(app, "INSERT INTO branches (code, name, bank_name, province, city, large_amount, "
                "elderly_age, slip_paper) VALUES ('0099', '影子支行', '示例银行', '河北省', "
                "'邢台市', '50000', 60, 'a5')")
    result = run_verify(runner, app)
    assert result.exit_code == 1
    assert "[网点设置] 网点 0099 没有创建记录，被绕过系统添加 (edited)" in result.output


def test_a_user_moved_to_another_branch_outside_the_app_is_found(runner, app, cases):
    tamper(app, "INSERT INTO branches (id, code, name, bank_name, province, city, large_amount, "
                "elderly_age, slip_paper) VALUES (7, '0007', '别的支行', '示例银行', '河北省', "
                "'邢台市', '50000', 60, 'a5')")
    tamper(app, "UPDATE users SET branch_id = 7 WHERE username = 'security'")
    result = run_verify(runner, app)
    assert result.exit_code == 1
    assert "与账本不一致（branch_id），被绕过系统改动 (edited)" in result.output


def test_a_setting_changed_through_the_app_verifies(runner, app, cases):
    database = db.connect(app.config["DATABASE"])
    current = settings.load(database)
    settings.save(database, keys_of(app).ledger, dataclasses.replace(current, elderly_age=65))
    database.conn.close()
    assert run_verify(runner, app).exit_code == 0


def save_bank_settings(app, **values):
    database = db.connect(app.config["DATABASE"])
    try:
        current = bank_settings.load(database, app.config)
        bank_settings.save(database, keys_of(app).ledger,
                           dataclasses.replace(current, **values), app.config)
    finally:
        database.conn.close()


def test_bank_settings_saved_through_the_app_verify(runner, app, cases):
    save_bank_settings(app, payee_branches_min=2)
    save_bank_settings(app, payee_branches_min=4, payee_branches_days=14)
    assert read_one(app, "SELECT value FROM settings WHERE key = 'payee_branches_min'")[0] == "4"
    result = run_verify(runner, app)
    assert result.exit_code == 0, result.output


def test_a_bank_setting_edited_inserted_or_deleted_outside_the_app_is_found(runner, app, cases):
    save_bank_settings(app, payee_branches_min=2, customer_repeat_days=60)
    tamper(app, "UPDATE settings SET value = '50' WHERE key = 'payee_branches_min'")
    tamper(app, "DELETE FROM settings WHERE key = 'customer_repeat_days'")
    tamper(app, "INSERT INTO settings (key, value) VALUES ('payee_branches_days', '365')")
    result = run_verify(runner, app)
    assert result.exit_code == 1
    assert "[全行设置] payee_branches_min 与账本不一致，被绕过系统改动 (edited)" in result.output
    assert "[全行设置] customer_repeat_days 已被绕过系统删除 (deleted)" in result.output
    assert "[全行设置] payee_branches_days 没有修改记录，被绕过系统添加 (inserted)" \
        in result.output


def test_an_inserted_or_rewritten_api_token_is_found(runner, app, cases):
    tamper(app, "UPDATE api_tokens SET token_hash = 'c0ffee' WHERE name = '核心系统'")
    tamper(app, "INSERT INTO api_tokens (id, name, token_hash, created_at) "
                "VALUES (50, '后门', 'beef', '2026-01-01')")
    result = run_verify(runner, app)
    assert result.exit_code == 1
    assert "与账本不一致（token_hash）" in result.output
    assert "[令牌] 接口令牌 #50 在账本中没有创建记录，是绕过系统插入的 (inserted)" in result.output


def test_deleting_the_ledger_head_and_sessions_together_is_found(runner, app, cases):
    for sql in ("DELETE FROM ledger", "DELETE FROM ledger_head", "DELETE FROM pii_vault",
                "DELETE FROM sessions"):
        tamper(app, sql)
    result = run_verify(runner, app)
    assert result.exit_code == 1, result.output
    assert "[账本] 账本为空，但实例中有 5 个用户、0 笔业务：账本已被绕过系统清空 (empty)" in result.output


def test_a_dropped_ledger_is_reported_not_a_crash(runner, app, cases, backend):
    if backend == "postgresql":  # the run's test database is shared: moved away and back
        tamper(app, "ALTER TABLE ledger RENAME TO ledger_dropped")
        try:
            result = run_verify(runner, app)
        finally:
            tamper(app, "ALTER TABLE ledger_dropped RENAME TO ledger")
    else:
        tamper(app, "DROP TABLE ledger")
        result = run_verify(runner, app)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "数据表 ledger 不存在，已被绕过系统删除 (missing)" in result.output


def test_the_sessions_check_in_id_ranges_finds_the_same(app, cases, backend, monkeypatch):
    # A large table is checked in id ranges on connections of their own (PostgreSQL; each
    # joins the snapshot): cut into ranges even here, the findings are those of one statement.
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite checks the sessions in one statement")
    from teller_guard.storage import integrity_postgresql

    tamper(app, "UPDATE sessions SET level = 'low' WHERE id = ?", cases["critical"])
    tamper(app, "UPDATE pii_vault SET value = '6217009999999999999' WHERE session_id = ? "
                "AND field = 'payee_account'", cases["critical"])
    tamper(app, "UPDATE sessions SET amount_fen = 100 WHERE id = ?", cases["low"])
    tamper(app, "UPDATE sessions SET outcome = NULL WHERE id = ?", cases["medium"])
    key = keys_of(app).ledger

    def findings():
        database = db.connect(app.config["DATABASE"])
        try:
            return integrity.check_sessions(database, key)
        finally:
            database.conn.close()

    whole = findings()
    statements = []
    ranged = integrity_postgresql._range_rows
    monkeypatch.setattr(integrity_postgresql, "_range_rows",
                        lambda *args: statements.append(args[-2:]) or ranged(*args))
    monkeypatch.setattr(integrity_postgresql, "PARALLEL_MIN_SESSIONS", 1)
    assert findings() == whole
    assert len(statements) > 1  # it did cut the ids into ranges
    assert [problem.session_id for problem in whole[1]] == sorted(
        [cases["critical"], cases["low"], cases["medium"]])
