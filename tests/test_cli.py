import os
import sqlite3
import stat
import subprocess
import sys

from teller_guard import db
from teller_guard.cli import main


def test_init_creates_database_secret_and_admin(runner, tmp_path):
    result = runner.invoke(main, ["init", "--instance", str(tmp_path / "inst")])
    assert result.exit_code == 0, result.output
    assert "已创建管理员 admin" in result.output
    secret = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    database = db.connect(tmp_path / "inst" / "teller_guard.db")
    assert database["users"].count == 1
    database.conn.close()
    again = runner.invoke(main, ["init", "--instance", str(tmp_path / "inst")])
    assert again.exit_code == 0 and "已存在" in again.output


def test_instance_from_environment(runner, tmp_path):
    result = runner.invoke(main, ["init"], env={"TELLER_GUARD_INSTANCE": str(tmp_path / "env")})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env" / "teller_guard.db").exists()


def test_user_add_disable_reset(runner, tmp_path):
    inst = ["--instance", str(tmp_path / "inst")]
    assert runner.invoke(main, ["init", *inst]).exit_code == 0
    added = runner.invoke(main, ["user", "add", "zhang", "--role", "teller", "--name", "张三",
                                 "--staff-no", "T01", *inst])
    assert added.exit_code == 0 and "已新增用户 zhang（柜员）" in added.output
    duplicate = runner.invoke(main, ["user", "add", "zhang", "--role", "security", *inst])
    assert duplicate.exit_code == 1 and "用户名已存在" in duplicate.output
    assert runner.invoke(main, ["user", "disable", "zhang", *inst]).exit_code == 0
    reset = runner.invoke(main, ["user", "reset-password", "zhang", *inst])
    assert reset.exit_code == 0 and "新密码" in reset.output
    missing = runner.invoke(main, ["user", "disable", "nobody", *inst])
    assert missing.exit_code == 1 and "用户不存在" in missing.output


def test_user_edit_and_enable(runner, tmp_path):
    inst = ["--instance", str(tmp_path / "inst")]
    assert runner.invoke(main, ["init", *inst]).exit_code == 0
    assert runner.invoke(main, ["user", "add", "zhang", "--role", "teller", "--name", "张三",
                                "--staff-no", "T01", *inst]).exit_code == 0
    edited = runner.invoke(main, ["user", "edit", "zhang", "--role", "supervisor",
                                  "--staff-no", "S09", *inst])
    assert edited.exit_code == 0 and "已修改用户 zhang 的角色、工号" in edited.output, edited.output
    unchanged = runner.invoke(main, ["user", "edit", "zhang", "--name", "张三", *inst])
    assert unchanged.exit_code == 0 and "没有变化" in unchanged.output
    no_staff_no = runner.invoke(main, ["user", "edit", "zhang", "--staff-no", "", *inst])
    assert no_staff_no.exit_code == 1 and "必须填写工号" in no_staff_no.output
    missing = runner.invoke(main, ["user", "edit", "nobody", "--name", "某", *inst])
    assert missing.exit_code == 1 and "用户不存在" in missing.output
    assert runner.invoke(main, ["user", "disable", "zhang", *inst]).exit_code == 0
    assert runner.invoke(main, ["user", "enable", "zhang", *inst]).exit_code == 0

    database = db.connect(tmp_path / "inst" / "teller_guard.db")
    row = database.execute("SELECT role, display_name, staff_no, active FROM users"
                           " WHERE username = 'zhang'").fetchone()
    kinds = [kind for (kind,) in database.execute("SELECT kind FROM ledger ORDER BY id")]
    database.conn.close()
    assert tuple(row) == ("supervisor", "张三", "S09", 1)
    assert kinds.count("user.role_changed") == 1 and kinds.count("user.details_changed") == 1
    assert kinds[-2:] == ["user.disabled", "user.enabled"]


def test_python_dash_m_runs_the_command(tmp_path):
    # `python -m teller_guard.cli` used to fail on a circular import (the module ran twice).
    for module in ("teller_guard.cli", "teller_guard"):
        done = subprocess.run([sys.executable, "-m", module, "user", "--help"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "reset-password" in done.stdout


def test_backup_is_consistent_and_checked(runner, tmp_path):
    inst = ["--instance", str(tmp_path / "inst")]
    runner.invoke(main, ["init", *inst])
    dest = tmp_path / "copy.db"
    result = runner.invoke(main, ["backup", str(dest), *inst])
    assert result.exit_code == 0 and "完整性检查: ok" in result.output
    copy = sqlite3.connect(dest)
    assert copy.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    copy.close()
    refused = runner.invoke(main, ["backup", str(dest), *inst])
    assert refused.exit_code == 1 and "目标文件已存在" in refused.output


def test_corrupt_database_is_reported_with_its_path(runner, tmp_path):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "teller_guard.db").write_bytes(b"this is not a database" * 100)
    result = runner.invoke(main, ["init", "--instance", str(inst)])
    assert result.exit_code == 1
    assert str(inst / "teller_guard.db") in result.output
    assert "Traceback" not in result.output


def test_locked_database_is_reported(runner, tmp_path):
    inst = ["--instance", str(tmp_path / "inst")]
    runner.invoke(main, ["init", *inst])
    holder = sqlite3.connect(tmp_path / "inst" / "teller_guard.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        original = db.BUSY_TIMEOUT_MS
        db.BUSY_TIMEOUT_MS = 100
        result = runner.invoke(main, ["init", *inst])
    finally:
        db.BUSY_TIMEOUT_MS = original
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert "teller_guard.db" in result.output and "Traceback" not in result.output


def test_unwritable_instance_is_reported(runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(main, ["init", "--instance", str(blocker / "inst")])
    assert result.exit_code == 1
    assert str(blocker / "inst") in result.output and "Traceback" not in result.output
