"""`teller-guard migrate-db --to postgresql://…`: a branch's SQLite database copied into an empty
PostgreSQL database, ids, ledger chain and vault as they are (issue 14, "Moving up").

The copy goes table by table in foreign-key order (storage/copying.py), in batches; each batch
is committed together with the progress record (instance_facts `migrate_db_source` in the
target: which source, and the last key copied per table). So an interrupted run (kill -9, a
lost connection) loses at most the batch in flight, and the next run continues after the last
committed key: no row twice, none missing. A target holding anything else is refused before
anything is written.

The source must not change while it is copied. Each run reads it read-only inside one SQLite
read transaction, so what one run copies is one consistent state even if the branch server is
still writing. Between runs (and from a run's start to its end) the source is compared by its
fingerprint: the ledger head and every table's row count and largest key. A run that finds it
moved refuses to continue (or to finish) the half-made copy, which would mix two states;
`--restart` empties that copy and starts again. Changes the fingerprint cannot see (a row
updated in place without a ledger event, such as an API token's last use) are why the branch
server must be stopped for the move; the fingerprint catches the usual mistake, a server left
running.

At the end, in one transaction: the id sequences (the ledger's too) continue after the copied
ids, every table's row count and every chain's sealed ledger head are compared with the
source, and the progress record is removed; then every ledger chain is checked on the target
with the instance's key. The keys are
files, not rows: the summary lists what the new hosts need from the instance folder.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from . import audit, config, db, storage
from .anchor import AnchorConfigError, anchor_dir, anchor_file
from .cli import fail, instance_option, main, prepare_database
from .storage import copying, ledger, migrate

BATCH_ROWS = 5000
PROGRESS_EVERY = 100_000  # rows between progress lines within a table


class MigrationRefused(Exception):
    """The copy cannot start, continue or finish (message in Chinese)."""


@dataclass
class Fingerprint:
    identity: str  # which instance: from the ledger's first row, unique to an instance
    state: str  # digest of the ledger heads and each table's row count and largest key
    counts: dict[str, int]
    heads: list[dict]  # every chain's head row
    path: str  # the file, named in messages

    @classmethod
    def of(cls, source, path: str) -> Fingerprint:
        first = copying.rows_after(source, "ledger", None, 1)
        seed = first[0][copying.columns("ledger").index("hash")] if first else str(Path(path).resolve())
        counts = {table: copying.count(source, table) for table in copying.TABLES}
        last_keys = {table: copying.last_key(source, table) for table in copying.TABLES}
        heads = [head for head in ledger.head_rows(source) if head["last_id"] is not None]
        state = json.dumps([counts, last_keys, heads], sort_keys=True, default=str)
        return cls(identity=hashlib.sha256(f"teller_guard instance\n{seed}".encode()).hexdigest()[:32],
                   state=hashlib.sha256(state.encode()).hexdigest()[:32], counts=counts, heads=heads,
                   path=str(Path(path).resolve()))


@dataclass
class Result:
    counts: dict[str, int]
    copied: dict[str, int]  # rows this run copied per table (less than counts when resumed)
    resumed: bool
    seconds: float
    chain_rows: int
    chain_problems: list = field(default_factory=list)
    heads: list = field(default_factory=list)


def copy_database(app, url: str, batch_rows: int = BATCH_ROWS, restart: bool = False,
                  echo=click.echo) -> Result:
    """Copy the instance's SQLite database into the PostgreSQL database at `url`."""
    started = time.monotonic()
    source_path = app.config["DATABASE"]
    target = db.connect(url)  # DatabaseUnavailable names the URL without its password
    try:
        if not copying.lock_for_copy(target):
            raise MigrationRefused(f"另一个 migrate-db 正在向 {db.describe(url)} 复制，请等它结束")
        found = _target_state(target, url)  # before anything is written anywhere
        prepare_database(app)  # a 1.x file reaches the current schema; the PII key is checked
        source = copying.open_snapshot(source_path)
        try:
            fingerprint = Fingerprint.of(source, source_path)
            progress = _progress_to_continue(target, url, found, fingerprint, restart, echo)
            resumed = bool(progress["copied"])
            applied = db.prepare(url)  # an empty database gets the schema
            if applied:
                echo(f"已在目标数据库建立表结构: {db.describe(url)}")
            copied = _copy(source, target, progress, batch_rows, echo)
            _finish(source_path, target, fingerprint)
        finally:
            source.close()
        echo("正在为目标数据库收集统计信息（ANALYZE）…")
        copying.analyze(target)
        echo("正在校验目标数据库的账本链 …")
        checked, problems = audit.verify_chain(target, app.extensions["teller_guard"]["ledger_key"])
    finally:
        target.conn.close()
    return Result(counts=fingerprint.counts, copied=copied, resumed=resumed,
                  seconds=time.monotonic() - started, chain_rows=checked,
                  chain_problems=problems, heads=fingerprint.heads)


