"""Database connections with the durability settings: one per request (reused by the next
request on the same server thread) or per CLI command.

The target is the SQLite file in the instance folder (the embedded default) or a
`postgresql://` URL (config DATABASE_URL, env TELLER_GUARD_DATABASE_URL): `connect` opens
either; storage functions see the same `execute` / `conn.in_transaction` on both.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from flask import current_app, g

from . import disk_full, private_files
from .storage import postgres

BUSY_TIMEOUT_MS = 10_000


class DatabaseUnavailable(Exception):
    """The database file cannot be opened, written or trusted; the message names the path."""


DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, postgres.psycopg.Error)


class Database(sqlite_utils.Database):
    """sqlite-utils' Database, remembering table and view names until the schema changes.

    sqlite-utils lists them from sqlite_master on every `db[name]`, `rows_where` and `update`
    (three queries for one lookup); `PRAGMA schema_version` tells whether they can have changed.
    """

    def _names(self, kind: str) -> list[str]:
        version = self.conn.execute("PRAGMA schema_version").fetchone()[0]
        cache = self.__dict__.get("_schema_names")
        if cache is None or cache[0] != version:
            cache = self._schema_names = (version, {})
        if kind not in cache[1]:
            cache[1][kind] = [row[0] for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = ?", [kind])]
        return list(cache[1][kind])

    def table_names(self, fts4: bool = False, fts5: bool = False) -> list[str]:
        if fts4 or fts5:
            return super().table_names(fts4=fts4, fts5=fts5)
        return self._names("table")

    def view_names(self) -> list[str]:
        return self._names("view")

    dialect = "sqlite"

    def executemany(self, sql: str, rows):
        return self.conn.executemany(sql, rows)

    def begin_write(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")


def describe(target: str | Path) -> str:
    """The database as messages and logs name it: the file, or the URL without its password."""
    return postgres.safe_url(target) if postgres.is_url(target) else str(target)


def is_postgresql(target) -> bool:
    return postgres.is_url(target)


def connect(path: str | Path):
    """Open the database: SQLite with WAL, synchronous=FULL, a busy timeout and foreign keys
    on; or PostgreSQL when `path` is a postgresql:// URL."""
    if postgres.is_url(path):
        try:
            return postgres.connect(path)
        except postgres.psycopg.Error as exc:
            raise DatabaseUnavailable(f"无法连接数据库 {describe(path)}: {exc}") from exc
    if str(path) != ":memory:" and not os.path.exists(path):
        try:
            private_files.create_empty(path)  # 0600; SQLite gives -wal and -shm the same
        except OSError as exc:
            raise DatabaseUnavailable(f"无法创建数据库 {path}: {exc.strerror or exc}") from exc
    try:
        # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE for writes),
        # so a read never silently upgrades into a write lock and deadlocks.
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(f"无法打开数据库 {path}: {exc}") from exc
    database = Database(conn)
    database.write_queue = _write_queue(path)
    database.real_path = None if str(path) == ":memory:" else os.path.realpath(path)
    return database


_write_queues: dict[str, threading.RLock] = {}
_write_queues_guard = threading.Lock()


def _write_queue(path: str | Path) -> threading.RLock:  # SQLite only
    """One lock per database file for this process's writers.

    SQLite makes a writer that finds the file locked sleep and retry (1, 2, 5 … 100 ms), so
    under load most of a transaction's latency was sleeping while the lock sat free. Writers in
    this process wait here instead and are woken as soon as it is released; BEGIN IMMEDIATE and
    the busy timeout still guard against other processes (the CLI, a backup).
    """
    key = os.path.realpath(path)
    with _write_queues_guard:
        return _write_queues.setdefault(key, threading.RLock())


@contextmanager
def write_transaction(db: sqlite_utils.Database):
    """SQLite: BEGIN IMMEDIATE, taking the write lock up front, so concurrent writers queue, not
    fail. PostgreSQL: BEGIN; rows are locked as they are written (the ledger head row serializes
    appends, storage/ledger.py)."""
    if db.conn.in_transaction:  # nested: the outer transaction owns the commit
        yield db
        return
    queue = getattr(db, "write_queue", None)
    if queue is not None and not queue.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
        raise sqlite3.OperationalError("database is locked")
    try:
        db.begin_write()
        try:
            yield db
            db.conn.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:  # SQLite may have rolled back already (disk full)
                db.conn.execute("ROLLBACK")
            raise
    finally:
        if queue is not None:
            queue.release()


