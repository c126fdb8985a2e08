"""`teller-guard migrate-db`: a branch's SQLite instance copied into an empty PostgreSQL
database, then served from there; refusals; resuming after an interruption (issue 14, item 5)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
import sqlite_utils
from api_helpers import CRITICAL, new_token, post
from click.testing import CliRunner
from conftest import TEST_CONFIG, AuthActions, csrf_token
from postgres_support import create_database, drop_database
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, SAFE_ACCOUNT_ANSWERS, SAFE_ACCOUNT_FACTS, screen

from teller_guard import audit, create_app, db, migrate_db, storage, users
from teller_guard import migrations as legacy
from teller_guard.cli import main
from teller_guard.storage import copying

WATCHLIST_CSV = "账号,来源,日期,备注\n6222020000111122223,公安通报,2026-01-05,\n6217009999000011112,,,\n"


def _outcome(client, session_id: int, outcome: str) -> None:
    token = csrf_token(client, f"/screening/{session_id}/result")
    response = client.post(f"/screening/{session_id}/outcome",
                           data={"outcome": outcome, "csrf_token": token,
                                 "police_receipt_no": "JJ20261202-0031"})
    assert response.status_code == 302


def _seed_branch(instance) -> dict:
    """A branch's day through the real pages and API: every table the app writes gets rows."""
    app = create_app(TEST_CONFIG, instance_path=instance)
    client = app.test_client()
    auth = AuthActions(client)
    assert auth.login("teller", "not-the-password").status_code == 401  # login_failures
    auth.login("teller")
    case = screen(client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)  # 极高, vault filled
    assert client.get(f"/print/{case}/slip.pdf").status_code == 200
    _outcome(client, case, "police_called")
    benign = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    _outcome(client, benign, "proceeded")
    token = csrf_token(client, "/screening/new")  # a 新建问询 typed but not submitted yet
    assert client.post("/screening/new/draft", data={"amount": "5000", "csrf_token": token}
                       ).status_code == 200
    auth.logout()

    auth.login("security")
    token = csrf_token(client, f"/print/{case}/alert")
    assert client.post(f"/print/{case}/alert.pdf", data={"csrf_token": token}).status_code == 200
    token = csrf_token(client, "/watchlist/import")
    response = client.post("/watchlist/import", content_type="multipart/form-data", data={
        "csrf_token": token, "upload": (io.BytesIO(WATCHLIST_CSV.encode()), "名单.csv"),
        "default_source": ""})
    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)[:500]
    page = f"/review/{case}"
    response = client.post(f"{page}/transition", data={
        "to": "in_review", "note": "", "csrf_token": csrf_token(client, page)})
    assert response.status_code == 303
    auth.logout()

    _, api_token = new_token(app)
    response = post(client, api_token, CRITICAL, **{"Idempotency-Key": "migrate-db-1"})
    assert response.status_code == 201, response.get_json()
    database = db.connect(app.config["DATABASE"])
    try:
        reference = storage.query_one(database, "SELECT reference FROM sessions WHERE id = ?",
                                      [case])["reference"]
        empty = [table for table in copying.TABLES if not copying.count(database, table)]
    finally:
        database.conn.close()
    # No ALERT_ENDPOINT: nothing is queued for delivery; SQLite counts API requests in the
    # server process, not in api_rate_counts; branch settings live in `branches` since 0009
    # (`settings` is kept for bank-wide ones, none yet).
    assert empty == ["api_rate_counts", "outbox", "settings"]
    return {"case": case, "reference": reference}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, template_instance):
    instance = tmp_path_factory.mktemp("branch") / "instance"
    shutil.copytree(template_instance, instance)
    # As on a branch server: serve (here verify) has recorded the PII key's fingerprint.
    result = CliRunner().invoke(main, ["verify", "--instance", str(instance)])
    assert result.exit_code == 0, result.output
    facts = _seed_branch(instance)
    return instance, facts



