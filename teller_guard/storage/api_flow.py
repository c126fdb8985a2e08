"""The JSON API's own reads: a screening with the names of who filed and approved it, and the
reconciliation listing (tokens and idempotency keys are in storage/api.py)."""

from __future__ import annotations

import json
from datetime import date

from .. import clock
from . import Row, row_of, rows_of
from .branches import condition as branch_condition

# The names the API answers with besides the session's own columns.
_NAMES = ("t.username AS teller_username, sv.username AS supervisor_username, "
          "k.name AS api_client")
_JOINS = ("JOIN users t ON t.id = s.teller_id LEFT JOIN users sv ON sv.id = s.supervisor_id "
          "LEFT JOIN api_tokens k ON k.id = s.api_token_id")


def screening(db, session_id: int) -> Row | None:
    """One session with teller_username, supervisor_username and api_client (the filing
    token's name, None for the web pages'), form and assessment decoded."""
    row = row_of(db.execute(f"SELECT s.*, {_NAMES} FROM sessions s {_JOINS} "  # noqa: S608
                            "WHERE s.id = ?", [session_id]))
    if row is not None:
        row["form"] = json.loads(row["form"] or "{}")
        row["assessment"] = json.loads(row["assessment"]) if row["assessment"] else None
    return row


def screenings_page(db, *, after: int = 0, limit: int, token_id: int | None = None,
                    date_from: date | None = None, date_to: date | None = None,
                    teller_id: int | None = None, reference: str | None = None,
                    outcome: str | None = None, level: str | None = None,
                    status: str | None = None,
                    branch_ids: tuple[int, ...] | None = None) -> list[Row]:
    """Sessions with an id above `after`, oldest first, at most `limit`, matching every filter
    given (`token_id`: only those that token filed; `branch_ids`: of these branches). Dates are
    the bank's business days, turned into bounds on started_at (UTC text, clock.day_range)."""
    scope, scope_params = branch_condition(branch_ids, "s.branch_id")
    conditions, params = ["s.id > ?", scope], [after, *scope_params]
    low, high = clock.day_range(date_from, date_to)
    for sql, value in (("s.api_token_id = ?", token_id),
                       ("s.started_at >= ?", low), ("s.started_at < ?", high),
                       ("s.teller_id = ?", teller_id), ("s.reference = ?", reference),
                       ("s.outcome = ?", outcome), ("s.level = ?", level),
                       ("s.status = ?", status)):
        if value is not None:
            conditions.append(sql)
            params.append(value)
    return rows_of(db.execute(
        "SELECT s.id, s.reference, s.status, s.level, s.score, s.outcome, s.started_at, "  # noqa: S608 - our conditions
        "s.finished_at, s.amount_fen, s.payee_masked, s.supervisor_decision, "
        f"{_NAMES} FROM sessions s {_JOINS} WHERE {' AND '.join(conditions)} "
        "ORDER BY s.id LIMIT ?", [*params, limit]))

