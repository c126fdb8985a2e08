"""The JSON API's rows: bearer tokens (`api_tokens`, stored as hashes) and the stored answers
of Idempotency-Keys (`api_idempotency`)."""

from __future__ import annotations

from . import query, query_one, row_of
from .branches import condition as branch_condition

# --- tokens ------------------------------------------------------------------------------------


def add_token(db, name: str, token_hash: str, created_by: int, created_at: str,
              tellers: str | None = None, read_scope: str = "own", may_supervise: int = 0,
              branch_id: int | None = None) -> int:
    """Store a new token's hash, scope (api_scope.Scope.columns()) and the branch it acts for;
    returns its id."""
    return db.execute(
        "INSERT INTO api_tokens (name, token_hash, created_by, created_at, tellers, read_scope, "
        "may_supervise, branch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [name, token_hash, created_by, created_at, tellers, read_scope, may_supervise, branch_id]
    ).fetchone()[0]


def active_token(db, token_hash: str) -> dict | None:
    """The token with this hash unless revoked. Read on every API request, never cached: a
    revoked token fails at once."""
    return row_of(db.conn.execute(
        "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", [token_hash]))


def active_token_by_id(db, token_id: int) -> dict | None:
    return query_one(db, "SELECT * FROM api_tokens WHERE id = ? AND revoked_at IS NULL",
                     [token_id])


def revoke_token(db, token_id: int, revoked_at: str) -> None:
    db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [revoked_at, token_id])


def mark_token_used(db, token_id: int, used_at: str) -> None:
    db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [used_at, token_id])


def tokens_with_creator(db, branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """Every token of these branches (None: all), newest first, with its scope, its branch
    (branch_id, branch_code, branch_name) and the user name of whoever created it."""
    scope, params = branch_condition(branch_ids, "t.branch_id")
    return query(
        db, "SELECT t.id, t.name, t.created_at, t.revoked_at, t.last_used_at, t.tellers, "  # noqa: S608
        "t.read_scope, t.may_supervise, u.username AS creator, t.branch_id, "
        "b.code AS branch_code, b.name AS branch_name "
        "FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by "
        f"LEFT JOIN branches b ON b.id = t.branch_id WHERE {scope} ORDER BY t.id DESC", params)


# --- idempotency keys --------------------------------------------------------------------------


def idempotent_answer(db, token_id: int, key: str, since: str) -> dict | None:
    """The answer stored for this token and key at `since` or later: request_hash, status,
    response (JSON text) and session_id."""
    return query_one(
        db, "SELECT request_hash, status, response, session_id FROM api_idempotency "
        "WHERE token_id = ? AND key = ? AND created_at >= ?", [token_id, key, since])


def forget_answers_before(db, before: str) -> None:
    db.execute("DELETE FROM api_idempotency WHERE created_at < ?", [before])


def remember_answer(db, token_id: int, key: str, request_hash: str, status: int, response: str,
                    session_id: int | None, created_at: str) -> bool:
    """Store an answer; False (nothing stored) when this token and key already have one."""
    # ON CONFLICT rather than catching the error: on PostgreSQL an error ends the transaction.
    stored = db.execute(
        "INSERT INTO api_idempotency (token_id, key, request_hash, status, response, "
        "session_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (token_id, key) DO NOTHING RETURNING token_id",
        [token_id, key, request_hash, status, response, session_id, created_at]).fetchone()
    return stored is not None


# --- rate limit counts (PostgreSQL: one count for every server process) -----------------------

def count_request(db, token_id: int, minute: int, share_of_previous: float, limit: int) -> bool:
    """Count one request of the token in `minute` (minutes since the epoch) unless the sliding
    window's estimate (last minute's count times `share_of_previous`, plus this minute's) has
    reached `limit`; True when counted. One statement, so concurrent requests from any process
    serialize on the token's row and none is lost or let through twice. The stored counts are
    moved on when their minute is older; a stored minute ahead of `minute` (another host's
    clock is ahead) is taken as this minute, so counts never go back."""
    counted = db.execute(
        "INSERT INTO api_rate_counts AS c (token_id, minute, in_minute, in_previous_minute) "
        "VALUES (?, ?, 1, 0) ON CONFLICT (token_id) DO UPDATE SET "
        "minute = GREATEST(c.minute, excluded.minute), "
        "in_minute = CASE WHEN c.minute >= excluded.minute THEN c.in_minute ELSE 0 END + 1, "
        "in_previous_minute = CASE WHEN c.minute >= excluded.minute THEN c.in_previous_minute "
        "  WHEN c.minute = excluded.minute - 1 THEN c.in_minute ELSE 0 END "
        "WHERE (CASE WHEN c.minute >= excluded.minute THEN c.in_previous_minute "
        "  WHEN c.minute = excluded.minute - 1 THEN c.in_minute ELSE 0 END) * ? "
        "+ (CASE WHEN c.minute >= excluded.minute THEN c.in_minute ELSE 0 END) < ? "
        "RETURNING token_id",
        [token_id, minute, share_of_previous, limit]).fetchone()
    return counted is not None


def request_counts(db, token_id: int) -> tuple[int, int, int] | None:
    """(minute, this minute's count, last minute's count) as stored for the token."""
    found = db.execute("SELECT minute, in_minute, in_previous_minute FROM api_rate_counts "
                       "WHERE token_id = ?", [token_id]).fetchone()
    return tuple(found) if found else None
