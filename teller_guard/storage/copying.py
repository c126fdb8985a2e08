"""Whole tables, row by row, between databases of either backend: `migrate-db` (a branch's
SQLite file into PostgreSQL) and the tests' per-test PostgreSQL reset use it.

Rows keep their ids (URLs, the ledger's chain and the sessions' references depend on them);
afterwards each PostgreSQL id sequence is moved past the largest id copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .schema import metadata

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
    names = columns(table)
    marks = ", ".join("?" * len(names))
    rows = list(rows)
    if rows:
        if table == "ledger_head" and db.dialect == "postgresql":
            db.execute("DELETE FROM ledger_head")  # the schema's empty head row
        db.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)  # noqa: S608
    return len(rows)


def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - schema names


def data_tables_empty(db) -> bool:
    """No row in any table (PostgreSQL's empty chain head row does not count)."""
    for table in TABLES:
        found = count(db, table)
        if table == "ledger_head" and found:
            row = db.execute("SELECT last_id FROM ledger_head").fetchone()
            found = 0 if row[0] is None else found
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


def truncate_all(db) -> None:
    """PostgreSQL: empty every table (the tests' reset between tests), keeping the schema and
    the chain head row."""
    db.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    db.execute("INSERT INTO ledger_head (id) VALUES (1)")
