"""Branches as data (issue 16, item 1): the branches table, branch 1 of an upgraded
single-branch instance, and the branch a user, a screening and the settings belong to."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, replace
from decimal import Decimal

import pytest

from teller_guard import db, settings, users
from teller_guard.storage import branches as branch_store
from teller_guard.storage import migrate
from teller_guard.storage.schema import DEFAULT_BRANCH

pytestmark = pytest.mark.both_backends


def test_the_schema_starts_with_branch_1_as_the_default_settings(tmp_path):
    assert settings.of_row({**DEFAULT_BRANCH}) == settings.BranchSettings()
    db.prepare(tmp_path / "new.db")
    database = db.connect(tmp_path / "new.db")
    try:
        assert settings.load(database, 1) == settings.BranchSettings()
        assert branch_store.is_unchanged_default(database)
    finally:
        database.conn.close()


def test_a_new_database_has_branch_1_and_the_next_branch_is_2(app, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    assert [row["code"] for row in branch_store.all_branches(database)] == ["0001"]
    before = settings.load(database, 1)
    second = settings.create_branch(database, key, "0002", replace(
        settings.BranchSettings(), branch_name="桥东支行", large_amount=Decimal("30000")))
    assert second == 2
    assert settings.load(database, 2).branch_name == "桥东支行"
    assert settings.load(database, 1) == before  # untouched
    with pytest.raises(settings.BranchError, match="已存在"):
        settings.create_branch(database, key, "0002", settings.BranchSettings())


def test_settings_saved_for_one_branch_leave_the_others(app, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    second = settings.create_branch(database, key, "0002", settings.BranchSettings())
    settings.save(database, key, replace(settings.BranchSettings(), elderly_age=65),
                  branch_id=second)
    assert settings.load(database, second).elderly_age == 65
    assert settings.load(database, 1).elderly_age == 60
    event = database.execute("SELECT data FROM ledger WHERE kind = 'settings.changed'"
                             ).fetchall()[-1][0]
    assert json.loads(event) == {"elderly_age": {"before": 60, "after": 65}, "branch": second}


def test_a_screening_belongs_to_its_tellers_branch_and_uses_its_settings(
        app, client, auth, database):
    from conftest import csrf_token
    from screening_helpers import BENIGN_FACTS, post_facts, session_id_from

    key = app.extensions["teller_guard"]["ledger_key"]
    second = settings.create_branch(database, key, "0002", replace(
        settings.BranchSettings(), branch_name="桥东支行", large_amount=Decimal("1000")))
    users.create_user(database, key, "qd_teller", "Teller-pass-2", "teller", "柜员二", "T2",
                      must_change=False, branch_id=second)
    pages = {}
    for username, password in (("qd_teller", "Teller-pass-2"), ("teller", None)):
        auth.login(username, password)
        session_id = session_id_from(post_facts(client, {**BENIGN_FACTS, "amount": "2000"}))
        pages[username] = (session_id, client.get(f"/screening/{session_id}/questions")
                           .get_data(as_text=True))
        client.post("/logout", data={"csrf_token": csrf_token(client, "/screening/")})
    branch_of = dict(database.execute("SELECT id, branch_id FROM sessions").fetchall())
    assert branch_of == {pages["qd_teller"][0]: second, pages["teller"][0]: 1}
    # The page header names the teller's own branch (the other branch may still be named by
    # the cross-branch signals, as both paid the same payee).
    def header(page):
        return re.search(r'<span class="brand-office">([^<]*)</span>', page).group(1)

    assert header(pages["qd_teller"][1]) == "桥东支行" and header(pages["teller"][1]) != "桥东支行"
    # 2,000 yuan passes branch 2's large-amount line (1,000), not branch 1's (50,000): only
    # there is the teller asked to confirm the use of a large amount.
    assert 'name="answers.use_confirmed"' in pages["qd_teller"][1]
    assert 'name="answers.use_confirmed"' not in pages["teller"][1]


def test_head_office_accounts_have_no_branch_and_cannot_become_branch_roles(app, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    user_id = users.create_user(database, key, "zh1", "Head-office-1", "ho_security",
                                "总行反诈", must_change=False, branch_id=1)
    assert users.get_user(database, user_id).branch_id is None
    assert users.get_user(database, user_id).has_role("security")
    with pytest.raises(users.UserError, match="总行角色与网点角色"):
        users.update_user(database, key, user_id, "security", "总行反诈", "")
    with pytest.raises(users.UserError, match="所属网点"):
        users.create_user(database, key, "t9", "Teller-pass-9", "teller", "柜员", "T9",
                          branch_id=42)


def test_a_single_branch_instance_becomes_branch_1_with_its_settings(tmp_path):
    from test_storage_schema import sqlite_at

    path = tmp_path / "old.db"
    sqlite_at(path, "0008_stats_level_outcome")
    with sqlite3.connect(path) as connection:
        for name, value in {"branch_name": "沙河支行", "large_amount": "30000",
                            "elderly_age": 65, "slip_paper": "roll80"}.items():
            connection.execute("INSERT INTO settings (key, value) VALUES (?, ?)",
                               [name, json.dumps(value, ensure_ascii=False)])
        connection.execute("INSERT INTO users (username, role, password_hash) "
                           "VALUES ('t', 'teller', 'x')")
        connection.execute("INSERT INTO sessions (reference, teller_id, started_at, status) "
                           "VALUES ('TG20261202-000001', 1, '2026-12-02T09:00:00+08:00', 'draft')")
    assert db.prepare(path) == [f"alembic 0008_stats_level_outcome -> {migrate.HEAD}"]
    database = db.connect(path)
    try:
        loaded = settings.load(database, 1)
        assert asdict(loaded) == {**asdict(settings.BranchSettings()), "branch_name": "沙河支行",
                                  "large_amount": Decimal("30000"), "elderly_age": 65,
                                  "slip_paper": "roll80"}
        assert database.execute("SELECT count(*) FROM settings").fetchone()[0] == 0
        assert database.execute("SELECT branch_id FROM users").fetchall() == [(1,)]
        assert database.execute("SELECT branch_id FROM sessions").fetchall() == [(1,)]
    finally:
        database.conn.close()
