"""The `teller-guard` command: serve, init, user, backup and the operator tools."""

from __future__ import annotations

import functools
import logging
import sqlite3
import sys
from pathlib import Path

import click

from . import audit, bank_zone, config, db, disk_full, pii_key, settings, storage, users
from .app import create_app
from .storage import branches as branch_store
from .storage import copying
from .web_context import app_db

if __name__ == "__main__":
    # `python -m teller_guard.cli` runs this file as __main__; the subcommand modules import
    # `teller_guard.cli`, which would be a second, half-built copy. Run the imported one.
    from teller_guard.cli import main as _imported_main

    sys.exit(_imported_main())

def instance_option(command):
    """Every command takes --instance PATH (or TELLER_GUARD_INSTANCE; default ./instance)."""

    @click.option("--instance", "instance_path", type=click.Path(file_okay=False, path_type=Path),
                  envvar="TELLER_GUARD_INSTANCE", default=None,
                  help="Instance folder holding the database and secret key.")
    @functools.wraps(command)
    def wrapper(*args, instance_path=None, **kwargs):
        # create_app checks every setting and loads the rules: a broken configuration stops
        # every command here, before it does anything.
        try:
            app = create_app(instance_path=instance_path)
        except config.ConfigError as error:
            fail(f"配置错误 (configuration error): {error}", CONFIG_ERROR)
        except OSError as error:
            fail(f"无法使用实例目录 {instance_path or Path.cwd() / 'instance'}: {error}")
        return command(app, *args, **kwargs)

    return wrapper


CONFIG_ERROR = 2  # exit status for a configuration that cannot be used


def fail(message: str, status: int = 1) -> None:
    click.echo(f"错误: {message}", err=True)
    sys.exit(status)


def prepare_database(app, thorough: bool = False, err: bool = False) -> None:
    """Migrate and check the database. `err`: report on standard error (for commands whose
    standard output a script reads)."""
    try:
        applied = db.prepare(app.config["DATABASE"], thorough)
    except db.DatabaseUnavailable as error:
        fail(str(error))
    if applied:
        click.echo(f"数据库已更新: {db.describe(app.config['DATABASE'])} ({len(applied)} 个迁移)", err=err)
    database = db.connect(app.config["DATABASE"])
    try:
        if copying.progress(database) is not None:
            fail(f"数据库 {db.describe(app.config['DATABASE'])} 是 teller-guard migrate-db 未完成的迁移副本："
                 "请先重新运行 migrate-db 完成迁移，再使用它")
        with storage.transaction(database):
            pii_key.check_unchanged(database, app.extensions["teller_guard"]["pii_key"])
            bank_zone.check_unchanged(database, app.config["TIME_ZONE"])
        if not audit.key_seals_head(database, app.extensions["teller_guard"]["ledger_key"]):
            fail(f"实例密钥（{app.instance_path}/secret_key 或 SECRET_KEY）与数据库 "
                 f"{db.describe(app.config['DATABASE'])} 的审计链不一致：用它记录的事件将无法通过校验。"
                 "请使用与其他服务器相同的实例密钥（见 README“Running bank-wide”）。")
    except (pii_key.PiiKeyMismatch, bank_zone.ZoneMismatch) as error:
        fail(str(error))
    except sqlite3.DatabaseError as error:  # e.g. a damaged page the quick start check skips
        fail(damaged(app.config["DATABASE"], error))
    finally:
        database.conn.close()


def damaged(path, error) -> str:
    return (f"数据库文件已损坏 {path}: {error}。请运行 teller-guard verify --pages 检查每一页，"
            "并从备份恢复（teller-guard backup 的副本）")


@click.group()
@click.version_option(package_name="teller_guard")
def main():
    """teller_guard 柜面转账风险筛查."""


@main.command()
@instance_option
@click.option("--admin-username", default="admin", show_default=True)
@click.option("--admin-password", default=None, help="Generated and printed when omitted.")
def init(app, admin_username, admin_password):
    """Create the database and the first admin account."""
    prepare_database(app)
    with app_db(app) as (database, key):
        if users.find_user(database, admin_username):
            click.echo(f"管理员 {admin_username} 已存在，未做改动。")
            return
        password = admin_password or users.generate_password()
        try:
            users.create_user(database, key, admin_username, password, "admin", "管理员")
        except users.UserError as error:
            fail(str(error))
    click.echo(f"已创建管理员 {admin_username}，密码: {password}（首次登录后须修改）")


@main.command()
@instance_option
def migrate(app):
    """Create or upgrade the database schema and record the PII key (run once before starting
    gunicorn, whose workers never change the schema)."""
    from .storage import migrate as schema

    prepare_database(app)
    click.echo(f"数据库结构为最新版本 {schema.HEAD}: {db.describe(app.config['DATABASE'])}")