@pytest.fixture
def branch(seeded, tmp_path):
    """A fresh copy of the seeded branch's instance folder, and what the seed wrote."""
    instance = tmp_path / "branch"
    shutil.copytree(seeded[0], instance)
    return instance, seeded[1]


@pytest.fixture
def target():
    url = create_database("tg_migrate")
    yield url
    drop_database(url)


def migrate(runner, instance, url, *options):
    return runner.invoke(main, ["migrate-db", "--instance", str(instance), "--to", url, *options])


def all_rows(target) -> dict[str, list[tuple]]:
    database = db.connect(target)
    try:
        # Sorted here: PostgreSQL orders text keys by its collation, SQLite by bytes.
        return {table: sorted(copying.all_rows(database, table), key=repr) for table in copying.TABLES}
    finally:
        database.conn.close()


def source_file(instance) -> str:
    return str(instance / "teller_guard.db")


def test_a_branch_moves_to_postgresql_and_carries_on_there(runner, target, branch):
    instance, seed = branch
    before = all_rows(source_file(instance))

    result = migrate(runner, instance, target)

    assert result.exit_code == 0, result.output
    assert "迁移完成" in result.output and "链校验通过" in result.output
    assert f"{instance / 'secret_key'}：实例密钥" in result.output  # what the new hosts need
    copied = all_rows(target)
    assert copied == before  # every table, every row, ids and all
    assert all_rows(source_file(instance)) == before  # the source is as it was
    assert copied["pii_vault"] and copied["watchlist"] and copied["ledger_head"]
    database = db.connect(target)
    try:  # the planner knows the copied tables' sizes before autovacuum gets to them
        analyzed = storage.query(database, "SELECT relname FROM pg_stat_user_tables "
                                 "WHERE last_analyze IS NOT NULL")
        assert {"sessions", "ledger", "pii_vault"} <= {row["relname"] for row in analyzed}
    finally:
        database.conn.close()

    app = create_app({**TEST_CONFIG, "DATABASE_URL": target}, instance_path=instance)
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("security")
    page = client.get(f"/review/{seed['case']}")
    assert page.status_code == 200 and seed["reference"] in page.get_data(as_text=True)
    auth.logout()
    auth.login("teller")
    new = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)  # ids continue after the copied ones
    _outcome(client, new, "proceeded")
    assert new == max(row[0] for row in before["sessions"]) + 1

    database = db.connect(target)
    try:
        rows, problems = audit.verify_chain(database, app.extensions["teller_guard"]["ledger_key"])
        assert problems == [] and rows > len(before["ledger"])
        # The statistics trigger is on again: the new screening is counted once.
        assert storage.query_one(database, "SELECT sum(n) AS n FROM stats_day_level")["n"] == \
            copying.count(database, "sessions")
    finally:
        database.conn.close()
    result = runner.invoke(main, ["verify", "--instance", str(instance)])  # the SQLite side
    assert result.exit_code == 0, result.output


def test_a_1x_file_is_brought_to_the_schema_first(runner, tmp_path, target):
    instance = tmp_path / "old"
    create_app(TEST_CONFIG, instance_path=instance)  # the instance secret
    old = sqlite_utils.Database(instance / "teller_guard.db")
    old["users"].exists()  # create the file
    legacy.migrations.apply(old, stop_before="m015_watchlist_id")  # as 1.x left it
    old["users"].insert({"username": "old", "role": "teller", "password_hash": "x"})
    for account in ("a" * 64, "b" * 64, "c" * 64):
        old["watchlist"].insert({"account_hash": account, "account_masked": "6222 **** 0000"})
    old.execute("DELETE FROM watchlist WHERE account_hash = ?", ["a" * 64])
    old.conn.commit()
    old.conn.close()

    result = migrate(runner, instance, target)

    assert result.exit_code == 0, result.output
    assert "数据库已更新" in result.output
    copied = all_rows(target)
    assert [row[:2] for row in copied["watchlist"]] == [(2, "b" * 64), (3, "c" * 64)]  # rowids kept
    assert [row[1] for row in copied["users"]] == ["old"]
    source = all_rows(source_file(instance))
    assert source.pop("ledger_head") == [] and copied.pop("ledger_head") == [
        (0, None, None, None, None), (1, None, None, None, None)]
    assert copied == source  # (PostgreSQL's schema holds the chain heads' rows before any event)


