"""Screening drafts (`screening_drafts`): the sealed form a teller has typed but not submitted."""

from __future__ import annotations

from . import query_one


def save(db, teller_id: int, slot: str, session_id: int | None, sealed: str,
         saved_at: int) -> None:
    db.execute(
        "INSERT INTO screening_drafts (teller_id, slot, session_id, sealed, saved_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(teller_id, slot) DO UPDATE SET "
        "session_id = excluded.session_id, sealed = excluded.sealed, saved_at = excluded.saved_at",
        [teller_id, slot, session_id, sealed, saved_at])


def load(db, teller_id: int, slot: str) -> dict | None:
    return query_one(db, "SELECT sealed, saved_at FROM screening_drafts "
                         "WHERE teller_id = ? AND slot = ?", [teller_id, slot])


def delete(db, teller_id: int, slot: str) -> None:
    db.execute("DELETE FROM screening_drafts WHERE teller_id = ? AND slot = ?", [teller_id, slot])


def delete_for_session(db, session_id: int) -> None:
    db.execute("DELETE FROM screening_drafts WHERE session_id = ?", [session_id])


def delete_older_than(db, saved_before: int) -> None:
    db.execute("DELETE FROM screening_drafts WHERE saved_at < ?", [saved_before])
