"""Screenings (`sessions`, one row per screening) and their personal-data vault (`pii_vault`).

The screening service decides what a step writes and appends its ledger event; these functions
only read and write the rows, inside the caller's transaction. Plain SQL throughout:
sqlite-utils' table helpers read the schema (3-4 queries) on every call, which was a large
share of a screening's cost.
"""

from __future__ import annotations

import json
from datetime import date

from . import query, query_one
from .branches import condition as branch_condition
from .schema import AWAITING_SUPERVISOR

# --- the session row ---------------------------------------------------------------------------


def start(db, day: date, values: dict) -> tuple[int, str]:
    """Insert a session with the day's next reference (TG20261130-000001, …), computed in the
    same statement, and the branch of its teller (`values["teller_id"]`) as it is now; returns
    (id, reference). Call inside a transaction (the write lock keeps two writers from taking the
    same number)."""
    prefix = f"TG{day:%Y%m%d}-"
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    if db.dialect == "postgresql":
        # The day's numbers are taken one writer at a time (SQLite's write lock does this there):
        # a transaction-long lock on the day, not on the table.
        db.execute("SELECT pg_advisory_xact_lock(?)", [int(f"{day:%Y%m%d}")])
        number = "lpad(CAST({} AS TEXT), 6, '0')"
    else:
        number = "printf('%06d', {})"
    next_number = number.format("COALESCE((SELECT CAST(substr(max(reference), ?) AS INTEGER) "
                                "FROM sessions WHERE reference >= ? AND reference < ?), 0) + 1")
    rows = db.execute(
        f"INSERT INTO sessions (reference, branch_id, {names}) VALUES "  # noqa: S608 - our names
        f"(? || {next_number}, (SELECT branch_id FROM users WHERE id = ?), {marks}) "
        "RETURNING id, reference",
        [prefix, len(prefix) + 1, prefix, prefix[:-1] + ".", values["teller_id"],
         *values.values()],
    ).fetchall()
    return rows[0]


def _set(db, session_id: int, values: dict) -> None:
    assignments = ", ".join(f"{name} = ?" for name in values)
    db.execute(f"UPDATE sessions SET {assignments} WHERE id = ?",  # noqa: S608 - our keys
               [*values.values(), session_id])


def save_step(db, session_id: int, values: dict) -> None:
    """A draft step's columns: the facts (and their columns) or the answers so far."""
    _set(db, session_id, values)


def assessed(db, session_id: int, values: dict) -> None:
    """The columns an assessment sets (level, score, action, typologies, assessment, queue)."""
    _set(db, session_id, values)


def supervised(db, session_id: int, values: dict) -> None:
    """The supervisor's decision (confirmed or override) and what it does to the queue."""
    _set(db, session_id, values)


def finish(db, session_id: int, values: dict) -> None:
    """The outcome, its time and the duration: the session is finished."""
    _set(db, session_id, values)


def load(db, session_id: int) -> dict | None:
    """The session row, `form` and `assessment` decoded from JSON; None when there is none."""
    row = query_one(db, "SELECT * FROM sessions WHERE id = ?", [session_id])
    if row is None:
        return None
    row["form"] = json.loads(row["form"] or "{}")
    row["assessment"] = json.loads(row["assessment"]) if row["assessment"] else None
    return row


def count(db) -> int:
    return db.execute("SELECT count(*) FROM sessions").fetchone()[0]


def discarded(db, session_id: int, values: dict) -> None:
    """The teller gave up an unfinished screening: status `discarded` and when."""
    _set(db, session_id, values)


