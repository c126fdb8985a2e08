"""What printing stores: the print counters of a session and the `outbox` of payloads for
ALERT_ENDPOINT (police alerts, chain anchors). Outbox times are UTC ISO strings of one fixed
format, so they compare as text."""

from __future__ import annotations

from .. import clock
from . import query, query_one
from .branches import condition as branch_condition

# --- print counters ----------------------------------------------------------------------------


def slip_printed(db, session_id: int) -> int:
    """Count one more slip print; returns how many were printed before this one."""
    printed = db.execute("SELECT slips_printed FROM sessions WHERE id = ?",
                         [session_id]).fetchone()[0] or 0
    db.execute("UPDATE sessions SET slips_printed = ? WHERE id = ?", [printed + 1, session_id])
    return printed


def alert_state(db, session_id: int) -> dict | None:
    """What printing a police alert depends on, read inside the write transaction:
    level, alerts_printed and review_status."""
    return query_one(db, "SELECT level, alerts_printed, review_status FROM sessions WHERE id = ?",
                     [session_id])


def alert_printed(db, session_id: int, alerts_printed: int, review_status: str,
                  at: str | None = None) -> None:
    """The new alert count; a printed alert always puts the session in the review queue and,
    unless it went already, sends it to head office (at `at`)."""
    db.execute(
        "UPDATE sessions SET alerts_printed = ?, in_queue = 1, review_status = ?, "
        "escalated_why = CASE WHEN escalated_at IS NULL THEN 'police_alert' "
        "ELSE escalated_why END, escalated_at = COALESCE(escalated_at, ?) "
        "WHERE id = ?", [alerts_printed, review_status, at or _now(), session_id])


def _now() -> str:
    return clock.stamp()


# --- the outbox --------------------------------------------------------------------------------


def queue(db, kind: str, idempotency_key: str, payload: str, session_id: int | None,
          at: str) -> int | None:
    """A pending row due at once; returns its id, or None when the key is already queued."""
    cursor = db.execute(
        "INSERT INTO outbox (session_id, kind, idempotency_key, payload, status, attempts, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) "
        "ON CONFLICT(idempotency_key) DO NOTHING RETURNING id",
        [session_id, kind, idempotency_key, payload, at, at],
    )
    found = cursor.fetchone()
    return found[0] if found else None


def due(db, now: str, limit: int) -> list[dict]:
    """Pending rows whose next attempt is due: id, session_id, idempotency_key, payload,
    attempts, kind; oldest first."""
    return query(
        db, "SELECT id, session_id, idempotency_key, payload, attempts, kind FROM outbox "
        "WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
        "ORDER BY id LIMIT ?", [now, limit])


def claim(db, row_id: int, now: str, lease_until: str) -> bool:
    """Push a due row's next attempt to `lease_until`; False when it is no longer due (another
    sender took it)."""
    cursor = db.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending' "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
        [lease_until, row_id, now])
    return cursor.rowcount == 1


def mark_sent(db, row_id: int, sent_at: str, attempts: int) -> None:
    db.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = ?, last_error = NULL, "
        "next_attempt_at = NULL WHERE id = ?", [sent_at, attempts, row_id])


def mark_attempt_failed(db, row_id: int, status: str, attempts: int, next_attempt_at: str | None,
                        error: str) -> None:
    """A failed attempt: `status` pending (with the next attempt's time) or failed."""
    db.execute(
        "UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ? "
        "WHERE id = ?", [status, attempts, next_attempt_at, error, row_id])


def _of_branches(branch_ids: tuple[int, ...] | None, column: str = "session_id") -> tuple[str, list]:
    """Outbox rows of these branches' screenings (None: every row, the ledger anchors
    included; those belong to no branch, so a branch sees none of them)."""
    if branch_ids is None:
        return "1 = 1", []
    scope, params = branch_condition(branch_ids)
    return f"{column} IN (SELECT id FROM sessions WHERE {scope})", params  # noqa: S608 - our names


def retry_failed(db, now: str, row_id: int | None = None,
                 branch_ids: tuple[int, ...] | None = None) -> int:
    """Make failed rows (or one failed row) of these branches due at `now`; returns how many."""
    scope, scope_params = _of_branches(branch_ids)
    sql = ("UPDATE outbox SET status = 'pending', next_attempt_at = ? "  # noqa: S608 - ours
           f"WHERE status = 'failed' AND {scope}")
    params: list = [now, *scope_params]
    if row_id is not None:
        sql += " AND id = ?"
        params.append(row_id)
    return db.execute(sql, params).rowcount


def status_counts(db, branch_ids: tuple[int, ...] | None = None) -> dict[str, int]:
    """Rows per status of these branches (statuses without rows are missing)."""
    scope, params = _of_branches(branch_ids)
    return dict(db.execute(f"SELECT status, count(*) FROM outbox WHERE {scope} "  # noqa: S608
                           "GROUP BY status", params).fetchall())


def failed_count(db, branch_ids: tuple[int, ...] | None = None) -> int:
    scope, params = _of_branches(branch_ids)
    return db.execute(f"SELECT count(*) FROM outbox WHERE status = 'failed' AND {scope}",  # noqa: S608
                      params).fetchone()[0]


def status_rows(db, anchor_kind: str, anchor_label: str, limit: int,
                branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """Failed first, then pending, then the newest sent, of these branches, with the session's
    reference (or `anchor_label` for rows of `anchor_kind`) and masked payee account: no
    personal data."""
    scope, params = _of_branches(branch_ids, "o.session_id")
    return query(
        db, "SELECT o.id, o.status, o.attempts, o.next_attempt_at, o.last_error, o.created_at, "  # noqa: S608
        "o.sent_at, COALESCE(s.reference, CASE o.kind WHEN ? THEN ? END) "
        "AS reference, s.payee_masked FROM outbox o "
        f"LEFT JOIN sessions s ON s.id = o.session_id WHERE {scope} "
        "ORDER BY CASE o.status WHEN 'failed' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, o.id DESC "
        "LIMIT ?", [anchor_kind, anchor_label, *params, limit])