def test_verify_passes_on_the_target(runner, target, branch):
    instance, _ = branch
    assert migrate(runner, instance, target).exit_code == 0
    result = runner.invoke(main, ["verify", "--instance", str(instance)],
                           env={"TELLER_GUARD_DATABASE_URL": target})
    assert result.exit_code == 0, result.output


def test_every_branchs_chain_is_copied_and_verifies_on_the_target(runner, target, branch):
    """The bank's chain, branch 1's and a second branch's (issue 16): heads equal, each chain
    verifies, and appends on the target go on after the copied ids in each chain."""
    from dataclasses import replace

    from teller_guard import settings
    from teller_guard.storage import ledger

    instance, _ = branch
    app = create_app(TEST_CONFIG, instance_path=instance)
    key = app.extensions["teller_guard"]["ledger_key"]
    source = db.connect(app.config["DATABASE"])
    try:
        second = settings.create_branch(source, key, "0002", replace(
            settings.BranchSettings(), branch_name="桥东支行"))
        users.create_user(source, key, "qd_teller", "Chain-pass-2026", "teller",
                          display_name="桥东柜员", staff_no="QD01", must_change=False,
                          branch_id=second)
    finally:
        source.conn.close()
    client = app.test_client()
    AuthActions(client).login("qd_teller", "Chain-pass-2026")
    screen(client, BENIGN_FACTS, BENIGN_ANSWERS)  # branch 0002's chain gets its rows
    database = db.connect(app.config["DATABASE"])
    try:
        heads = ledger.heads(database)
    finally:
        database.conn.close()
    assert {head["chain"] for head in heads} == {0, 1, second}

    result = migrate(runner, instance, target)

    assert result.exit_code == 0, result.output
    assert "3 条链，链校验通过" in result.output
    database = db.connect(target)
    try:
        assert ledger.heads(database) == heads
        for head in heads:
            assert audit.verify_chain(database, key, chain=head["chain"])[1] == []
        largest = database.execute("SELECT max(id) FROM ledger").fetchone()[0]
        with storage.transaction(database):
            added = audit.append(database, key, audit.AuditEvent("login.failed", data={},
                                                                 chain=second))
        assert added == largest + 1  # the ledger's id sequence goes on after the copied ids
        assert audit.verify_chain(database, key)[1] == []
    finally:
        database.conn.close()
    verified = runner.invoke(main, ["verify", "--instance", str(instance), "--branch", "0002"],
                             env={"TELLER_GUARD_DATABASE_URL": target})
    assert verified.exit_code == 0, verified.output


def test_a_target_with_data_is_refused_and_left_as_it_was(runner, target, branch, tmp_path):
    instance, _ = branch
    other = tmp_path / "other"
    assert runner.invoke(main, ["init", "--instance", str(other), "--admin-password", "x" * 12],
                         env={"TELLER_GUARD_DATABASE_URL": target}).exit_code == 0
    before = all_rows(target)

    result = migrate(runner, instance, target)

    assert result.exit_code == 1
    assert "不是空的" in result.output and "什么都没有写入" in result.output
    assert "Traceback" not in result.output
    assert all_rows(target) == before


def test_a_database_of_something_else_is_refused_untouched(runner, target, branch):
    instance, _ = branch
    database = db.connect(target)
    try:
        database.execute("CREATE TABLE customers (id integer PRIMARY KEY)")
        result = migrate(runner, instance, target)
        assert result.exit_code == 1 and "已有 1 张其他表（customers）" in result.output
        assert copying.table_names(database) == {"customers"}
    finally:
        database.conn.close()