def unfinished_for(db, teller_id: int, limit: int = 50,
                   branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """A teller's unfinished screenings of these branches (None: all), newest first; a teller
    moved to another branch no longer lists the old one's (they could not open them)."""
    scope, scope_params = branch_condition(branch_ids)
    return query(
        db, "SELECT id, reference, started_at, updated_at, step, status, level, amount_fen, "  # noqa: S608 - fixed condition
        f"payee_masked, customer_masked FROM sessions WHERE teller_id = ? AND {scope} "
        "AND status IN ('draft', 'assessed') ORDER BY id DESC LIMIT ?",
        [teller_id, *scope_params, limit])


def search_own(db, teller_id: int, *, reference: str | None = None, low: str | None = None,
               high: str | None = None, payee_tail: str | None = None,
               before_id: int | None = None, limit: int = 20,
               branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """A teller's own screenings, newest first, a page at a time (keyset: ids below
    `before_id`). `reference`: part of the reference (letters, digits and '-' only, so no LIKE
    wildcard); `low`/`high`: started_at bounds as text (low <= started_at < high);
    `payee_tail`: the last digits of the payee account, which its mask keeps; `branch_ids`:
    of these branches only (a teller moved to another branch no longer sees the old one's)."""
    scope, scope_params = branch_condition(branch_ids)
    conditions, params = ["teller_id = ?", scope], [teller_id, *scope_params]
    if reference:
        conditions.append("reference LIKE ?")
        params.append(f"%{reference}%")
    if low:
        conditions.append("started_at >= ?")
        params.append(low)
    if high:
        conditions.append("started_at < ?")
        params.append(high)
    if payee_tail:
        conditions.append("payee_masked LIKE ?")
        params.append(f"%{payee_tail}")
    if before_id is not None:
        conditions.append("id < ?")
        params.append(before_id)
    return query(
        db, "SELECT id, reference, started_at, status, level, outcome, amount_fen, "  # noqa: S608 - fixed conditions
        "payee_masked, customer_masked FROM sessions WHERE " + " AND ".join(conditions)
        + " ORDER BY id DESC LIMIT ?", [*params, limit])


def day_summary(db, teller_id: int, low: str, high: str,
                branch_ids: tuple[int, ...] | None = None) -> dict:
    """A teller's screenings of these branches (None: all) started in [low, high) (text
    bounds of a day), discarded ones left out: how many, how many 高/极高, and the warning
    slips printed for them."""
    scope, scope_params = branch_condition(branch_ids)
    # SQLite without ANALYZE statistics prefers the teller's index, i.e. the teller's whole
    # history (19 ms for 12,000 sessions, against 0.03 ms on the day's rows); PostgreSQL's
    # planner has the statistics to choose.
    hint = "" if db.dialect == "postgresql" else "INDEXED BY idx_sessions_started_at"
    row = query_one(
        db, "SELECT count(*) AS screenings, "  # noqa: S608 - a constant hint
        "COALESCE(sum(CASE WHEN level IN ('high', 'critical') THEN 1 ELSE 0 END), 0) AS high_risk, "
        f"COALESCE(sum(slips_printed), 0) AS slips FROM sessions {hint} WHERE teller_id = ? "
        f"AND {scope} AND started_at >= ? AND started_at < ? AND status != 'discarded'",
        [teller_id, *scope_params, low, high])
    return {name: int(value or 0) for name, value in row.items()}


def recent_finished_for(db, teller_id: int, limit: int = 20,
                        branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    scope, scope_params = branch_condition(branch_ids)
    return query(
        db, "SELECT id, reference, started_at, level, outcome, amount_fen, payee_masked "  # noqa: S608 - fixed condition
        f"FROM sessions WHERE teller_id = ? AND {scope} AND status = 'finished' "
        "ORDER BY id DESC LIMIT ?", [teller_id, *scope_params, limit])


def awaiting_supervisor(db, supervisor_id: int, limit: int = 200,
                        branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """The 高/极高 screenings of these branches whose assessment waits for a supervisor's
    decision, newest assessment first, except `supervisor_id`'s own (they may not approve
    those): id, reference, level, score, amount_fen, payee_masked, customer_masked, assessed_at
    (the assessment's updated_at), the teller's username, display_name and staff_no, and
    api_client (the filing token's name, None for the web pages')."""
    scope, params = branch_condition(branch_ids, "s.branch_id")
    return query(
        db, "SELECT s.id, s.reference, s.level, s.score, s.amount_fen, s.payee_masked, "  # noqa: S608 - a constant
        "s.customer_masked, s.updated_at AS assessed_at, t.username AS teller_username, "
        "t.display_name AS teller_name, t.staff_no AS teller_staff_no, k.name AS api_client "
        f"FROM sessions s {_awaiting_hint(db)} JOIN users t ON t.id = s.teller_id "
        "LEFT JOIN api_tokens k ON k.id = s.api_token_id "
        f"WHERE {_AWAITING} AND s.teller_id != ? AND {scope} "
        "ORDER BY s.updated_at DESC, s.id DESC LIMIT ?",
        [supervisor_id, *params, limit])


def awaiting_supervisor_count(db, supervisor_id: int,
                              branch_ids: tuple[int, ...] | None = None) -> int:
    """How many awaiting_supervisor() would list without a limit (the supervisor's menu shows it
    on every page: the partial index holds only these rows, the branch is read from each)."""
    scope, params = branch_condition(branch_ids, "s.branch_id")
    return db.execute(f"SELECT count(*) FROM sessions s {_awaiting_hint(db)} WHERE {_AWAITING} "  # noqa: S608
                      f"AND s.teller_id != ? AND {scope}", [supervisor_id, *params]).fetchone()[0]


# The index's predicate with the table's alias: SQLite uses a partial index only when the query
# repeats each of its terms.
_AWAITING = " AND ".join(f"s.{term}" for term in AWAITING_SUPERVISOR.split(" AND "))


def _awaiting_hint(db) -> str:
    """SQLite: the partial index, or its planner takes the branch's index (every session of the
    branch, 500 ms at 200,000) for the few rows waiting; PostgreSQL's planner has statistics."""
    return "" if db.dialect == "postgresql" else "INDEXED BY idx_sessions_awaiting_supervisor"


# --- the vault ---------------------------------------------------------------------------------


def store_vault(db, session_id: int, fields: dict[str, str], stored_at: str) -> None:
    """A new session's vault: one INSERT of the fields given (there is nothing to delete)."""
    if not fields:
        return
    db.execute(
        "INSERT INTO pii_vault (session_id, field, value, stored_at) VALUES "  # noqa: S608 - placeholders only
        + ", ".join(["(?, ?, ?, ?)"] * len(fields))
        + " ON CONFLICT(session_id, field) DO UPDATE SET value = excluded.value, "
        "stored_at = excluded.stored_at",
        [item for name, value in fields.items() for item in (session_id, name, value, stored_at)],
    )


def save_vault(db, session_id: int, fields: dict[str, str | None], stored_at: str) -> None:
    """Store each field that has a value and delete each that has none, in the given order."""
    for name, value in fields.items():
        if value:
            db.execute(
                "INSERT INTO pii_vault (session_id, field, value, stored_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(session_id, field) DO UPDATE SET value = excluded.value, "
                "stored_at = excluded.stored_at",
                [session_id, name, value, stored_at],
            )
        else:
            db.execute("DELETE FROM pii_vault WHERE session_id = ? AND field = ?",
                       [session_id, name])


def vault(db, session_id: int) -> dict[str, str]:
    """The session's full personal data, field by field."""
    return dict(db.execute("SELECT field, value FROM pii_vault WHERE session_id = ?",
                           [session_id]).fetchall())


def vault_value(db, session_id: int, field: str) -> str | None:
    found = db.execute("SELECT value FROM pii_vault WHERE session_id = ? AND field = ?",
                       [session_id, field]).fetchone()
    return found[0] if found else None


def newest_vaulted_payee(db) -> dict | None:
    """The newest session whose payee account the vault still holds in full (retention empties
    older ones): {"payee_hash", "payee_account"}, or None."""
    return query_one(
        db, "SELECT sessions.payee_hash, pii_vault.value AS payee_account FROM sessions "
        "JOIN pii_vault ON pii_vault.session_id = sessions.id AND pii_vault.field = 'payee_account' "
        "WHERE sessions.payee_hash IS NOT NULL AND pii_vault.value IS NOT NULL "
        "AND pii_vault.value != '' ORDER BY sessions.id DESC LIMIT 1")
