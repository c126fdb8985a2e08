"""The WSGI entry point for gunicorn: several server processes on one PostgreSQL database.

    teller-guard migrate --instance /srv/teller_guard
    TELLER_GUARD_INSTANCE=/srv/teller_guard TELLER_GUARD_DATABASE_URL=postgresql://… \\
        gunicorn -w 2 -b 127.0.0.1:8000 'teller_guard.wsgi:app'

Each worker builds the app as `teller-guard serve` does (the instance folder from
TELLER_GUARD_INSTANCE, default ./instance; settings from its config.toml and TELLER_GUARD_*),
writes the access log to standard output, and runs its own police alert sender and daily
anchor (both already safe with several processes: a row is claimed before it is sent, the
anchor file is locked). Unlike `serve` it never creates or upgrades the database: workers
starting together, on one host or several, would race to do it. A worker refuses a database
that is not at the schema's head revision and names the command to run (`teller-guard
migrate`, once per upgrade), and so does a PII key other than the one the stored hashes were
made with. gunicorn stops when a worker refuses to start. A worker (re)started while
PostgreSQL is away (restarting, failing over) waits for it instead, and if it does not come
back soon exits to be started again, so an outage never stops the whole server.

SQLite mode is one process per branch (`teller-guard serve`, waitress): gunicorn with more
than one worker on the SQLite file is refused.

The request metrics of all workers are added up at every scrape (prometheus_client's
multiprocess mode, in a folder of this gunicorn master under the temporary directory, unless
PROMETHEUS_MULTIPROC_DIR names one); the other figures of /metrics are read from the
database. With `--preload` the checks run once in the master and each worker starts its
threads after the fork.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

METRICS_FOLDER_PREFIX = "teller_guard-metrics-"
AWAY_SECONDS = 20.0  # how long a starting worker waits for PostgreSQL to come back


class StartRefused(Exception):
    """This process must not serve (message in Chinese, with what to do)."""


class DatabaseAway(StartRefused):
    """PostgreSQL cannot be reached just now (restarting, failing over): try again."""


def gunicorn_settings():
    """gunicorn's settings when gunicorn runs this process, else None. gunicorn hands the app
    no handle on them: a worker's SIGTERM handler is a bound method of the worker, and with
    --preload the master imports the app from inside its Arbiter's constructor."""
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    if owner is not None and type(owner).__module__.startswith("gunicorn."):
        return owner.cfg
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if type(owner).__module__ == "gunicorn.arbiter":
            return owner.cfg
        frame = frame.f_back
    return None


def in_gunicorn_master() -> bool:
    """Imported by gunicorn's master before it forks its workers (--preload)."""
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return gunicorn_settings() is not None and \
        not type(owner).__module__.startswith("gunicorn.workers")


# --- metrics shared by the workers ------------------------------------------------------------


def _started(pid: int) -> str | None:
    """When the process started (clock ticks since boot): a pid with its start is unique."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def share_metrics_between_workers(master_pid: int) -> None:
    """Point prometheus_client at a folder of this gunicorn master (before it is imported),
    and remove the folders of masters that are gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # the operator chose one (and clears it at each start)
    if "prometheus_client" in sys.modules:
        log.warning("prometheus_client was imported before teller_guard.wsgi: each worker "
                    "reports only its own request metrics")
        return
    root = Path(tempfile.gettempdir())
    for folder in root.glob(METRICS_FOLDER_PREFIX + "*"):
        pid, _, started = folder.name[len(METRICS_FOLDER_PREFIX):].partition("-")
        if pid.isdigit() and _started(int(pid)) != started and folder.stat().st_uid == os.getuid():
            shutil.rmtree(folder, ignore_errors=True)
    folder = root / f"{METRICS_FOLDER_PREFIX}{master_pid}-{_started(master_pid)}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


# --- the checks before serving ----------------------------------------------------------------


def check_workers(app, workers: int) -> None:
    from . import db

    if workers > 1 and not db.is_postgresql(app.config["DATABASE"]):
        raise StartRefused(
            f"SQLite 模式只能由一个进程提供服务（gunicorn -w {workers} 会让 {workers} 个进程同时写同一个"
            f"数据库文件 {app.config['DATABASE']}）。请使用 teller-guard serve（waitress，一个进程多线程），"
            "或设置 TELLER_GUARD_DATABASE_URL 使用 PostgreSQL 后再以多个进程运行。")