def seed_demo(app, days: int = 21, accounts: list | None = None
              ) -> list[tuple[str, str, str, str]]:
    """The demo bank (demo.py): its three branches, one account per role in each and two at
    head office, with fresh passwords each start, and screenings on first start. `accounts`
    receives (where, role label, username, password) of each account as soon as it is stored
    (kept if a later write fails)."""
    from . import demo

    accounts = [] if accounts is None else accounts
    with app_db(app) as (database, key):
        branch_ids = demo.branch_ids(database, key)
        every = demo.accounts(branch_ids)
        # Demo passwords are printed at every start and never need changing.
        passwords = [users.generate_password() for _ in every]
        hashes = users.hash_passwords(passwords)
        for (username, role, name, staff_no, branch_id, where), password, password_hash in zip(
                every, passwords, hashes, strict=True):
            if users.find_user(database, username):
                users.set_active(database, key, username, True)
                users.reset_password(database, key, username, password, must_change=False,
                                     password_hash=password_hash)
            else:
                users.create_user(database, key, username, password, role, name, staff_no,
                                  must_change=False, branch_id=branch_id,
                                  password_hash=password_hash)
            accounts.append((where, users.ROLES[role], username, password))
        screened = {row["id"]: row["screenings"] for row in branch_store.with_counts(database)}
        # A branch with no screening gets its weeks of them (a single-branch demo instance from
        # before issue 16 gains the two new branches' and the mule's).
        empty = {branch_id for branch_id in branch_ids if not screened.get(branch_id)}
        if empty:
            seed_demo_sessions(app, database, days, branch_ids, empty)
    return accounts


def seed_demo_sessions(app, database, days: int, branch_ids: list[int], empty: set[int]) -> int:
    from . import demo
    from .screening.service import Keys

    extension = app.extensions["teller_guard"]
    keys = Keys(extension["ledger_key"], extension["pii_key"])
    count, mule_branches = 0, []
    for demo_branch, branch_id in zip(demo.DEMO_BRANCHES, branch_ids, strict=True):
        teller = users.find_user(database, f"{demo_branch.prefix}teller1")["id"]
        supervisor = users.find_user(database, f"{demo_branch.prefix}supervisor1")["id"]
        loaded = settings.load(database, branch_id)
        if branch_id in empty:
            count += demo.seed_sessions(database, keys, loaded, [teller], supervisor,
                                        days=days, per_day=demo_branch.per_day,
                                        seed=demo_branch.seed)
        mule_branches.append((loaded, teller, supervisor))
    count += demo.seed_mule_payments(database, keys, mule_branches)
    click.echo(f"已生成 {count} 条演示问询记录（{len(empty)} 个网点，近 {days} 天）。")
    return count


@main.command()
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Initialise if needed and create demo accounts.")
def serve(app, host, port, threads, demo):
    """Serve the app with waitress: one process, its threads sharing one SQLite file."""
    import waitress

    prepare_database(app)
    from .review.cli import start_anchoring

    start_anchoring(app)
    if demo:
        click.echo("演示模式：以下账户仅供演示，每次启动都会重新生成密码。")
        accounts = []
        try:
            seed_demo(app, accounts=accounts)
        except sqlite3.OperationalError as error:
            if not disk_full.is_disk_full(error):
                raise
            # Serve anyway: what is stored can still be read, and writes resume with space.
            click.echo("  磁盘空间不足：以下未列出的演示账户沿用上次的密码，演示数据未能写入。"
                       "服务照常启动，可查看已有内容；清理磁盘后即可继续办理。", err=True)
        for where, role_label, username, password in accounts:
            click.echo(f"  {where} {role_label}: 用户名 {username}  密码 {password}")
    click.echo(f"teller_guard 已启动: http://{host}:{port}/  (按 Ctrl+C 停止)")
    # Under a burst waitress warns "Task queue depth is N" once per queued request: requests
    # still complete, and a flood of warnings would bury the errors that matter.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    from . import telemetry

    telemetry.configure_access_log(app.config["ACCESS_LOG"])
    waitress.serve(app, host=host, port=port, threads=threads, ident="teller_guard")


@main.group()
def user():
    """Manage accounts: add, edit, disable, enable, reset-password."""


def branch_of_new_user(database, role: str, code: str | None) -> tuple[int | None, str]:
    """(branch id, label) of `user add`'s account: the branch coded `code`; without one the
    only branch there is (several: the operator must say which). Head-office roles have none."""
    if role in users.HEAD_OFFICE_ROLES:
        if code is not None:
            fail(f"{users.ROLES[role]}是总行角色，不属于任何网点：请去掉 --branch")
        return None, "总行"
    if code is None:
        every = branch_store.all_branches(database)
        if len(every) > 1:
            fail(f"有 {len(every)} 个网点，请用 --branch 指定网点代码（teller-guard branch list 列出全部网点）")
        found = every[0]
    else:
        found = branch_store.by_code(database, code.strip())
        if found is None:
            fail(f"网点不存在: {code}（teller-guard branch list 列出全部网点）")
    return found["id"], f"{found['code']} {found['name']}"


@user.command("add")
@instance_option
@click.argument("username")
@click.option("--role", type=click.Choice(list(users.ROLES)), required=True)
@click.option("--name", "display_name", default="")
@click.option("--staff-no", default="")
@click.option("--branch", "branch_code", default=None, metavar="CODE",
              help="The branch's code (teller-guard branch list); may be left out while there "
                   "is one branch. Not for head-office roles.")
