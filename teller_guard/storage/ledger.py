"""The ledger's SQL: append rows and move the sealed head, read the head and a session's events.

The hash chain itself (canonical encoding, HMAC, the head's seal) is audit.py's; this module
only stores and reads what it computes.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager

from ..digests import SESSION_COLUMNS
from . import Row, query, query_one


def events_of(db, session_id: int) -> list[Row]:
    """A session's events in order: id, actor_id, and at, kind and data as bytes (a row
    rewritten around the app may hold bytes that are not UTF-8, which would end the query with
    a decoding error; review.queries.shown decodes them for display)."""
    as_bytes = bytes_of(db)
    return query(
        db, f"SELECT id, {as_bytes.format('at')} AS at, actor_id, {as_bytes.format('kind')} AS "  # noqa: S608
            f"kind, {as_bytes.format('data')} AS data FROM ledger WHERE session_id = ? ORDER BY id",
        [session_id])


def newest_data(db, session_id: int, kind: str) -> dict | None:
    """The data of a session's newest event of this kind, decoded (None: no such event, or data
    that is not a JSON object)."""
    found = query_one(db, "SELECT data FROM ledger WHERE session_id = ? AND kind = ? "
                          "ORDER BY id DESC LIMIT 1", [session_id, kind])
    if found is None:
        return None
    try:
        data = json.loads(found["data"])
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def bytes_of(db) -> str:
    """SQL reading text column {} as bytes (PostgreSQL text is always valid UTF-8)."""
    return "convert_to({}, 'UTF8')" if db.dialect == "postgresql" else "CAST({} AS BLOB)"


# --- appending (call inside storage.transaction: the head must not move under the caller) -----

BANK_CHAIN = 0  # the bank's own chain: head office and bank-wide events
LEGACY_CHAIN = 1  # the chain an upgraded single-branch ledger became (0014): plain_until

HEAD_COLUMNS = "id AS chain, last_id, last_hash, seal, plain_until"

# The chain an event goes to, in SQL (parameters: chain, session_id, actor_id): the one given,
# else the session's branch, else the actor's, else (head office, no actor) the bank's.
_CHAIN_OF = ("COALESCE(CAST(? AS BIGINT), (SELECT branch_id FROM sessions WHERE id = ?), "
             "(SELECT branch_id FROM users WHERE id = ?), 0)")


def head(db, chain: int) -> Row | None:
    """A chain's sealed head: chain, last_id, last_hash, seal, plain_until (None before the
    chain's first event)."""
    found = query_one(db, f"SELECT {HEAD_COLUMNS} FROM ledger_head WHERE id = ?", [chain])  # noqa: S608
    return found if found and found["last_id"] is not None else None


def heads(db) -> list[Row]:
    """Every chain's head that has a first event, by chain."""
    return query(db, f"SELECT {HEAD_COLUMNS} FROM ledger_head "  # noqa: S608 - constants
                     "WHERE last_id IS NOT NULL ORDER BY id")


def head_rows(db) -> list[Row]:
    """Every row of ledger_head as stored (migrate-db compares them), by chain."""
    return query(db, f"SELECT {HEAD_COLUMNS} FROM ledger_head ORDER BY id")  # noqa: S608


def chains(db) -> list[int]:
    """The chains verify walks: every head row's and every branch's, and the bank's."""
    found = {row[0] for row in db.execute("SELECT id FROM ledger_head").fetchall()}
    found |= {row[0] for row in db.execute("SELECT id FROM branches").fetchall()}
    return sorted(found | {BANK_CHAIN})


def head_for_append(db, count: int, chain: int | None = None, session_id: int | None = None,
                    actor_id: int | None = None) -> tuple[Row, list[int]]:
    """The head of the chain these events go to (_CHAIN_OF), locked until the caller's
    transaction ends, and `count` new ledger ids, in one statement: (head, ids). The head's
    last_id is None before the chain's first event.

    PostgreSQL: a row lock on the chain's head, so appends from any number of processes stay
    one chain per branch while other branches append at the same time; the ids come from a
    sequence read after the lock is held, so they grow along each chain. SQLite's write lock
    already serializes everything: the ids follow the largest in the ledger."""
    params = [chain, session_id, actor_id]
    if db.dialect != "postgresql":
        found = query_one(
            db, f"SELECT t.chain AS chain, h.last_id AS last_id, h.last_hash AS last_hash, "  # noqa: S608
                "h.seal AS seal, h.plain_until AS plain_until, "
                "COALESCE((SELECT max(id) FROM ledger), 0) AS max_id "
                f"FROM (SELECT {_CHAIN_OF} AS chain) t LEFT JOIN ledger_head h ON h.id = t.chain",
            params)
        first = max(found.pop("max_id"), found["last_id"] or 0) + 1
        return found, list(range(first, first + count))
    # The CTE locks the row before the outer query's projection runs, so nextval is called
    # only once the lock is held (an id taken while waiting could land behind a later one).
    sql = (f"WITH target AS (SELECT {_CHAIN_OF} AS chain), "  # noqa: S608 - constants
           "head AS MATERIALIZED (SELECT id, last_id, last_hash, seal, plain_until "
           "FROM ledger_head WHERE id = (SELECT chain FROM target) FOR UPDATE) "
           "SELECT head.id AS chain, head.last_id, head.last_hash, head.seal, head.plain_until, "
           "nextval('ledger_id_seq') AS new_id FROM head CROSS JOIN generate_series(1, ?) "
           "ORDER BY new_id")
    rows = query(db, sql, [*params, count])
    if not rows:  # the chain's first event (a new branch), or a hand-emptied table
        target = db.execute(f"SELECT {_CHAIN_OF}", params).fetchone()[0]  # noqa: S608
        db.execute("INSERT INTO ledger_head (id) VALUES (?) ON CONFLICT (id) DO NOTHING",
                   [target])
        rows = query(db, sql, [target, None, None, count])
    ids = [row.pop("new_id") for row in rows]
    return rows[0], ids


