"""Settings changes across processes (the values are each branch's row, storage/branches.py)
and facts about the instance itself (`instance_facts`, e.g. the fingerprint of the key that
hashes personal data)."""

from __future__ import annotations

from collections.abc import Callable

CHANGES_CHANNEL = "teller_guard_settings"


def announce_change(db) -> None:
    """PostgreSQL: tell the other processes' connections that the settings changed (delivered
    when the caller's transaction commits, not at all if it rolls back)."""
    if db.dialect == "postgresql":
        db.execute(f"NOTIFY {CHANGES_CHANNEL}")


def listen_for_changes(db, on_change: Callable[[], None]) -> None:
    """PostgreSQL: call `on_change()` for every settings change another connection commits
    from now on. psycopg hands the notice over while this connection runs any statement, so a
    request sees every change committed before its first query. SQLite: nothing to listen to."""
    if db.dialect != "postgresql":
        return
    db.execute(f"LISTEN {CHANGES_CHANNEL}")
    db.conn.raw.add_notify_handler(lambda _notice: on_change())


def instance_fact(db, name: str) -> str | None:
    found = db.execute("SELECT value FROM instance_facts WHERE key = ?", [name]).fetchone()
    return found[0] if found else None


def record_instance_fact(db, name: str, value: str) -> None:
    """Record a fact once (a second record of the same name fails)."""
    db.execute("INSERT INTO instance_facts (key, value) VALUES (?, ?)", [name, value])


def bank_values(db) -> dict[str, str]:
    """The `settings` table (bank-wide settings, bank_settings.py): key -> JSON text."""
    return {row[0]: row[1] for row in db.execute("SELECT key, value FROM settings ORDER BY key").fetchall()}


def put_bank_values(db, values: dict[str, str]) -> None:
    """Insert or replace these keys' JSON text (the same statement on both backends)."""
    for key, value in values.items():
        db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])