def check_database(app) -> None:
    """Reachable and writable, at the schema's head revision (never upgraded here), and hashed
    with the configured PII key. Raises DatabaseAway while PostgreSQL cannot be reached (or is
    a read-only replica during a failover), StartRefused for what only an operator can fix."""
    from . import bank_zone, db, pii_key, storage
    from .storage import migrate, postgres

    target = app.config["DATABASE"]
    away = DatabaseAway if db.is_postgresql(target) else StartRefused
    try:
        db.check_database(target)
        db.make_private(target)
        database = db.connect(target)
    except db.DatabaseUnavailable as error:
        raise away(str(error)) from None
    try:
        revision = migrate.stamped_revision(database)
        if revision != migrate.HEAD:
            found = f"的结构版本为 {revision}" if revision else "尚未建立（或仍是旧版）数据库结构"
            raise StartRefused(
                f"数据库 {db.describe(target)} {found}，本版本需要 {migrate.HEAD}。多个进程不会各自"
                "建立或升级数据库：请先运行一次 teller-guard migrate（使用相同的实例目录和 "
                "TELLER_GUARD_DATABASE_URL），再启动 gunicorn。")
        # Recording the key's fingerprint is the one write here; two workers may both try it
        # on a database made without `migrate`, and the second then finds it recorded.
        for attempt in (1, 2):
            try:
                with storage.transaction(database):
                    pii_key.check_unchanged(database, app.extensions["teller_guard"]["pii_key"])
                    bank_zone.check_unchanged(database, app.config["TIME_ZONE"])
                break
            except postgres.psycopg.IntegrityError:
                if attempt == 2:
                    raise
    except (pii_key.PiiKeyMismatch, bank_zone.ZoneMismatch) as error:
        raise StartRefused(str(error)) from None
    except postgres.psycopg.OperationalError as error:  # the server went away meanwhile
        raise DatabaseAway(f"无法连接数据库 {db.describe(target)}: {error}") from None
    finally:
        database.conn.close()


# --- what runs in each serving process ---------------------------------------------------------


def start_threads(app) -> None:
    """The police alert sender (when ALERT_ENDPOINT is set; create_app has started it unless
    this process was forked since) and the daily anchor (ANCHOR_DIR)."""
    from . import anchor
    from .printing_web import outbox

    outbox.start_background_sender(app)
    directory = anchor.anchor_dir(app.config, app.instance_path)
    if directory is not None:
        anchor.DailyAnchor(app.config["DATABASE"], app.extensions["teller_guard"]["ledger_key"],
                           directory, app.config).start()


def build(instance_path: str | None = None):
    """The app for this process, configured (not yet checked against its database); raises
    StartRefused."""
    from . import anchor, config, create_app

    try:
        app = create_app(instance_path=instance_path)
        anchor.anchor_dir(app.config, app.instance_path)  # refuse a bad ANCHOR_DIR up front
    except config.ConfigError as error:
        raise StartRefused(f"配置错误 (configuration error): {error}") from None
    except anchor.AnchorConfigError as error:
        raise StartRefused(f"配置错误: {error}") from None
    except OSError as error:
        raise StartRefused(f"无法使用实例目录 {instance_path or Path.cwd() / 'instance'}: "
                           f"{error}") from None
    return app


def check(app, settings) -> None:
    """What must hold before this process serves; raises StartRefused (or DatabaseAway)."""
    from . import telemetry

    if settings is not None:
        check_workers(app, settings.workers)
    check_database(app)
    telemetry.configure_access_log(app.config["ACCESS_LOG"])


def check_when_database_is_back(app, settings) -> None:
    """A worker (re)started while PostgreSQL restarts or fails over waits for it, within half
    of gunicorn's worker timeout, then exits with an ordinary error so that gunicorn starts
    another: refusing to boot would make gunicorn stop the whole server (it does on a boot
    error, which is right for what an operator must fix)."""
    deadline = time.monotonic() + min(AWAY_SECONDS, settings.timeout / 2)
    while True:
        try:
            check(app, settings)
            return
        except DatabaseAway as error:
            if time.monotonic() >= deadline:
                print(f"错误: {error}。数据库暂时无法使用，本工作进程退出，gunicorn 将重新启动它。",
                      file=sys.stderr, flush=True)
                sys.exit(1)
            time.sleep(1)


def _load():
    settings = gunicorn_settings()
    if in_gunicorn_master():  # --preload: check once here; each worker starts its threads
        share_metrics_between_workers(os.getpid())
        try:
            app = build(os.environ.get("TELLER_GUARD_INSTANCE"))
            check(app, settings)
        except StartRefused as error:
            raise SystemExit(f"错误: {error}") from None
        from .printing_web import outbox

        outbox.stop_background_sender(app)  # a thread does not survive the fork
        os.register_at_fork(after_in_child=lambda: _after_fork(app))
        return app
    if settings is not None:  # a worker (not the master: that was --preload, above)
        share_metrics_between_workers(os.getppid())
    try:
        app = build(os.environ.get("TELLER_GUARD_INSTANCE"))
        if settings is None:
            check(app, None)
        else:
            check_when_database_is_back(app, settings)
    except StartRefused as error:
        if settings is not None:  # gunicorn prints the message alone and stops the server
            from gunicorn.errors import AppImportError

            raise AppImportError(f"错误: {error}") from None
        raise SystemExit(f"错误: {error}") from None
    start_threads(app)
    return app


def _after_fork(app) -> None:
    """A worker forked from a --preload master: its own threads."""
    start_threads(app)


app = _load()