@click.option("--password", default=None, help="Generated and printed when omitted.")
def user_add(app, username, role, display_name, staff_no, branch_code, password):
    prepare_database(app)
    password = password or users.generate_password()
    with app_db(app) as (database, key):
        branch_id, where = branch_of_new_user(database, role, branch_code)
        try:
            users.create_user(database, key, username, password, role, display_name, staff_no,
                              branch_id=branch_id)
        except users.UserError as error:
            fail(str(error))
    click.echo(f"已新增用户 {username}（{users.ROLES[role]}），所属网点: {where}，密码: {password}"
               "（首次登录后须修改）")


@user.command("disable")
@instance_option
@click.argument("username")
def user_disable(app, username):
    _set_active(app, username, False)


def _set_active(app, username: str, active: bool) -> None:
    prepare_database(app)
    with app_db(app) as (database, key):
        try:
            users.set_active(database, key, username, active)
        except users.UserError as error:
            fail(str(error))
    click.echo(f"已{'启用' if active else '停用'}用户 {username}")


@user.command("edit")
@instance_option
@click.argument("username")
@click.option("--role", type=click.Choice(list(users.ROLES)), default=None)
@click.option("--name", "display_name", default=None)
@click.option("--staff-no", default=None)
@click.option("--branch", "branch_code", default=None, metavar="CODE",
              help="Move the account to this branch (its login sessions end).")
def user_edit(app, username, role, display_name, staff_no, branch_code):
    """Change an account's role, name, 工号 or branch (options left out keep their value)."""
    prepare_database(app)
    with app_db(app) as (database, key):
        row = users.find_user(database, username)
        if row is None:
            fail(f"用户不存在: {username}")
        target = None
        if branch_code is not None:
            target = branch_store.by_code(database, branch_code.strip())
            if target is None:
                fail(f"网点不存在: {branch_code}（teller-guard branch list 列出全部网点）")
        try:
            changed = users.update_user(
                database, key, row["id"], role or row["role"],
                row["display_name"] if display_name is None else display_name,
                (row["staff_no"] or "") if staff_no is None else staff_no)
            if target is not None and users.move_to_branch(database, key, row["id"],
                                                           target["id"]) is not None:
                changed.append("branch")
        except users.UserError as error:
            fail(str(error))
    if not changed:
        click.echo(f"用户 {username} 没有变化")
        return
    names = {"role": "角色", "display_name": "姓名", "staff_no": "工号", "branch": "所属网点"}
    click.echo(f"已修改用户 {username} 的" + "、".join(names[name] for name in changed))


@user.command("enable")
@instance_option
@click.argument("username")
def user_enable(app, username):
    _set_active(app, username, True)


@user.command("reset-password")
@instance_option
@click.argument("username")
@click.option("--password", default=None, help="Generated and printed when omitted.")
def user_reset(app, username, password):
    prepare_database(app)
    with app_db(app) as (database, key):
        try:
            password = users.reset_password(database, key, username, password)
        except users.UserError as error:
            fail(str(error))
    click.echo(f"已重置 {username} 的密码，新密码: {password}（登录后须修改）")


@main.command()
@instance_option
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
def backup(app, destination):
    """Online, consistent copy of the database, checked with PRAGMA integrity_check."""
    prepare_database(app)
    if destination.exists():
        fail(f"目标文件已存在: {destination}")
    try:
        verdict = db.backup(app.config["DATABASE"], destination)
    except Exception as error:  # noqa: BLE001 - any failure is reported, never a traceback
        fail(f"备份失败 {destination}: {error}")
    if verdict != "ok":
        fail(f"备份文件完整性检查未通过 {destination}: {verdict}")
    click.echo(f"已备份到 {destination}（完整性检查: ok）")


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def backtest(args):
    """Run the risk rules over a labelled corpus: teller-guard backtest CASES.jsonl [--rules F]."""
    from .risk import backtest as risk_backtest

    sys.exit(risk_backtest.main(list(args)))


@main.command()
@click.option("--fields-table", is_flag=True,
              help="Print the request fields as the Markdown table in the README instead.")
def openapi(fields_table):
    """Print the JSON API's OpenAPI 3.1 document (as served at /api/v1/openapi.json)."""
    import json

    from . import api_schema

    if fields_table:
        click.echo(api_schema.fields_table())
    else:
        click.echo(json.dumps(api_schema.openapi_document(), ensure_ascii=False, indent=2))


from .review.cli import anchor, redact, verify  # noqa: E402

main.add_command(verify)
main.add_command(anchor)
main.add_command(redact)

from .printing_web.cli import send_alerts  # noqa: E402

main.add_command(send_alerts)

from . import migrate_db  # noqa: E402, F401 - adds `migrate-db` to main (importable first too)
from .token_cli import token  # noqa: E402

main.add_command(token)

from .branch_cli import branch  # noqa: E402

main.add_command(branch)