class Interrupted(db.postgres.psycopg.OperationalError):
    """A lost connection, as the copy sees one."""


def interrupt_after(monkeypatch, batches: int) -> list[int]:
    """Make the copy fail inside batch number `batches` + 1, after its rows were sent;
    returns the list that receives each batch's row count."""
    insert_rows = copying.insert_rows
    sizes = []

    def failing(database, table, rows):
        sizes.append(insert_rows(database, table, rows))
        if len(sizes) > batches:
            raise Interrupted("server closed the connection unexpectedly")
        return sizes[-1]

    monkeypatch.setattr(copying, "insert_rows", failing)
    return sizes


def test_an_interrupted_copy_is_refused_by_the_app_and_resumes_to_the_same_rows(
        runner, target, branch, monkeypatch):
    instance, _ = branch
    before = all_rows(source_file(instance))
    sizes = interrupt_after(monkeypatch, 3)

    result = migrate(runner, instance, target, "--batch-rows", "7")

    assert result.exit_code == 1 and "迁移中断" in result.output, result.output
    half = all_rows(target)
    assert len(sizes) == 4 and sizes[-1] == 7
    # The three committed batches are there, the fourth rolled back; besides them only the
    # progress record and the schema's empty chain head rows (the bank's and branch 1's).
    assert sum(map(len, half.values())) == sum(sizes[:3]) + 3
    assert [row for row in half["ledger_head"] if row[1] is not None] == []
    for table, rows in half.items():
        assert set(rows) - set(before[table]) <= {row for row in rows if row[0] == copying.PROGRESS_FACT
                                                  or table == "ledger_head"}
    served = runner.invoke(main, ["user", "add", "late", "--role", "teller", "--staff-no", "L01",
                                  "--instance", str(instance)],
                           env={"TELLER_GUARD_DATABASE_URL": target})
    assert served.exit_code == 1 and "未完成的迁移副本" in served.output

    monkeypatch.undo()
    result = migrate(runner, instance, target, "--batch-rows", "7")

    assert result.exit_code == 0, result.output
    assert "继续上次中断的迁移" in result.output and "接续上次中断的复制" in result.output
    assert all_rows(target) == before


KILL_AFTER = """
import os, signal
from teller_guard.storage import copying
insert_rows, calls = copying.insert_rows, []
def killed(database, table, rows):
    calls.append(table)
    inserted = insert_rows(database, table, rows)
    if len(calls) > {batches}:
        os.kill(os.getpid(), signal.SIGKILL)  # mid-transaction: the batch is sent, not committed
    return inserted
copying.insert_rows = killed
from teller_guard.cli import main
main()
"""


def test_a_copy_killed_with_sigkill_resumes_to_the_same_rows(runner, target, branch):
    instance, _ = branch
    before = all_rows(source_file(instance))
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILL_AFTER.format(batches=12)), "migrate-db",
         "--instance", str(instance), "--to", target, "--batch-rows", "10"],
        capture_output=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    half = all_rows(target)
    assert 0 < sum(map(len, half.values())) < sum(map(len, before.values()))

    result = migrate(runner, instance, target, "--batch-rows", "10")

    assert result.exit_code == 0, result.output
    assert all_rows(target) == before


def test_an_unfinished_copy_of_another_branch_is_refused(runner, target, branch, monkeypatch,
                                                          tmp_path, template_instance):
    instance, _ = branch
    interrupt_after(monkeypatch, 2)
    assert migrate(runner, instance, target, "--batch-rows", "5").exit_code == 1
    monkeypatch.undo()
    half = all_rows(target)
    other = tmp_path / "other"
    shutil.copytree(template_instance, other)
    os.unlink(other / "secret_key")  # another branch: its own key and ledger
    os.unlink(other / "teller_guard.db")
    app = create_app(TEST_CONFIG, instance_path=other)
    db.prepare(app.config["DATABASE"])
    database = db.connect(app.config["DATABASE"])
    try:
        users.create_user(database, app.extensions["teller_guard"]["ledger_key"], "admin",
                          "admin-password", "admin")
    finally:
        database.conn.close()

    result = migrate(runner, other, target)

    assert result.exit_code == 1
    assert "另一个网点数据库" in result.output and "什么都没有写入" in result.output
    assert all_rows(target) == half