def append(db, chain: int, rows: list[tuple], seal: str) -> None:
    """Store chained rows (id, at, actor_id, kind, session_id, data, prev_hash, hash) of one
    chain with one INSERT and move that chain's head to the last of them with its seal. Call
    after head_for_append."""
    insert = ("INSERT INTO ledger (id, at, actor_id, kind, session_id, data, prev_hash, hash, "  # noqa: S608
              "chain) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)))
    values = [value for row in rows for value in (*row, chain)]
    last = rows[-1]
    if db.dialect == "postgresql":
        # One round trip, not two: every other appender to this chain waits on its head row
        # from head_for_append (which made sure it exists) until this transaction commits.
        db.execute("WITH moved AS (UPDATE ledger_head SET last_id = ?, last_hash = ?, seal = ? "  # noqa: S608 - placeholders only
                   "WHERE id = ?) " + insert, [last[0], last[7], seal, chain, *values])
        return
    db.execute(insert, values)
    db.execute(
        "INSERT INTO ledger_head (id, last_id, last_hash, seal) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET last_id = excluded.last_id, "
        "last_hash = excluded.last_hash, seal = excluded.seal",
        [chain, last[0], last[7], seal],
    )


# --- reading the whole chain (verify) ------------------------------------------------------------
#
# Verify walks millions of rows: chain_rows hands over the cursor itself, its rows as tuples in
# CHAIN_COLUMNS order, rather than a dict per row.

CHAIN_COLUMNS = ("id", "at", "actor_id", "kind", "session_id", "data", "prev_hash", "hash",
                 "chain")
_CHAIN_ROWS = f"SELECT {', '.join(CHAIN_COLUMNS)} FROM ledger"  # noqa: S608 - constants


def _lenient_text(raw: bytes) -> str:
    """Text columns as verify reads them: bytes that are not UTF-8 (written around the app)
    become lone surrogates, which no genuine row has, instead of an error that ends the walk."""
    return raw.decode("utf-8", "surrogateescape")


@contextmanager
def lenient_text(db):
    """Read text with _lenient_text on this connection while inside the block (SQLite: text
    written around the app may not be UTF-8; PostgreSQL refuses such text on the way in)."""
    if db.dialect == "postgresql":
        yield db
        return
    text_factory, db.conn.text_factory = db.conn.text_factory, _lenient_text
    try:
        yield db
    finally:
        db.conn.text_factory = text_factory


def open_read_only(source):
    """A connection of its own for a verify worker process, to what worker_source gave:
    SQLite's file, read only, text read leniently; or PostgreSQL in the caller's snapshot."""
    if isinstance(source, list):
        from . import integrity_postgresql, postgres

        url, snapshot = source
        database = postgres.connect(url)
        integrity_postgresql.join_snapshot(database, snapshot)
        return database
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    conn.text_factory = _lenient_text
    return conn


def close_read_only(conn) -> None:
    getattr(conn, "conn", conn).close()  # PostgreSQL: ends the worker's read-only transaction


def worker_source(db):
    """What verify worker processes open (open_read_only; JSON for their stdin): the main
    database's file, or for PostgreSQL its URL and the caller's snapshot (call inside the
    snapshot's transaction: the workers read exactly what the caller reads). None for an
    in-memory database."""
    if db.dialect == "postgresql":
        return [db.url, db.execute("SELECT pg_export_snapshot()").fetchone()[0]]
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or None
    return None


def span(db, chain: int | None = None) -> Row:
    """low and high (the smallest and largest id) and total (the number of rows): of the
    whole ledger, or of one chain."""
    sql = "SELECT min(id) AS low, max(id) AS high, count(*) AS total FROM ledger"
    if chain is None:
        return query_one(db, sql)
    return query_one(db, sql + " WHERE chain = ?", [chain])


def chain_rows(db, low: int | None = None, high: int | None = None, chain: int | None = None):
    """Rows as tuples (CHAIN_COLUMNS) in id order: all, or those with low <= id <= high; of
    every chain, or of `chain` only (its index). PostgreSQL: call inside a transaction
    (snapshot below). `db` may be a worker's plain sqlite3 connection (open_read_only)."""
    where, params = [], []
    if chain is not None:
        where.append("chain = ?")
        params.append(chain)
    if low is not None:
        where.append("id BETWEEN ? AND ?")
        params += [low, high]
    sql = _CHAIN_ROWS + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    if getattr(db, "dialect", "sqlite") == "postgresql":
        return _streamed(db, sql, params)
    return db.execute(sql, params)


CHAIN_CHUNK = 1000  # rows per chunk of a streamed result


def _streamed(db, sql: str, params):
    """PostgreSQL: the rows as the server sends them, in chunks (libpq 17's chunked mode),
    rather than the whole result in the client's memory. Fetching 3.7M rows took 9–14 s this way
    and 23–25 s through a server-side cursor (FETCH after FETCH: server and client take turns)."""
    from .postgres import psycopg, translate

    if psycopg.pq.version() >= 170000:
        cursor = db.conn.raw.cursor()
        yield from cursor.stream(translate(sql), params or None, size=CHAIN_CHUNK)
        return
    with db.conn.raw.cursor(name="tg_chain_rows") as named:  # an older libpq
        named.itersize = 20 * CHAIN_CHUNK
        named.execute(translate(sql), params or None)
        yield from named


@contextmanager
def snapshot(db):
    """PostgreSQL: the head, the span and the rows read in one REPEATABLE READ transaction (the
    caller's when it has one), which worker processes can join (worker_source). SQLite: as
    before, each statement on its own."""
    if db.dialect != "postgresql" or db.conn.in_transaction:
        yield db
        return
    db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    try:
        yield db
    finally:
        db.execute("COMMIT")


def newest_row(db) -> tuple | None:
    """The newest row as a tuple in CHAIN_COLUMNS order (None: the ledger is empty)."""
    found = db.execute(_CHAIN_ROWS + " ORDER BY id DESC LIMIT 1").fetchone()
    return tuple(found) if found else None


def row_before(db, chain: int, row_id: int) -> Row | None:
    """id and hash of the chain's row just before id `row_id`."""
    return query_one(db, "SELECT id, hash FROM ledger WHERE chain = ? AND id < ? "
                         "ORDER BY id DESC LIMIT 1", [chain, row_id])


def row_after(db, chain: int, row_id: int) -> Row | None:
    """prev_hash of the chain's row just after id `row_id`."""
    return query_one(db, "SELECT prev_hash FROM ledger WHERE chain = ? AND id > ? "
                         "ORDER BY id LIMIT 1", [chain, row_id])


# --- anchors -------------------------------------------------------------------------------------


def anchored_events(db) -> list[Row]:
    """id, hash and data of every chain.anchored event, oldest first."""
    return query(db, "SELECT id, hash, data FROM ledger WHERE session_id IS NULL "
                     "AND kind = 'chain.anchored' ORDER BY id")


def hash_of(db, row_id: int) -> Row | None:
    """The stored hash and chain of row `row_id` (None: no such row)."""
    return query_one(db, "SELECT hash, chain FROM ledger WHERE id = ?", [row_id])


# --- what a screening event's `state` digest covers (digests.py) --------------------------------

# The text digests.session_text and digests.vault_text build, built in SQL: columns joined by
# U+001F, NULL as the empty string; the vault's rows in field order (the primary key index
# gives that order) as field U+001E value. `s` is the sessions row.
SESSION_TEXT_SQL = " || char(31) || ".join(f"IFNULL(s.{name}, '')" for name in SESSION_COLUMNS)
VAULT_TEXT_SQL = ("IFNULL((SELECT group_concat(v.field || char(30) || v.value, char(31)) FROM "
                  "(SELECT field, value FROM pii_vault WHERE session_id = s.id ORDER BY field) v), '')")


# PostgreSQL: || does not turn numbers into text by itself, and its names differ.
POSTGRESQL_SESSION_TEXT_SQL = " || chr(31) || ".join(
    f"COALESCE(CAST(s.{name} AS TEXT), '')" for name in SESSION_COLUMNS)
# (VAULT_AGGREGATE_SQL: of the pii_vault rows `v` of one session; verify groups them all at once)
VAULT_AGGREGATE_SQL = 'string_agg(v.field || chr(30) || v.value, chr(31) ORDER BY v.field COLLATE "C")'
POSTGRESQL_VAULT_TEXT_SQL = (
    f"COALESCE((SELECT {VAULT_AGGREGATE_SQL} FROM pii_vault v WHERE v.session_id = s.id), '')")  # noqa: S608


def state_texts_sql(db) -> tuple[str, str]:
    if db.dialect == "postgresql":
        return POSTGRESQL_SESSION_TEXT_SQL, POSTGRESQL_VAULT_TEXT_SQL
    return SESSION_TEXT_SQL, VAULT_TEXT_SQL


def state_texts(db, session_id: int) -> Row | None:
    """session_text and vault_text of a session as stored now (inside the write, after the
    UPDATE, they are what the event's `state` must digest)."""
    session_text, vault_text = state_texts_sql(db)
    return query_one(db, f"SELECT {session_text} AS session_text, "  # noqa: S608 - constants
                         f"{vault_text} AS vault_text FROM sessions s WHERE s.id = ?",
                     [session_id])