def _target_state(target, url: str) -> str:
    """"blank" (no tables), "empty" (the app's schema, no rows), "ours" (this command's
    unfinished copy); anything else is refused."""
    tables = copying.table_names(target)
    if not tables:
        return "blank"
    if "alembic_version" not in tables or migrate.stamped_revision(target) is None:
        shown = "、".join(sorted(tables)[:5])
        raise MigrationRefused(f"目标数据库 {db.describe(url)} 不是空的：已有 {len(tables)} 张其他表"
                               f"（{shown}{' 等' if len(tables) > 5 else ''}）。请指定一个新建的空数据库；"
                               "什么都没有写入")
    if copying.progress(target) is not None:
        return "ours"
    if copying.data_tables_empty(target):
        return "empty"
    raise MigrationRefused(f"目标数据库 {db.describe(url)} 不是空的：已有 teller_guard 的数据"
                           "（可能已有网点在使用，或迁移早已完成）。为避免覆盖，迁移只写入新建的空数据库；"
                           "什么都没有写入")


def _progress_to_continue(target, url: str, found: str, fingerprint: Fingerprint, restart: bool,
                          echo) -> dict:
    """The progress record to continue from: a fresh one, or the unfinished copy's."""
    fresh = {"identity": fingerprint.identity, "state": fingerprint.state,
             "source": fingerprint.path, "copied": {}}
    if found != "ours":
        return fresh
    progress = copying.progress(target)
    if progress.get("identity") != fingerprint.identity:
        raise MigrationRefused(
            f"目标数据库 {db.describe(url)} 中是另一个网点数据库（{progress.get('source', '未知')}）"
            "未完成的迁移副本，不是本实例的。请确认 --instance 与 --to 是否指错；什么都没有写入")
    if progress.get("state") != fingerprint.state and not restart:
        raise MigrationRefused(
            "源数据库自上次中断以来已有变化（网点服务是否仍在运行？），不能接着复制，否则新库会混入两个时刻的数据。"
            "请先停止本网点服务，再加 --restart 运行：清空目标库中本实例未完成的副本并从头复制")
    if restart:
        with storage.transaction(target):
            copying.truncate_all(target)
        echo("已清空目标库中未完成的副本，从头复制")
        return fresh
    reached = [table for table in copying.TABLES if table in progress["copied"]]
    echo(f"继续上次中断的迁移：已复制到 {reached[-1]} 表，从那里接着复制" if reached
         else "继续上次中断的迁移")
    return progress


def _copy(source, target, progress: dict, batch_rows: int, echo) -> dict[str, int]:
    copied = {}
    if not progress["copied"]:
        with storage.transaction(target):
            copying.save_progress(target, progress)
    for table in copying.TABLES:
        after = progress["copied"].get(table)
        after = tuple(after) if after is not None else None
        copied[table] = 0
        while True:
            rows = copying.rows_after(source, table, after, batch_rows)
            if not rows:
                break
            after = copying.key_of(table, rows[-1])
            progress["copied"][table] = list(after)
            with storage.transaction(target):
                copying.insert_rows(target, table, rows)
                copying.save_progress(target, progress)
            copied[table] += len(rows)
            if len(rows) < batch_rows:
                break
            if copied[table] % PROGRESS_EVERY < batch_rows:
                echo(f"  {table}: 已复制 {copied[table]} 行 …")
        if copied[table]:
            echo(f"  {table}: 本次复制 {copied[table]} 行")
    return copied


def _finish(source_path: str, target, fingerprint: Fingerprint) -> None:
    """Sequences, the comparison with the source and the end of the progress record, in one
    transaction: a difference leaves the copy unfinished (and the app refusing it)."""
    now = copying.open_snapshot(source_path)  # a fresh look: did anything write meanwhile?
    try:
        if Fingerprint.of(now, source_path).state != fingerprint.state:
            raise MigrationRefused(
                "复制期间源数据库被写入（网点服务是否仍在运行？）：新库只含开始时的数据，未完成迁移。"
                "请停止本网点服务后加 --restart 重新运行")
    finally:
        now.close()
    with storage.transaction(target):
        copying.clear_progress(target)
        copying.reset_sequences(target)
        different = [f"{table}（源 {fingerprint.counts[table]} 行，目标 {copying.count(target, table)} 行）"
                     for table in copying.TABLES if table != "ledger_head"
                     and copying.count(target, table) != fingerprint.counts[table]]
        if different:
            raise MigrationRefused(f"复制后行数不一致: {'；'.join(different)}")
        copied = [head for head in ledger.head_rows(target) if head["last_id"] is not None]
        if copied != fingerprint.heads:
            raise MigrationRefused("复制后账本链头（各链的最后一行、其哈希与封印）与源数据库不一致")


# --- what the database does not hold --------------------------------------------------------------