def test_a_source_changed_since_the_interruption_needs_a_restart(runner, target, branch,
                                                                 monkeypatch):
    instance, _ = branch
    interrupt_after(monkeypatch, 2)
    assert migrate(runner, instance, target, "--batch-rows", "5").exit_code == 1
    monkeypatch.undo()
    assert runner.invoke(main, ["user", "add", "late", "--role", "teller", "--staff-no", "L01", "--password",
                                "late-password-1", "--instance", str(instance)]).exit_code == 0
    half = all_rows(target)

    refused = migrate(runner, instance, target)

    assert refused.exit_code == 1 and "源数据库自上次中断以来已有变化" in refused.output
    assert all_rows(target) == half
    result = migrate(runner, instance, target, "--restart")
    assert result.exit_code == 0, result.output
    assert all_rows(target) == all_rows(source_file(instance))


def test_a_source_written_during_the_copy_is_not_finished(runner, target, branch, monkeypatch):
    """A branch server left running: the copy is one consistent snapshot, but it is not the
    branch as it is now, so the run does not finish it."""
    instance, _ = branch
    insert_rows, written = copying.insert_rows, []
    app = create_app(TEST_CONFIG, instance_path=instance)

    def while_the_server_writes(database, table, rows):
        if table == "ledger":
            written.append(table)
            with_source = db.connect(app.config["DATABASE"])
            try:
                users.create_user(with_source, app.extensions["teller_guard"]["ledger_key"],
                                  f"late{len(written)}", "late-password-1", "teller",
                                  staff_no=f"L{len(written):02d}")
            finally:
                with_source.conn.close()
        return insert_rows(database, table, rows)

    monkeypatch.setattr(copying, "insert_rows", while_the_server_writes)
    result = migrate(runner, instance, target, "--batch-rows", "50")
    monkeypatch.undo()

    assert result.exit_code == 1 and "复制期间源数据库被写入" in result.output, result.output
    served = runner.invoke(main, ["verify", "--instance", str(instance)],
                           env={"TELLER_GUARD_DATABASE_URL": target})
    assert served.exit_code == 1 and "未完成的迁移副本" in served.output
    result = migrate(runner, instance, target, "--restart")
    assert result.exit_code == 0, result.output
    assert all_rows(target) == all_rows(source_file(instance))


def test_the_summary_names_the_files_the_new_hosts_need(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.toml").write_text('pii_key_file = "bank.key"\nalert_token_file = "alert.token"\n'
                                          f'anchor_dir = "{tmp_path / "anchors"}"\n')
    (instance / "bank.key").write_text("k" * 40)
    app = create_app(TEST_CONFIG, instance_path=instance)

    lines = "\n".join(migrate_db.carry_over(app))

    for name in ("secret_key", "bank.key", "config.toml", "alert.token"):
        assert str(instance / name) in lines
    assert str(tmp_path / "anchors" / "teller_guard-") in lines


def test_a_url_is_shown_without_its_password():
    assert db.describe("postgresql:///tg?host=/var/run/postgresql&password=secret") == \
        "postgresql:///tg?host=/var/run/postgresql"
    assert db.describe("postgresql://tg:secret@db1:5433/tg") == "postgresql://tg@db1:5433/tg"


def test_the_command_says_what_it_needs(runner, tmp_path):
    result = migrate(runner, tmp_path / "instance", "sqlite:///elsewhere.db")
    assert result.exit_code == 1 and "postgresql://" in result.output
    result = migrate(runner, tmp_path / "nowhere", "postgresql:///x")
    assert result.exit_code == 1 and "找不到 SQLite 数据库" in result.output
    assert "Traceback" not in result.output
