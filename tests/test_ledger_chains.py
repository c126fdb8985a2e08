"""A ledger chain per branch plus the bank's (issue 16, item 6): where events go, concurrent
appends of two branches, tampering reported for its branch only, an upgraded single-branch
ledger, and `verify --branch` / `--bank`."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace

import pytest
from conftest import AuthActions
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, screen

from teller_guard import audit, db, settings, storage, users
from teller_guard.cli import main
from teller_guard.storage import ledger

pytestmark = pytest.mark.both_backends

PASSWORD = "Chain-pass-2026"


def key_of(app) -> bytes:
    return app.extensions["teller_guard"]["ledger_key"]


def second_branch(app, database) -> dict:
    """Branch 0002 with a teller, and a head-office admin: their user ids and the branch id."""
    key = key_of(app)
    branch = settings.create_branch(database, key, "0002", replace(
        settings.BranchSettings(), branch_name="桥东支行"))
    teller = users.create_user(database, key, "qd_teller", PASSWORD, "teller",
                               display_name="桥东柜员", staff_no="QD01", must_change=False,
                               branch_id=branch)
    head_office = users.create_user(database, key, "ho_admin", PASSWORD, "ho_admin",
                                    display_name="总行管理员", staff_no="HO01", must_change=False)
    return {"branch": branch, "teller": teller, "ho_admin": head_office}


def chain_of_rows(database, where: str, *params) -> set:
    return {row[0] for row in database.execute(
        f"SELECT chain FROM ledger WHERE {where}", params).fetchall()}  # noqa: S608 - test SQL


def tamper(app, sql, *params):
    path = app.config["DATABASE"]
    if db.is_postgresql(path):
        database = db.connect(path)
        try:
            assert database.execute(sql, params).rowcount
        finally:
            database.conn.close()
        return
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    assert conn.total_changes
    conn.commit()
    conn.close()


def test_events_go_to_the_chain_of_their_session_actor_or_branch(app, client, database):
    made = second_branch(app, database)
    auth = AuthActions(client)
    auth.login("teller")
    first = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    auth.logout()
    auth.login("qd_teller", PASSWORD)
    second = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    auth.logout()
    key = key_of(app)
    settings.save(database, key, replace(settings.BranchSettings(), elderly_age=65),
                  actor_id=made["ho_admin"], branch_id=made["branch"])
    with storage.transaction(database):
        admin = users.find_user(database, "admin")["id"]
        audit.append(database, key, audit.AuditEvent("login.succeeded", admin, data={}))
        audit.append(database, key, audit.AuditEvent("login.succeeded", made["ho_admin"], data={}))

    assert chain_of_rows(database, "session_id = ?", first) == {1}
    assert chain_of_rows(database, "session_id = ?", second) == {made["branch"]}
    assert chain_of_rows(database, "kind = 'settings.changed' AND data LIKE ?",
                         '%"branch": 2%') == {made["branch"]}
    logins = dict(database.execute("SELECT actor_id, chain FROM ledger WHERE kind = 'login.succeeded' "
                                   "AND actor_id IN (?, ?)", [admin, made["ho_admin"]]).fetchall())
    assert logins == {admin: 1, made["ho_admin"]: ledger.BANK_CHAIN}
    # Branch creation by the CLI (no actor) and head-office accounts: the bank's chain.
    assert chain_of_rows(database, "kind = 'branch.created'") == {ledger.BANK_CHAIN}
    assert {head["chain"] for head in ledger.heads(database)} == {0, 1, made["branch"]}
    count, problems = audit.verify_chain(database, key)
    assert problems == [] and count == database.execute("SELECT count(*) FROM ledger").fetchone()[0]


def test_events_of_two_chains_cannot_share_one_append(app, database):
    made = second_branch(app, database)
    with pytest.raises(ValueError, match="one chain"), storage.transaction(database):
        audit.append_many(database, key_of(app), [
            audit.AuditEvent("login.succeeded", 1, data={}),
            audit.AuditEvent("login.succeeded", made["teller"], data={})])


def test_two_branches_appending_at_once_make_two_valid_chains(app, database):
    made = second_branch(app, database)
    teller = users.find_user(database, "teller")["id"]
    key, path = key_of(app), app.config["DATABASE"]
    errors = []
    start = threading.Barrier(2)

    def append_as(actor_id):
        connection = db.connect(path)
        try:
            start.wait()
            for number in range(40):
                with db.write_transaction(connection):
                    audit.append(connection, key, audit.AuditEvent(
                        "login.succeeded", actor_id, data={"n": number}))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.conn.close()

    threads = [threading.Thread(target=append_as, args=(actor,))
               for actor in (teller, made["teller"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for actor, chain in ((teller, 1), (made["teller"], made["branch"])):
        rows = database.execute("SELECT chain, data FROM ledger WHERE actor_id = ? AND "
                                "kind = 'login.succeeded' ORDER BY id", [actor]).fetchall()
        assert [row[0] for row in rows] == [chain] * 40
        assert [row[1] for row in rows] == [f'{{"n": {number}}}' for number in range(40)]
    assert audit.verify_chain(database, key, chain=made["branch"])[1] == []
    assert audit.verify_chain(database, key)[1] == []


def test_postgresql_one_branchs_append_does_not_wait_for_anothers(app, database, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one write lock for the whole file")
    from teller_guard.storage.postgres import psycopg

    made = second_branch(app, database)
    teller = users.find_user(database, "teller")["id"]
    key = key_of(app)
    holder, other = db.connect(app.config["DATABASE"]), db.connect(app.config["DATABASE"])
    try:
        with storage.transaction(holder):
            # Branch 1's head stays locked until this block commits.
            audit.append(holder, key, audit.AuditEvent("login.succeeded", teller, data={}))
            other.execute("SET lock_timeout = '10s'")
            with storage.transaction(other):
                branch_2 = audit.append(other, key, audit.AuditEvent(
                    "login.succeeded", made["teller"], data={}))
            # …while an append to branch 1 does wait: it gives up at its lock timeout.
            other.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable), storage.transaction(other):
                audit.append(other, key, audit.AuditEvent("login.succeeded", teller, data={}))
        committed = database.execute("SELECT chain FROM ledger WHERE id = ?", [branch_2]).fetchone()
        assert committed[0] == made["branch"]
    finally:
        holder.conn.close()
        other.conn.close()
    assert audit.verify_chain(database, key)[1] == []


def test_tampering_with_one_branchs_chain_is_reported_for_that_branch_only(
        app, client, database, runner):
    made = second_branch(app, database)
    auth = AuthActions(client)
    auth.login("teller")
    screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    auth.logout()
    auth.login("qd_teller", PASSWORD)
    second = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    auth.logout()
    row = database.execute("SELECT id FROM ledger WHERE session_id = ? AND "
                           "kind = 'screening.assessed'", [second]).fetchone()[0]
    tamper(app, "UPDATE ledger SET data = replace(data, '\"level\"', '\"levels\"') WHERE id = ?", row)

    _, problems = audit.verify_chain(database, key_of(app))
    assert [(problem.chain, problem.row_id, problem.problem) for problem in problems] == [
        (made["branch"], row, "edited")]
    assert audit.verify_chain(database, key_of(app), chain=1)[1] == []

    everything = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert everything.exit_code == 1
    assert f"[账本] 网点 0002：账本第 {row} 行被改动 (edited)" in everything.output
    assert "网点 0001：" not in everything.output
    branch_1 = runner.invoke(main, ["verify", "--instance", app.instance_path, "--branch", "0001"])
    assert branch_1.exit_code == 0, branch_1.output
    assert "校验通过（仅网点 0001的账本链）" in branch_1.output
    branch_2 = runner.invoke(main, ["verify", "--instance", app.instance_path, "--branch", "0002"])
    assert branch_2.exit_code == 1 and f"账本第 {row} 行被改动" in branch_2.output
    bank = runner.invoke(main, ["verify", "--instance", app.instance_path, "--bank"])
    assert bank.exit_code == 0, bank.output
    unknown = runner.invoke(main, ["verify", "--instance", app.instance_path, "--branch", "9999"])
    assert unknown.exit_code == 1 and "没有代码为 9999 的网点" in unknown.output


def test_moving_a_row_to_another_branchs_chain_is_found(app, database):
    made = second_branch(app, database)
    with storage.transaction(database):
        audit.append(database, key_of(app), audit.AuditEvent("login.succeeded", made["teller"],
                                                             data={}))
    row = database.execute("SELECT max(id) FROM ledger WHERE chain = ?",
                           [made["branch"]]).fetchone()[0]
    tamper(app, "UPDATE ledger SET chain = 1 WHERE id = ?", row)
    _, problems = audit.verify_chain(database, key_of(app))
    found = {(problem.chain, problem.problem) for problem in problems}
    assert (1, "inserted") in found and (made["branch"], "head") in found


def test_the_head_seal_covers_the_chain(app, database):
    made = second_branch(app, database)
    with storage.transaction(database):
        audit.append(database, key_of(app), audit.AuditEvent("login.succeeded", made["teller"],
                                                             data={}))
    head = ledger.head(database, made["branch"])
    assert audit.head_is_sealed(key_of(app), head)
    assert not audit.head_is_sealed(key_of(app), {**head, "chain": 1})


# --- an upgraded single-branch ledger (revision 0014) ------------------------------------------

LEGACY_KEY = b"u" * 32


def _write_one_chain(database, rows: int) -> None:
    """A ledger as before per-branch chains wrote it: hashes and seal without the chain."""
    prev = audit.GENESIS
    for row_id in range(1, rows + 1):
        data = f'{{"n": {row_id}}}'
        digest = audit.row_hash(LEGACY_KEY, prev, audit.canonical(
            row_id, "2026-12-01T09:00:00+08:00", None, "login.failed", None, data))
        database.execute("INSERT INTO ledger (id, at, actor_id, kind, session_id, data, prev_hash, "
                         "hash) VALUES (?, '2026-12-01T09:00:00+08:00', NULL, 'login.failed', "
                         "NULL, ?, ?, ?)", [row_id, data, prev, digest])
        prev = digest
    database.execute("DELETE FROM ledger_head")
    database.execute("INSERT INTO ledger_head (id, last_id, last_hash, seal) VALUES (1, ?, ?, ?)",
                     [rows, prev, audit.head_seal(LEGACY_KEY, rows, prev)])


def _upgraded_ledger_verifies(target) -> None:
    assert db.prepare(target) == [f"alembic 0013_head_office -> {db_migrate().HEAD}"]
    database = db.connect(target)
    try:
        assert audit.verify_chain(database, LEGACY_KEY) == (5, [])
        assert audit.key_seals_head(database, LEGACY_KEY)
        assert not audit.key_seals_head(database, b"x" * 32)
        assert ledger.head(database, 1)["plain_until"] == 5
        assert chain_of_rows(database, "1 = 1") == {1}
        with storage.transaction(database):  # new rows of chain 1 and of the bank's
            after = audit.append(database, LEGACY_KEY, audit.AuditEvent("login.failed", data={},
                                                                      chain=1))
            audit.append(database, LEGACY_KEY, audit.AuditEvent("login.failed", data={}))
        assert after == 6  # the numbering goes on after the old rows
        assert audit.verify_chain(database, LEGACY_KEY) == (7, [])
        assert audit.verify_chain(database, LEGACY_KEY, chain=1) == (6, [])
        # An old row edited is still found (the chain walk hashes it the old way).
        database.execute("UPDATE ledger SET data = '{\"n\": 9}' WHERE id = 2")
        if database.dialect == "sqlite":
            database.conn.commit()
        assert [(problem.chain, problem.row_id, problem.problem) for problem in
                audit.verify_chain(database, LEGACY_KEY)[1]] == [(1, 2, "edited")]
    finally:
        database.conn.close()


def db_migrate():
    from teller_guard.storage import migrate

    return migrate


def test_an_upgraded_single_branch_sqlite_ledger_becomes_chain_1_and_verifies(tmp_path):
    from test_storage_schema import sqlite_at

    path = tmp_path / "old.db"
    sqlite_at(path, "0013_head_office")
    database = db.connect(path)
    with db.write_transaction(database):
        _write_one_chain(database, 5)
    database.conn.close()
    _upgraded_ledger_verifies(path)


def test_an_upgraded_single_branch_postgresql_ledger_becomes_chain_1_and_verifies():
    from postgres_support import create_database, drop_database
    from test_storage_schema import back_to

    url = create_database("tg_chains")
    try:
        db.prepare(url)
        database = db.connect(url)
        try:
            back_to(database, "0013_head_office")
            _write_one_chain(database, 5)
        finally:
            database.conn.close()
        _upgraded_ledger_verifies(url)
    finally:
        drop_database(url)


# --- anchors record every chain's head ------------------------------------------------------


def test_anchors_record_every_chains_head_and_find_one_branch_rolled_back(
        app, database, runner, tmp_path, monkeypatch):
    import json

    from teller_guard import anchor

    folder = tmp_path / "anchors"
    monkeypatch.setenv("TELLER_GUARD_ANCHOR_DIR", str(folder))
    made = second_branch(app, database)
    key = key_of(app)

    def login_event():
        with storage.transaction(database):
            return audit.append(database, key, audit.AuditEvent("login.succeeded",
                                                                made["teller"], data={}))

    login_event()
    older = ledger.head(database, made["branch"])  # a backup's head of branch 0002's chain
    newest = login_event()
    assert runner.invoke(main, ["anchor", "--instance", app.instance_path]).exit_code == 0
    (line,) = anchor.anchor_file(folder, key).read_text(encoding="ascii").splitlines()
    entry = json.loads(line)
    heads = {head["chain"]: [head["last_id"], head["last_hash"]] for head in ledger.heads(database)}
    assert entry["v"] == 2 and entry["heads"] == {str(chain): head for chain, head in heads.items()}
    assert entry["heads"]["0"][0] == entry["last_id"]  # the anchor's own event, the bank's
    assert set(entry["heads"]) == {"0", "1", str(made["branch"])}
    verified = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert verified.exit_code == 0, verified.output

    # Branch 0002's chain put back as the backup had it: a valid chain with a valid seal.
    tamper(app, "DELETE FROM ledger WHERE id = ?", newest)
    tamper(app, "UPDATE ledger_head SET last_id = ?, last_hash = ?, seal = ? WHERE id = ?",
           older["last_id"], older["last_hash"], older["seal"], made["branch"])
    assert audit.verify_chain(database, key)[1] == []
    result = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert result.exit_code == 1
    assert (f"[锚点] 网点 0002 的账本链头（第 {older['last_id']} 行）早于最新锚点 #1"
            in result.output), result.output
    assert runner.invoke(main, ["verify", "--instance", app.instance_path,
                                "--branch", "0001"]).exit_code == 0
    only_2 = runner.invoke(main, ["verify", "--instance", app.instance_path, "--branch", "0002"])
    assert only_2.exit_code == 1 and "早于最新锚点" in only_2.output


def test_a_case_moved_to_another_branch_by_hand_is_found(app, client, database, runner):
    """sessions.branch_id decides which branch sees a case: it must be the chain of the
    screening's events."""
    made = second_branch(app, database)
    auth = AuthActions(client)
    auth.login("teller")
    case = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    auth.logout()
    assert runner.invoke(main, ["verify", "--instance", app.instance_path]).exit_code == 0
    tamper(app, "UPDATE sessions SET branch_id = ? WHERE id = ?", made["branch"], case)
    result = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert result.exit_code == 1
    assert f"[业务] 业务 #{case} 与账本不一致（branch_id），被绕过系统改动 (edited)" in result.output
