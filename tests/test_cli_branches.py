"""`teller-guard branch add|list` and the branch of `teller-guard user add|edit` (issue 16)."""

from __future__ import annotations

import json

import pytest

from teller_guard import db, settings, users
from teller_guard.cli import main
from teller_guard.storage import branches as branch_store


@pytest.fixture
def inst(runner, tmp_path):
    inst = ["--instance", str(tmp_path / "inst")]
    assert runner.invoke(main, ["init", *inst]).exit_code == 0
    return inst


def opened(inst):
    return db.connect(f"{inst[1]}/teller_guard.db")


def test_branch_add_and_list(runner, inst):
    added = runner.invoke(main, ["branch", "add", "0002", "--name", "桥东支行",
                                 "--province", "河北省", "--city", "邢台市",
                                 "--large-amount", "30,000", *inst])
    assert added.exit_code == 0, added.output
    assert "已新增网点 0002 桥东支行（#2，河北省邢台市）" in added.output
    database = opened(inst)
    try:
        loaded = settings.load(database, 2)
        assert (loaded.branch_name, loaded.city, str(loaded.large_amount), loaded.bank_name) == (
            "桥东支行", "邢台市", "30000.00", settings.load(database, 1).bank_name)
        [event] = database.execute("SELECT data FROM ledger WHERE kind = 'branch.created'"
                                   ).fetchall()
        assert json.loads(event[0])["code"] == "0002"
    finally:
        database.conn.close()
    assert runner.invoke(main, ["user", "add", "qd1", "--role", "teller", "--staff-no", "T2",
                                "--branch", "0002", *inst]).exit_code == 0
    listed = runner.invoke(main, ["branch", "list", *inst])
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        "0001\t示例支行\t河北省邢台市\t用户 1\t问询 0",  # init's admin
        "0002\t桥东支行\t河北省邢台市\t用户 1\t问询 0"]
    as_json = json.loads(runner.invoke(main, ["branch", "list", "--json", *inst]).output)
    assert [(row["code"], row["users"], row["large_amount"]) for row in as_json] == [
        ("0001", 1, "50000"), ("0002", 1, "30000.00")]


@pytest.mark.parametrize(("arguments", "message"), [
    (["0001", "--name", "重复", "--province", "河北省"], "网点代码已存在: 0001"),
    (["04 27", "--name", "西区", "--province", "河北省"], settings.CODE_RULE),
    (["0005", "--name", "西区", "--province", "河北"], "省份无效: 河北"),
    (["0005", "--name", "西区", "--province", "河北省", "--large-amount", "0"], "大额标准应在"),
    (["0005", "--name", "西区", "--province", "河北省", "--large-amount", "五万"], "大额标准无效"),
])
def test_branch_add_refuses_bad_input_in_chinese(runner, inst, arguments, message):
    result = runner.invoke(main, ["branch", "add", *arguments, *inst])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output
    database = opened(inst)
    try:
        assert len(branch_store.all_branches(database)) == 1
    finally:
        database.conn.close()


def test_user_add_takes_the_only_branch_and_needs_one_named_among_several(runner, inst):
    only = runner.invoke(main, ["user", "add", "t1", "--role", "teller", "--staff-no", "T1", *inst])
    assert only.exit_code == 0 and "所属网点: 0001 示例支行" in only.output, only.output
    assert runner.invoke(main, ["branch", "add", "0002", "--name", "桥东支行",
                                "--province", "河北省", *inst]).exit_code == 0
    several = runner.invoke(main, ["user", "add", "t2", "--role", "teller", "--staff-no", "T2",
                                   *inst])
    assert several.exit_code == 1 and "有 2 个网点，请用 --branch 指定网点代码" in several.output
    unknown = runner.invoke(main, ["user", "add", "t2", "--role", "teller", "--staff-no", "T2",
                                   "--branch", "0099", *inst])
    assert unknown.exit_code == 1 and "网点不存在: 0099" in unknown.output
    named = runner.invoke(main, ["user", "add", "t2", "--role", "teller", "--staff-no", "T2",
                                 "--branch", "0002", *inst])
    assert named.exit_code == 0 and "所属网点: 0002 桥东支行" in named.output
    head_office = runner.invoke(main, ["user", "add", "zh1", "--role", "ho_admin",
                                       "--branch", "0002", *inst])
    assert head_office.exit_code == 1 and "总行角色，不属于任何网点" in head_office.output
    assert runner.invoke(main, ["user", "add", "zh1", "--role", "ho_admin", *inst]).exit_code == 0
    database = opened(inst)
    try:
        branch_of = {name: users.find_user(database, name) for name in ("t1", "t2", "zh1")}
        assert {name: row["branch_id"] for name, row in branch_of.items()} == {
            "t1": 1, "t2": 2, "zh1": None}
        assert users.find_user(database, "zh1")["role"] == "ho_admin"
    finally:
        database.conn.close()


def test_user_edit_moves_a_user_to_another_branch(runner, inst):
    assert runner.invoke(main, ["branch", "add", "0002", "--name", "桥东支行",
                                "--province", "河北省", *inst]).exit_code == 0
    assert runner.invoke(main, ["user", "add", "t1", "--role", "teller", "--staff-no", "T1",
                                "--branch", "0001", *inst]).exit_code == 0
    moved = runner.invoke(main, ["user", "edit", "t1", "--branch", "0002", *inst])
    assert moved.exit_code == 0 and "已修改用户 t1 的所属网点" in moved.output, moved.output
    again = runner.invoke(main, ["user", "edit", "t1", "--branch", "0002", *inst])
    assert again.exit_code == 0 and "没有变化" in again.output
    database = opened(inst)
    try:
        assert users.find_user(database, "t1")["branch_id"] == 2
        [event] = database.execute("SELECT data FROM ledger WHERE kind = 'user.branch_changed'"
                                   ).fetchall()
        assert json.loads(event[0])["previous_branch"] == 1
    finally:
        database.conn.close()
    verified = runner.invoke(main, ["verify", *inst])
    assert verified.exit_code == 0, verified.output
