"""Database connections: one per request (or per CLI command), with the durability settings."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from flask import current_app, g

BUSY_TIMEOUT_MS = 10_000


class DatabaseUnavailable(Exception):
    """The database file cannot be opened, written or trusted; the message names the path."""


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database with WAL, synchronous=FULL, a busy timeout and foreign keys on."""
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
    return sqlite_utils.Database(conn)


@contextmanager
def write_transaction(db: sqlite_utils.Database):
    """BEGIN IMMEDIATE: take the write lock up front, so concurrent writers queue, not fail."""
    if db.conn.in_transaction:  # nested: the outer transaction owns the commit
        yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def check_database(path: str | Path) -> None:
    """Fail early, with the path in the message, when the file is unwritable, locked or corrupt."""
    path = Path(path)
    if not path.parent.exists():
        raise DatabaseUnavailable(f"数据库目录不存在: {path.parent}")
    try:
        db = connect(path)
        try:
            result = db.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise DatabaseUnavailable(f"数据库文件已损坏 {path}: {result}")
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.conn.close()
    except sqlite3.OperationalError as exc:
        raise DatabaseUnavailable(f"数据库不可写或被锁定 {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(f"数据库文件已损坏 {path}: {exc}") from exc


def get_db() -> sqlite_utils.Database:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exception=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def backup(source: str | Path, destination: str | Path) -> str:
    """Online, consistent copy through SQLite's backup API; returns integrity_check's verdict."""
    src = connect(source)
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


def prepare(path: str | Path) -> list[str]:
    """Check the file can be used, then apply pending migrations; returns their names."""
    from . import migrations

    check_database(path)
    db = connect(path)
    try:
        return migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(f"无法更新数据库结构 {path}: {exc}") from exc
    finally:
        db.conn.close()
