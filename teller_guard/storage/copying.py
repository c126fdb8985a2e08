"""Whole tables, row by row, between databases of either backend: `migrate-db` (a branch's
SQLite file into PostgreSQL) and the tests' per-test PostgreSQL reset use it.

Rows keep their ids (URLs, the ledger's chain and the sessions' references depend on them);
afterwards each PostgreSQL id sequence is moved past the largest id copied.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import branch_stats, branches, duration_months, postgres
from .schema import DEFAULT_BRANCH, metadata

# Tables in an order where every row's foreign keys point at rows already copied.
TABLES = tuple(table.name for table in metadata.sorted_tables)


def columns(table: str) -> tuple[str, ...]:
    return tuple(column.name for column in metadata.tables[table].columns)


def _key(table: str) -> tuple[str, ...]:
    return tuple(column.name for column in metadata.tables[table].primary_key.columns)


def rows_after(db, table: str, after: tuple | None, limit: int) -> list[tuple]:
    """Up to `limit` rows of `table` in primary-key order, after the key `after` (from the
    first when None); values in columns(table) order."""
    key = _key(table)
    order = ", ".join(key)
    names = ", ".join(columns(table))
    if after is None:
        sql = f"SELECT {names} FROM {table} ORDER BY {order} LIMIT ?"  # noqa: S608 - schema names
        return [tuple(row) for row in db.execute(sql, [limit]).fetchall()]
    # Row-value comparison (a, b) > (?, ?) works on both backends.
    marks = ", ".join("?" * len(key))
    sql = (f"SELECT {names} FROM {table} WHERE ({order}) > ({marks}) "  # noqa: S608
           f"ORDER BY {order} LIMIT ?")
    return [tuple(row) for row in db.execute(sql, [*after, limit]).fetchall()]


def all_rows(db, table: str, batch: int = 5000) -> Iterator[tuple]:
    after = None
    while True:
        rows = rows_after(db, table, after, batch)
        yield from rows
        if len(rows) < batch:
            return
        after = key_of(table, rows[-1])


def key_of(table: str, row: tuple) -> tuple:
    names = columns(table)
    return tuple(row[names.index(name)] for name in _key(table))


def last_key(db, table: str) -> tuple | None:
    """The largest primary key in `table` (None when empty)."""
    key = _key(table)
    order = ", ".join(f"{name} DESC" for name in key)
    found = db.execute(f"SELECT {', '.join(key)} FROM {table} ORDER BY {order} LIMIT 1"  # noqa: S608
                       ).fetchone()
    return tuple(found) if found else None


def insert_rows(db, table: str, rows: Iterable[tuple]) -> int:
    """Insert rows given in columns(table) order, ids included; returns how many."""
    from . import transaction

    names = columns(table)
    marks = ", ".join("?" * len(names))
    rows = list(rows)
    if not rows:
        return 0
    insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
    if db.dialect != "postgresql":
        db.executemany(insert, rows)
    elif table == "sessions":
        # The daily statistics are copied as they are: the trigger that keeps them would count
        # every copied session a second time. Off only inside this transaction (DDL is
        # transactional: a failure or a kill leaves it on).
        triggers = ("stats_sessions_change", branch_stats.POSTGRESQL_TRIGGER,
                    *duration_months.POSTGRESQL_TRIGGER_NAMES)
        with transaction(db):
            for trigger in triggers:
                db.execute(f"ALTER TABLE sessions DISABLE TRIGGER {trigger}")
            db.executemany(insert, rows)
            for trigger in triggers:
                db.execute(f"ALTER TABLE sessions ENABLE TRIGGER {trigger}")
    else:
        if table == "ledger_head":  # the schema's empty head rows of the chains copied
            db.execute("DELETE FROM ledger_head WHERE id IN "  # noqa: S608 - placeholders only
                       f"({', '.join('?' * len(rows))})", [row[0] for row in rows])
        if table == "branches" and any(row[0] == DEFAULT_BRANCH["id"] for row in rows):
            db.execute("DELETE FROM branches WHERE id = ?", [DEFAULT_BRANCH["id"]])  # the schema's
        db.executemany(insert, rows)
    return len(rows)


def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - schema names


def data_tables_empty(db) -> bool:
    """No row in any table (PostgreSQL's empty chain head rows and the branch 1 the schema
    starts with do not count)."""
    for table in TABLES:
        found = count(db, table)
        if table == "ledger_head" and found:
            found = db.execute("SELECT count(*) FROM ledger_head WHERE last_id IS NOT NULL "
                               "OR plain_until IS NOT NULL").fetchone()[0]
        if table == "branches" and found == 1:
            found = 0 if branches.is_unchanged_default(db) else found
        if found:
            return False
    return True


def reset_sequences(db) -> None:
    """PostgreSQL: each id sequence continues after the largest id now in its table."""
    if db.dialect != "postgresql":
        return
    for table in TABLES:
        if "id" not in metadata.tables[table].c:
            continue
        sequence = db.execute("SELECT pg_get_serial_sequence(?, 'id')", [table]).fetchone()[0]
        if sequence:
            db.execute(f"SELECT setval(?, COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)",  # noqa: S608
                       [sequence])


def analyze(db) -> None:
    """Planner statistics for the copied tables: autovacuum gets to a freshly loaded table
    only later, and until then the planner guesses its size (the review queue and statistics
    pages then pick poor plans on a million rows)."""
    db.execute("ANALYZE")


def truncate_all(db) -> None:
    """PostgreSQL: empty every table (the tests' reset between tests), keeping the schema and
    the bank's and branch 1's chain head rows (RESTART IDENTITY restarts ledger_id_seq too:
    the ledger owns it)."""
    db.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    db.execute("INSERT INTO ledger_head (id) VALUES (0), (1)")
    branches.insert_default(db)


def table_names(db) -> set[str]:
    """Every table in the database (PostgreSQL: in the connection's schema)."""
    if db.dialect == "postgresql":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {row[0] for row in db.execute(sql).fetchall()}


# --- a SQLite file read as one snapshot (migrate-db's source) ---------------------------------


class _Snapshot(sqlite3.Connection):
    dialect = "sqlite"

    @property
    def conn(self):  # what storage functions read of a Database (e.g. in_transaction)
        return self


def open_snapshot(path: str | Path) -> _Snapshot:
    """The SQLite file opened read-only, inside one read transaction: every later read sees
    the file as it was at the first one, whatever another process commits meanwhile (WAL).
    Close it to end the snapshot."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    snapshot = sqlite3.connect(uri, uri=True, isolation_level=None, factory=_Snapshot,
                               check_same_thread=False)
    snapshot.execute("BEGIN")
    snapshot.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
    return snapshot


# --- migrate-db's progress, kept in the target (instance_facts) --------------------------------

PROGRESS_FACT = "migrate_db_source"


def progress(db) -> dict | None:
    """What a migrate-db run left in this database (None: nothing, or no such table)."""
    if "instance_facts" not in table_names(db):
        return None
    found = db.execute("SELECT value FROM instance_facts WHERE key = ?", [PROGRESS_FACT]).fetchone()
    return json.loads(found[0]) if found else None


def save_progress(db, value: dict) -> None:
    """Call inside the transaction that wrote the rows `value` says are copied."""
    db.execute("INSERT INTO instance_facts (key, value) VALUES (?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               [PROGRESS_FACT, json.dumps(value, ensure_ascii=False, sort_keys=True)])


def clear_progress(db) -> None:
    db.execute("DELETE FROM instance_facts WHERE key = ?", [PROGRESS_FACT])


def lock_for_copy(db, wait_seconds: int = 10) -> bool:
    """PostgreSQL: one migrate-db at a time per target database (a lock held until this
    connection closes). Waits a little: the server may not yet have noticed that a killed
    run's connection is gone. False when another run holds it."""
    if db.dialect != "postgresql":
        return True
    db.execute(f"SET lock_timeout = {int(wait_seconds * 1000)}")
    try:
        db.execute("SELECT pg_advisory_lock(?)", [_MIGRATE_LOCK])
    except postgres.psycopg.errors.LockNotAvailable:
        return False
    finally:
        db.execute("RESET lock_timeout")
    return True


_MIGRATE_LOCK = 0x7467_6D64  # "tgmd": any constant the app uses for nothing else
