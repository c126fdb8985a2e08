"""The SQL of operations: the readiness probe's checks and the figures /metrics reads.

The probe has a connection of its own (a short busy timeout: a probe must answer quickly;
mode=rw: a probe must never create a missing database file). The metrics read the daily
statistics tables (m007), the outbox and the ledger at scrape time, so they are right whichever
server process answers.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from . import Row, migrate, postgres, query

# What the probe's queries raise when the database fails them.
DatabaseError = (sqlite3.Error, postgres.psycopg.Error)


# --- /readyz ---------------------------------------------------------------------------------


@contextmanager
def probe(path: str, seconds: float):
    """A connection to the existing database file for the readiness checks, or None when it
    cannot be opened; closed at the end of the block."""
    if postgres.is_url(path):
        try:
            conn = postgres.PostgresDatabase(path, connect_timeout=max(1, round(seconds)))
            conn.execute(f"SET statement_timeout = {int(seconds * 1000)}")
        except postgres.psycopg.Error:
            yield None
            return
        try:
            yield conn
        finally:
            conn.conn.close()
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=seconds,
                               isolation_level=None)
    except (sqlite3.Error, OSError):
        yield None
        return
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        yield conn
    finally:
        conn.close()


def writable(conn) -> bool:
    """Reachable and writable: the schema reads and the write lock can be taken (PostgreSQL:
    not a read-only replica or a server in recovery)."""
    if getattr(conn, "dialect", None) == postgres.DIALECT:
        try:
            return conn.execute("SHOW transaction_read_only").fetchone()[0] == "off"
        except postgres.psycopg.Error:
            return False
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        return False
    return True


def migrated(conn) -> bool:
    """The schema is at the head revision."""
    try:
        return migrate.stamped_revision(conn) == migrate.HEAD
    except DatabaseError:
        return False


def oldest_undelivered(db) -> str | None:
    """created_at of the oldest police alert (or anchor) the outbox has not delivered."""
    return db.execute("SELECT min(created_at) FROM outbox WHERE status != 'sent'").fetchone()[0]


# --- /metrics ----------------------------------------------------------------------------------


def screenings_by_level(db) -> list[Row]:
    """level ('' before assessment) and count of every stored screening."""
    return query(db, "SELECT level, sum(n) AS count FROM stats_day_level "
                     "GROUP BY level ORDER BY level")


def screenings_by_outcome(db) -> list[Row]:
    """outcome and count of the finished screenings."""
    return query(db, "SELECT outcome, sum(n) AS count FROM stats_day_outcome "
                     "GROUP BY outcome ORDER BY outcome")


def undelivered_by_status(db) -> dict[str, int]:
    """How many outbox rows wait, by status (pending, failed)."""
    return dict(db.execute("SELECT status, count(*) FROM outbox WHERE status != 'sent' "
                           "GROUP BY status").fetchall())


def newest_event_at(db) -> str | None:
    """`at` of the newest ledger event, None when the ledger is empty."""
    found = db.execute("SELECT at FROM ledger ORDER BY id DESC LIMIT 1").fetchone()
    return found[0] if found else None