def carry_over(app) -> list[str]:
    """The instance's files (and settings) every new app host needs, as lines to print."""
    instance = Path(app.instance_path)
    lines = []
    key_file = instance / config.SECRET_KEY_FILE
    if key_file.exists() and key_file.read_text(encoding="ascii").strip() == app.config["SECRET_KEY"]:
        lines.append(f"{key_file}：实例密钥。账本链的密钥由它派生，缺了它或换了它，verify 会判定账本被篡改")
    else:
        lines.append("SECRET_KEY 设置（来自 config.toml 或 TELLER_GUARD_SECRET_KEY）：实例密钥，每台主机须相同")
    if app.config.get("PII_KEY_FILE"):
        path = Path(app.config["PII_KEY_FILE"])
        lines.append(f"{path if path.is_absolute() else instance / path}：个人信息哈希密钥（PII_KEY_FILE）；"
                     "换了它，服务会拒绝启动")
    elif key_file.exists():
        lines.append("个人信息哈希密钥由实例密钥派生（未设 PII_KEY_FILE）：同样随 secret_key 带走")
    if (instance / config.CONFIG_FILE).exists():
        lines.append(f"{instance / config.CONFIG_FILE}：设置；在新主机上加 database_url（或环境变量 "
                     "TELLER_GUARD_DATABASE_URL）指向新库")
    for name in ("RULES_OVERRIDE", *config.INSTANCE_RELATIVE_FILES, "FONT_PATH"):
        if app.config.get(name):
            lines.append(f"{app.config[name]}：{name}")
    try:
        anchors = anchor_dir(app.config, app.instance_path)
    except AnchorConfigError:
        anchors = None
    if anchors is not None:
        lines.append(f"{anchor_file(anchors, app.extensions['teller_guard']['ledger_key'])}：账本锚点"
                     "（ANCHOR_DIR）；新主机须能读写同一文件夹，verify 用它发现回滚")
    return lines


# --- the command ----------------------------------------------------------------------------------


@click.command("migrate-db")
@instance_option
@click.option("--to", "url", required=True, metavar="postgresql://…",
              help="An empty PostgreSQL database (or this command's own unfinished copy).")
@click.option("--batch-rows", type=click.IntRange(min=1), default=BATCH_ROWS, show_default=True,
              help="Rows per committed batch: an interruption loses at most one batch.")
@click.option("--restart", is_flag=True,
              help="Empty this instance's unfinished copy in the target and copy again.")
def migrate_db(app, url, batch_rows, restart):
    """Copy this instance's SQLite database into an empty PostgreSQL database.

    Stop the branch server first. Interrupted, run the same command again: it continues.
    """
    if not db.is_postgresql(url):
        fail("--to 须为 postgresql:// 开头的数据库地址")
    source = app.config["DATABASE"]
    if db.is_postgresql(source):
        fail(f"本实例已配置为使用 PostgreSQL（{db.describe(source)}）：migrate-db 从实例的 SQLite 数据库复制，"
             "请在迁移时去掉 DATABASE_URL 设置")
    if not Path(source).is_file():
        fail(f"找不到 SQLite 数据库 {source}（--instance 是否指错？）")
    click.echo(f"迁移 {source} → {db.describe(url)}（每批 {batch_rows} 行）")
    try:
        result = copy_database(app, url, batch_rows, restart)
    except (MigrationRefused, db.DatabaseUnavailable) as error:
        fail(str(error))
    except db.DATABASE_ERRORS as error:
        fail(f"迁移中断: {error}。已提交的批次保留在目标库中，排除问题后重新运行同一命令即可继续")
    _summary(app, url, result)
    if result.chain_problems:
        for problem in result.chain_problems:
            click.echo(f"  账本问题: {problem.describe()}", err=True)
        fail("目标数据库的账本链校验未通过（复制忠实于源库：请在源实例上运行 teller-guard verify 查看）")


def _summary(app, url: str, result: Result) -> None:
    total = sum(result.counts.values())
    click.echo(f"迁移完成{'（接续上次中断的复制）' if result.resumed else ''}：{len(result.counts)} 张表，"
               f"共 {total} 行（本次复制 {sum(result.copied.values())} 行），用时 {result.seconds:.1f} 秒")
    for table in copying.TABLES:
        if result.counts[table]:
            click.echo(f"  {table}: {result.counts[table]} 行")
    if result.heads:
        checked = "链校验通过" if not result.chain_problems else f"链校验发现 {len(result.chain_problems)} 处问题"
        newest = max(result.heads, key=lambda head: head["last_id"])
        click.echo(f"账本: 目标库 {result.chain_rows} 行，{len(result.heads)} 条链，{checked}；"
                   f"各链链头与源库一致（最新为第 {newest['last_id']} 行 {newest['last_hash'][:16]}…）")
    click.echo("")
    click.echo("以下内容不在数据库里，每台应用主机都必须带上（与本实例目录中的完全相同）：")
    for line in carry_over(app):
        click.echo(f"  - {line}")
    click.echo(f"然后在每台主机上设置 DATABASE_URL={db.describe(url)}（密码另行配置），"
               "运行 teller-guard verify，再启动服务。原 SQLite 数据库仍可使用，可留作退路。")


# Registered here rather than in cli.py, so that importing this module first works as well.
main.add_command(migrate_db)
