"""The `teller-guard` command: serve, init, user, backup and the operator tools."""

from __future__ import annotations

import functools
import logging
import sqlite3
import sys
from pathlib import Path

import click

from . import config, db, disk_full, pii_key, settings, storage, users
from .app import create_app
from .storage import sessions as session_store
from .storage import settings as settings_store
from .web_context import app_db

DEMO_USERS = (
    ("teller1", "teller", "王柜员", "T001"),
    ("supervisor1", "supervisor", "李主管", "S001"),
    ("security1", "security", "赵安保", "B001"),
    ("admin1", "admin", "陈管理员", "A001"),
)


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


def prepare_database(app, thorough: bool = False) -> None:
    try:
        applied = db.prepare(app.config["DATABASE"], thorough)
    except db.DatabaseUnavailable as error:
        fail(str(error))
    if applied:
        click.echo(f"数据库已更新: {app.config['DATABASE']} ({len(applied)} 个迁移)")
    database = db.connect(app.config["DATABASE"])
    try:
        with storage.transaction(database):
            pii_key.check_unchanged(database, app.extensions["teller_guard"]["pii_key"])
    except pii_key.PiiKeyMismatch as error:
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
    click.echo(f"已创建管理员 {admin_username}，密码: {password}")


def seed_demo(app, days: int = 21, accounts: list | None = None) -> list[tuple[str, str, str]]:
    """Demo branch settings and one account per role, with fresh passwords each start.
    `accounts` receives each account as soon as it is stored (kept if a later write fails)."""
    accounts = [] if accounts is None else accounts
    with app_db(app) as (database, key):
        if not settings_store.branch_settings(database):
            settings.save(database, key, settings.DEMO_SETTINGS)
        for username, role, name, staff_no in DEMO_USERS:
            if users.find_user(database, username):
                users.set_active(database, key, username, True)
                password = users.reset_password(database, key, username)
            else:
                password = users.generate_password()
                users.create_user(database, key, username, password, role, name, staff_no)
            accounts.append((users.ROLES[role], username, password))
        if not session_store.count(database):
            seed_demo_sessions(app, database, days)
    return accounts


def seed_demo_sessions(app, database, days: int) -> int:
    from . import demo
    from .screening.service import Keys

    keys = app.extensions["teller_guard"]
    teller = users.find_user(database, "teller1")["id"]
    supervisor = users.find_user(database, "supervisor1")["id"]
    count = demo.seed_sessions(database, Keys(keys["ledger_key"], keys["pii_key"]),
                               settings.load(database), [teller], supervisor, days=days)
    click.echo(f"已生成 {count} 条演示问询记录（近 {days} 天）。")
    return count


@main.command()
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Initialise if needed and create demo accounts.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Server processes sharing the port (Linux, SO_REUSEPORT). One waitress process "
                   "uses one core (Python's GIL); each worker adds one.")
@click.option("--worker-of", "parent_pid", type=int, default=None, hidden=True,
              help="Internal: a worker started by --workers in process PARENT_PID (binds with "
                   "SO_REUSEPORT, exits with that process).")
def serve(app, host, port, threads, demo, workers, parent_pid):
    """Serve the app with waitress."""
    import waitress

    if parent_pid is None:  # a worker's parent has prepared the database and checked the key
        prepare_database(app)
        from .review.cli import start_anchoring

        start_anchoring(app)  # the parent of --workers anchors for all of them
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
        for role_label, username, password in accounts:
            click.echo(f"  {role_label}: 用户名 {username}  密码 {password}")
    click.echo(f"teller_guard 已启动: http://{host}:{port}/  (按 Ctrl+C 停止)")
    # Under a burst waitress warns "Task queue depth is N" once per queued request: requests
    # still complete, and a flood of warnings would bury the errors that matter.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    from . import telemetry

    telemetry.configure_access_log(app.config["ACCESS_LOG"])
    if workers > 1:
        sys.exit(run_workers(app, host, port, threads, workers))
    if parent_pid is not None:
        exit_with_parent(parent_pid)
        waitress.serve(app, sockets=[reuse_port_socket(host, port)], threads=threads,
                       ident="teller_guard")
    else:
        waitress.serve(app, host=host, port=port, threads=threads, ident="teller_guard")


def reuse_port_socket(host: str, port: int):
    """A listening socket that other workers bind too; the kernel spreads connections."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def exit_with_parent(parent: int) -> None:
    """A worker must not outlive the `serve --workers` process that started it (even one killed
    with SIGKILL, which cannot forward anything): it checks once a second and exits. The parent's
    pid comes from the command line, not from getppid() at start-up: a parent killed while the
    worker was still starting would already have handed it to init."""
    import os
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_workers(app, host: str, port: int, threads: int, workers: int) -> int:
    """Start `workers` server processes on one port and wait; stop them all on a signal.

    Each worker is a fresh `teller-guard serve` (no fork of this process and its threads).
    Writers of all workers queue on one file lock (db.write_transaction); the API rate limit is
    counted in one file for all of them (rate_limit.py).
    """
    import os
    import signal
    import socket
    import subprocess
    import time

    if not hasattr(socket, "SO_REUSEPORT"):
        fail("--workers 大于 1 需要支持 SO_REUSEPORT 的系统（Linux）")
    # The workers must run this very package: -P keeps the current directory (which may hold
    # another teller_guard/ folder) off their import path, and the folder this package was
    # imported from goes first.
    package_root = str(Path(__file__).resolve().parent.parent)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    # The workers' request metrics, added up by whichever of them /metrics reaches.
    from . import telemetry

    metrics_folder = telemetry.share_between_workers(app.instance_path, os.getpid())
    if metrics_folder:
        environment[telemetry.MULTIPROC_ENV] = metrics_folder
    command = [sys.executable, "-P", "-c", "from teller_guard.cli import main; main()",
               "serve", "--worker-of", str(os.getpid()),
               "--instance", app.instance_path, "--host", host, "--port", str(port),
               "--threads", str(threads)]
    children = [subprocess.Popen(command, env=environment) for _ in range(workers)]
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Serve until asked to stop or until any worker ends by itself: then stop the rest too,
    # rather than go on with fewer workers unnoticed.
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.5)
    asked_to_stop = bool(stopping)
    stop(None, None)
    for child in children:
        child.wait()
    if metrics_folder:
        import shutil

        shutil.rmtree(metrics_folder, ignore_errors=True)
    if not asked_to_stop:
        click.echo("错误: 一个服务进程意外退出，已停止全部服务进程", err=True)
        return 1
    return 0


@main.group()
def user():
    """Manage accounts: add, disable, reset-password."""


@user.command("add")
@instance_option
@click.argument("username")
@click.option("--role", type=click.Choice(list(users.ROLES)), required=True)
@click.option("--name", "display_name", default="")
@click.option("--staff-no", default="")
@click.option("--password", default=None, help="Generated and printed when omitted.")
def user_add(app, username, role, display_name, staff_no, password):
    prepare_database(app)
    password = password or users.generate_password()
    with app_db(app) as (database, key):
        try:
            users.create_user(database, key, username, password, role, display_name, staff_no)
        except users.UserError as error:
            fail(str(error))
    click.echo(f"已新增用户 {username}（{users.ROLES[role]}），密码: {password}")


@user.command("disable")
@instance_option
@click.argument("username")
def user_disable(app, username):
    prepare_database(app)
    with app_db(app) as (database, key):
        try:
            users.set_active(database, key, username, False)
        except users.UserError as error:
            fail(str(error))
    click.echo(f"已停用用户 {username}")


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
    click.echo(f"已重置 {username} 的密码，新密码: {password}")


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

