"""The watchlist (`watchlist`: keyed hashes and masks of suspect accounts, never the numbers),
its imports (`watchlist_imports`), and what the screening and the export read from `sessions`
about payees and customers across screenings."""

from __future__ import annotations

from collections.abc import Iterable

from . import query, query_one
from .branches import condition as branch_condition

# The id is the entry's id: stable, not personal, usable in URLs.
_ENTRY = ("id, account_hash, account_masked, source, listed_on, note, import_id, "
          "added_at")

# --- entries -----------------------------------------------------------------------------------


def is_listed(db, account_hash: str) -> bool:
    return db.execute("SELECT 1 FROM watchlist WHERE account_hash = ?",
                      [account_hash]).fetchone() is not None


def entry_by_hash(db, account_hash: str) -> dict | None:
    return query_one(db, f"SELECT {_ENTRY} FROM watchlist WHERE account_hash = ?",  # noqa: S608
                     [account_hash])


def entry(db, entry_id: int) -> dict | None:
    return query_one(db, f"SELECT {_ENTRY} FROM watchlist WHERE id = ?",  # noqa: S608
                     [entry_id])


def entries_before(db, before: int | None, limit: int) -> list[dict]:
    """Newest first, from the entry before `before` (from the newest when None)."""
    if before is None:
        return query(db, f"SELECT {_ENTRY} FROM watchlist "  # noqa: S608
                     "ORDER BY id DESC LIMIT ?", [limit])
    return query(db, f"SELECT {_ENTRY} FROM watchlist WHERE id < ? "  # noqa: S608
                 "ORDER BY id DESC LIMIT ?", [before, limit])


def count(db) -> int:
    return db.execute("SELECT count(*) FROM watchlist").fetchone()[0]


def remove(db, entry_id: int) -> None:
    db.execute("DELETE FROM watchlist WHERE id = ?", [entry_id])


# --- imports -----------------------------------------------------------------------------------


def start_import(db, imported_at: str, actor_id: int | None, kind: str, data_lines: int) -> int:
    """The import's row, its counts still zero; returns its id."""
    return db.execute(
        "INSERT INTO watchlist_imports (imported_at, actor_id, kind, data_lines) "
        "VALUES (?, ?, ?, ?) RETURNING id", [imported_at, actor_id, kind, data_lines]).fetchone()[0]


def add_entries(db, import_id: int, added_at: str,
                accounts: Iterable[tuple[str, str, str, str, str]]) -> int:
    """Add (account_hash, account_masked, source, listed_on, note) of each account not yet
    listed; returns how many were added. Accounts sorted by hash fill the account_hash index
    in order: much faster for big files."""
    cursor = db.executemany(
        "INSERT INTO watchlist "
        "(account_hash, account_masked, source, listed_on, note, import_id, added_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_hash) DO NOTHING",
        ((*account, import_id, added_at) for account in accounts))
    return cursor.rowcount


def finish_import(db, import_id: int, added: int, already_listed: int, duplicates: int,
                  skipped_errors: int) -> None:
    db.execute(
        "UPDATE watchlist_imports SET added = ?, already_listed = ?, duplicates = ?, "
        "skipped_errors = ? WHERE id = ?",
        [added, already_listed, duplicates, skipped_errors, import_id])


def recent_imports(db, limit: int) -> list[dict]:
    """Newest first, with the importing user's display name (or user name, or "")."""
    return query(
        db, "SELECT i.id, i.imported_at, coalesce(u.display_name, u.username, '') AS actor_name, "
        "i.kind, i.data_lines, i.added, i.already_listed, i.duplicates, i.skipped_errors "
        "FROM watchlist_imports i LEFT JOIN users u ON u.id = i.actor_id "
        "ORDER BY i.id DESC LIMIT ?", [limit])


# --- sessions across screenings ----------------------------------------------------------------


def high_risk_payees(db, branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """Payees of high/critical sessions (of these branches; None: all) or confirmed fraud,
    except sessions disposed as a false alarm, newest first: payee_hash, payee_masked (of the
    newest session), sessions, last_seen (its started_at)."""
    scope, params = branch_condition(branch_ids)
    # SQLite fills the bare column payee_masked from the row that gives max(started_at);
    # PostgreSQL is told so.
    masked = ("(array_agg(payee_masked ORDER BY started_at DESC))[1]"
              if db.dialect == "postgresql" else "payee_masked")
    return query(
        db, f"SELECT payee_hash, {masked} AS payee_masked, count(*) AS sessions, "  # noqa: S608
        "max(started_at) AS last_seen "
        "FROM sessions WHERE payee_hash IS NOT NULL AND payee_hash != '' "
        "AND (level IN ('high', 'critical') OR review_status = 'confirmed_fraud') "
        f"AND coalesce(review_status, '') != 'false_alarm' AND {scope} "
        "GROUP BY payee_hash ORDER BY max(started_at) DESC, payee_hash", params)


def _started_between(db, column: str, value: str, low: str, high: str,
                     exclude_session_id: int | None, columns: str) -> list[dict]:
    sql = (f"SELECT started_at, {columns} FROM sessions "  # noqa: S608 - fixed names
           f"WHERE {column} = ? AND started_at >= ? AND started_at < ? "
           # A discarded screening never happened as far as the signals go.
           "AND status != 'discarded'")
    params: list = [value, low, high]
    if exclude_session_id is not None:
        sql += " AND id != ?"
        params.append(exclude_session_id)
    return query(db, sql, params)


def sessions_to_payee(db, payee_hash: str, low: str, high: str,
                      exclude_session_id: int | None = None) -> list[dict]:
    """started_at and customer_hash of the sessions to this payee with low <= started_at < high
    as text (the (payee_hash, started_at) index serves it)."""
    return _started_between(db, "payee_hash", payee_hash, low, high, exclude_session_id,
                            "customer_hash")


def sessions_of_customer(db, customer_hash: str, low: str, high: str,
                         exclude_session_id: int | None = None) -> list[dict]:
    """started_at, level and outcome of this customer's sessions with low <= started_at < high
    as text (the (customer_hash, started_at) index serves it)."""
    return _started_between(db, "customer_hash", customer_hash, low, high, exclude_session_id,
                            "level, outcome")