def check_database(path: str | Path, thorough: bool = False) -> None:
    """Fail early, with the path in the message, when the file is unwritable, locked or not a
    database. `thorough` also reads every page (PRAGMA quick_check), as `verify --pages` asks;
    starting the server does not, since on a branch's years of data that read takes seconds
    warm and minutes from a cold disk, once per server process."""
    if postgres.is_url(path):
        _check_postgresql(str(path))
        return
    path = Path(path)
    if not path.parent.exists():
        raise DatabaseUnavailable(f"数据库目录不存在: {path.parent}")
    _check_writable(path)
    try:
        db = connect(path)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # header and schema
            if thorough:
                result = db.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise DatabaseUnavailable(f"数据库文件已损坏 {path}: {result}")
            db.execute("BEGIN IMMEDIATE")
            try:
                # BEGIN IMMEDIATE succeeds on a read-only file; the first write does not.
                db.execute("CREATE TABLE teller_guard_write_probe (x)")
            finally:
                db.execute("ROLLBACK")
        finally:
            db.conn.close()
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc):
            raise DatabaseUnavailable(READ_ONLY.format(path=path)) from exc
        if disk_full.is_disk_full(exc):
            # Start all the same: reads work, writes answer 503 until space returns (errors.py).
            logging.getLogger(__name__).warning("磁盘空间不足 %s：可以查询，保存将暂时失败", path)
            return
        raise DatabaseUnavailable(f"数据库不可写或被锁定 {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(f"数据库文件已损坏 {path}: {exc}") from exc


def _check_postgresql(url: str) -> None:
    try:
        db = postgres.connect(url)
    except postgres.psycopg.Error as exc:
        raise DatabaseUnavailable(f"无法连接数据库 {describe(url)}: {exc}") from exc
    try:
        if db.execute("SHOW transaction_read_only").fetchone()[0] == "on":
            raise DatabaseUnavailable(f"数据库只读（可能连到了只读副本）: {describe(url)}")
    finally:
        db.conn.close()


READ_ONLY = ("数据库文件只读，无法写入: {path}。请检查文件及其 -wal、-shm 文件和所在目录的权限"
             "（须为运行本服务的账户可写），以及磁盘是否以只读方式挂载")


def _check_writable(path: Path) -> None:
    """The database, its -wal and -shm and their folder must be writable by this account: a
    read-only file passed start-up and then failed every login with a 500."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            os.close(os.open(candidate, os.O_RDWR))
        except FileNotFoundError:
            continue
        except PermissionError as exc:
            raise DatabaseUnavailable(READ_ONLY.format(path=candidate)) from exc
        except OSError as exc:
            if exc.errno == errno.EROFS:
                raise DatabaseUnavailable(READ_ONLY.format(path=candidate)) from exc
            raise DatabaseUnavailable(f"无法打开数据库 {candidate}: {exc.strerror or exc}") from exc
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(READ_ONLY.format(path=path.parent))


def make_private(path: str | Path) -> None:
    """Database files of an instance made before they were created 0600."""
    if postgres.is_url(path):
        return
    for suffix in ("", "-wal", "-shm"):
        private_files.tighten(f"{path}{suffix}")


_idle = threading.local()  # per server thread: (path, connection) kept between requests


def get_db() -> sqlite_utils.Database:
    """The request's connection. Opening one costs about as much as a whole small request
    (and closing the last one checkpoints the WAL), so each thread keeps its connection for
    its next request; a context never shares it with another."""
    if "db" not in g:
        path = current_app.config["DATABASE"]
        idle, _idle.connection = getattr(_idle, "connection", None), None
        if idle is not None and idle[0] == path:
            g.db = idle[1]
        else:
            if idle is not None:
                idle[1].conn.close()
            g.db = connect(path)
        if getattr(g.db, "broken", False):  # PostgreSQL restarted since the last request
            g.db = connect(path)
    return g.db


def close_db(exception=None) -> None:
    db = g.pop("db", None)
    if db is None:
        return
    try:
        if db.conn.in_transaction:  # never hand on a connection in the middle of a transaction
            db.conn.execute("ROLLBACK")
    except DATABASE_ERRORS:
        db.conn.close()
        return
    idle = getattr(_idle, "connection", None)
    _idle.connection = (current_app.config["DATABASE"], db)
    if idle is not None:  # a nested context on this thread had its own connection
        idle[1].conn.close()


def backup(source: str | Path, destination: str | Path) -> str:
    """Online, consistent copy through SQLite's backup API; returns integrity_check's verdict.
    (PostgreSQL: pg_dump, see README "Running bank-wide".)"""
    if postgres.is_url(source):
        raise DatabaseUnavailable("PostgreSQL 数据库请用 pg_dump 备份（见 README“Running bank-wide”）")
    src = connect(source)
    private_files.create_empty(destination)  # 0600 before any byte is copied into it
    dest = sqlite3.connect(str(destination))
    try:
        src.conn.backup(dest)
        verdict = dest.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dest.close()
        src.conn.close()
    return verdict


def init_app(app) -> None:
    app.teardown_appcontext(close_db)


def prepare(path: str | Path, thorough: bool = False) -> list[str]:
    """Check the database can be used (`thorough`: every page too), then create or upgrade its
    schema (storage/migrate.py); returns what was done."""
    from .storage import migrate

    check_database(path, thorough)
    make_private(path)
    db = connect(path)
    try:
        return migrate.upgrade(db, str(path))
    except DATABASE_ERRORS as exc:
        raise DatabaseUnavailable(f"无法更新数据库结构 {describe(path)}: {exc}") from exc
    finally:
        db.conn.close()
