"""`teller-guard verify`, `anchor` and `redact` (registered at the end of teller_guard/cli.py),
and the daily anchor that `serve` starts."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from .. import anchor as anchoring
from .. import db, labels
from ..cli import damaged, fail, instance_option, prepare_database
from ..storage import branches as branch_store
from ..storage import ledger, postgres
from ..web_context import app_db
from . import integrity, retention


def anchor_dir(app) -> Path | None:
    """ANCHOR_DIR, or exit 2 with the reason when it cannot be used."""
    try:
        return anchoring.anchor_dir(app.config, app.instance_path)
    except anchoring.AnchorConfigError as error:
        click.echo(f"配置错误: {error}", err=True)
        sys.exit(2)


def start_anchoring(app) -> anchoring.DailyAnchor | None:
    """For `serve`: check ANCHOR_DIR and, when set, anchor the chain now and then daily."""
    directory = anchor_dir(app)
    if directory is None:
        return None
    return anchoring.DailyAnchor(app.config["DATABASE"],
                                 app.extensions["teller_guard"]["ledger_key"], directory,
                                 app.config).start()


@click.command()
@instance_option
@click.option("--pages", is_flag=True,
              help="First read every page of the database file (PRAGMA quick_check). At 1M "
                   "sessions (2.6 GB) this took 2 s with the file in memory and 3 min from a "
                   "cold disk; `teller-guard backup` checks every page of its copy anyway.")
@click.option("--branch", "branch_code", metavar="CODE",
              help="Check only this branch's ledger chain (and its anchors), e.g. 0001.")
@click.option("--bank", is_flag=True,
              help="Check only the bank's own ledger chain (head office and bank-wide events).")
def verify(app, pages, branch_code, bank):
    """Check every ledger chain (each branch's and the bank's) and that every sessions row
    agrees with its events.

    Prints each problem (the chain, the row id and what happened), then a one-line summary;
    exits with status 1 when anything was edited, deleted or inserted out of band.
    """
    if branch_code is not None and bank:
        fail("--branch 与 --bank 只能选一个")
    directory = anchor_dir(app)
    prepare_database(app, thorough=pages)
    chain = ledger.BANK_CHAIN if bank else None
    if branch_code is not None:
        database = db.connect(app.config["DATABASE"])
        try:
            found = branch_store.by_code(database, branch_code.strip())
        finally:
            database.conn.close()
        if found is None:
            fail(f"没有代码为 {branch_code} 的网点")
        chain = found["id"]
    try:
        report = integrity.verify(app.config["DATABASE"],
                                  app.extensions["teller_guard"]["ledger_key"], directory,
                                  chain)
    except sqlite3.DatabaseError as error:  # a damaged page: only --pages reads every page
        fail(damaged(app.config["DATABASE"], error))
    except postgres.psycopg.Error as error:  # e.g. the server went away while verify read
        fail(f"校验时数据库出错 {db.describe(app.config['DATABASE'])}: {error}")
    for line in report.lines():
        click.echo(line)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@click.command()
@instance_option
def anchor(app):
    """Append the ledger head to the anchor file in ANCHOR_DIR now (serve does it daily)."""
    directory = anchor_dir(app)
    if directory is None:
        fail("未配置 ANCHOR_DIR（锚点文件夹，应在数据库以外的磁盘或机器上），无法写入锚点")
    prepare_database(app)
    try:
        written = anchoring.write(app.config["DATABASE"],
                                  app.extensions["teller_guard"]["ledger_key"], directory,
                                  app.config)
    except OSError as error:
        fail(f"无法写入锚点文件夹 {directory}: {error.strerror or error}")
    click.echo(f"已写入锚点 #{written.seq}：账本第 {written.last_id} 行 "
               f"{written.last_hash[:16]}…，时间 {labels.when(written.at)}，文件 "
               f"{anchoring.anchor_file(directory, app.extensions['teller_guard']['ledger_key'])}")
    if app.config.get("ALERT_ENDPOINT"):
        click.echo("已排队发送到 ALERT_ENDPOINT（由 serve 的发送线程或 teller-guard send-alerts 发送）")


@click.command()
@instance_option
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Redact sessions started more than N days ago (default: PII_RETENTION_DAYS).")
def redact(app, days):
    """Empty the full personal data of sessions older than the retention period."""
    prepare_database(app)
    days = days or app.config["PII_RETENTION_DAYS"]
    if not isinstance(days, int) or days < 1:
        fail(f"保留天数无效: {days}（PII_RETENTION_DAYS 应为正整数）")
    with app_db(app) as (database, key):
        result = retention.redact(database, key, days)
    click.echo(f"已清除 {labels.when(result.before, seconds=False)} 之前开始的 {result.sessions} 笔业务的完整个人信息"
               f"（{result.fields} 项，已发送警情的载荷 {result.alert_payloads} 条）；"
               f"保留期限 {days} 天，已记入审计日志。")
