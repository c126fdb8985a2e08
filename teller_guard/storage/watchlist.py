"""The watchlist (`watchlist`: keyed hashes and masks of suspect accounts, never the numbers),
its imports (`watchlist_imports`), and what the screening and the export read from `sessions`
about payees and customers across screenings."""

from __future__ import annotations

from collections.abc import Iterable

from . import query, query_one
from .branches import condition as branch_condition
from .schema import PROPOSED_CONDITION  # the partial indexes' conditions

# The id is the entry's id: stable, not personal, usable in URLs.
_ENTRY = ("id, account_hash, account_masked, source, listed_on, note, import_id, "
          "added_at, category, expires_on, status, session_id, proposed_by, renewed_at, "
          "renewed_import_id")

# An entry matches a screening while it is active and `today` (the server's local date,
# YYYY-MM-DD) is not past its expiry date: one that expires today still matches.
_MATCHES = "status = 'active' AND (expires_on IS NULL OR expires_on >= ?)"
_EXPIRED = "expires_on < ? AND status = 'active'"
# The list page's filters: condition, and whether it takes today.
VIEWS = {"active": (_MATCHES, True), "expired": (_EXPIRED, True), "all": ("status = 'active'", False)}

# --- entries -----------------------------------------------------------------------------------


def is_listed(db, account_hash: str, today: str) -> bool:
    """Does this account hash match an active, unexpired entry on `today`?"""
    return db.execute(f"SELECT 1 FROM watchlist WHERE account_hash = ? AND {_MATCHES}",  # noqa: S608
                      [account_hash, today]).fetchone() is not None


def entry_by_hash(db, account_hash: str, today: str | None = None) -> dict | None:
    """The entry of this account hash in any state; with `today`, only one that matches."""
    if today is None:
        return query_one(db, f"SELECT {_ENTRY} FROM watchlist WHERE account_hash = ?",  # noqa: S608
                         [account_hash])
    return query_one(db, f"SELECT {_ENTRY} FROM watchlist "  # noqa: S608
                         f"WHERE account_hash = ? AND {_MATCHES}", [account_hash, today])


def entry(db, entry_id: int) -> dict | None:
    return query_one(db, f"SELECT {_ENTRY} FROM watchlist WHERE id = ?",  # noqa: S608
                     [entry_id])


def entries_before(db, before: int | None, limit: int, view: str = "all",
                   today: str = "") -> list[dict]:
    """Listed (not proposed) entries of `view` (VIEWS) newest first, from the entry before
    `before` (from the newest when None)."""
    condition, takes_today = VIEWS[view]
    params = [today] if takes_today else []
    if before is None:
        return query(db, f"SELECT {_ENTRY} FROM watchlist WHERE {condition} "  # noqa: S608
                     "ORDER BY id DESC LIMIT ?", [*params, limit])
    return query(db, f"SELECT {_ENTRY} FROM watchlist WHERE {condition} AND id < ? "  # noqa: S608
                 "ORDER BY id DESC LIMIT ?", [*params, before, limit])


_COUNTS = ("SELECT (SELECT count(*) FROM watchlist), "  # noqa: S608 - fixed conditions
           f"(SELECT count(*) FROM watchlist WHERE {_EXPIRED}), "
           f"(SELECT count(*) FROM watchlist WHERE {PROPOSED_CONDITION})")


def count(db) -> int:
    """Listed entries, expired ones included (proposals are not on the list yet)."""
    counted = counts(db, "")  # no date is before "": none expired, the sum is the same
    return counted["active"] + counted["expired"]


def counts(db, today: str) -> dict[str, int]:
    """How many entries are active (matching), expired and proposed on `today`. The total
    and the two partial indexes answer it without reading the rows of a long list."""
    total, expired, proposed = db.execute(_COUNTS, [today]).fetchone()
    return {"active": int(total) - int(expired) - int(proposed), "expired": int(expired),
            "proposed": int(proposed)}


def remove(db, entry_id: int) -> None:
    db.execute("DELETE FROM watchlist WHERE id = ?", [entry_id])


# --- proposals from confirmed cases ------------------------------------------------------------


def case_payee(db, session_id: int) -> dict | None:
    """id, payee_hash, payee_masked, review_status and branch_id of a session; read inside the
    write that proposes its payee, so a case reopened meanwhile is seen."""
    return query_one(db, "SELECT id, payee_hash, payee_masked, review_status, branch_id "
                         "FROM sessions WHERE id = ?", [session_id])


def propose(db, account_hash: str, account_masked: str, note: str, session_id: int,
            proposed_by: int | None, added_at: str) -> int | None:
    """A proposed entry (matches nothing until approved); None when the account already has an
    entry in any state."""
    found = db.execute(
        "INSERT INTO watchlist (account_hash, account_masked, source, listed_on, note, added_at, "
        "category, status, session_id, proposed_by) "
        "VALUES (?, ?, '', '', ?, ?, 'own', 'proposed', ?, ?) "
        "ON CONFLICT (account_hash) DO NOTHING RETURNING id",
        [account_hash, account_masked, note, added_at, session_id, proposed_by]).fetchone()
    return found[0] if found else None


def proposals(db, limit: int) -> list[dict]:
    """Proposed entries, oldest first, with the proposer's name, the case's reference and its
    branch's name."""
    return query(
        db, f"SELECT {', '.join('w.' + column.strip() for column in _ENTRY.split(','))}, "  # noqa: S608
        "COALESCE(u.display_name, u.username, '') AS proposer_name, "
        "COALESCE(s.reference, '') AS reference, COALESCE(b.name, '') AS branch_name "
        "FROM watchlist w LEFT JOIN users u ON u.id = w.proposed_by "
        "LEFT JOIN sessions s ON s.id = w.session_id LEFT JOIN branches b ON b.id = s.branch_id "
        "WHERE w.status = 'proposed' ORDER BY w.id LIMIT ?", [limit])


def approve(db, entry_id: int, listed_on: str, expires_on: str | None) -> bool:
    """Make a proposed entry active (本行发现); False when it is no longer a proposal."""
    return db.execute(
        "UPDATE watchlist SET status = 'active', category = 'own', listed_on = ?, expires_on = ? "
        "WHERE id = ? AND status = 'proposed'", [listed_on, expires_on, entry_id]).rowcount == 1


def reject(db, entry_id: int) -> bool:
    """Drop a proposal (the ledger keeps it and the reason); False when it is not one."""
    return db.execute("DELETE FROM watchlist WHERE id = ? AND status = 'proposed'",
                      [entry_id]).rowcount == 1


# --- imports -----------------------------------------------------------------------------------


def start_import(db, imported_at: str, actor_id: int | None, kind: str, data_lines: int) -> int:
    """The import's row, its counts still zero; returns its id."""
    return db.execute(
        "INSERT INTO watchlist_imports (imported_at, actor_id, kind, data_lines) "
        "VALUES (?, ?, ?, ?) RETURNING id", [imported_at, actor_id, kind, data_lines]).fetchone()[0]


_INSERT_ENTRY = (
    "INSERT INTO watchlist (account_hash, account_masked, source, listed_on, note, category, "
    "expires_on, import_id, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (account_hash) DO NOTHING")


def add_entries(db, import_id: int, added_at: str,
                accounts: Iterable[tuple[str, str, str, str, str, str | None, str | None]]) -> int:
    """Add (account_hash, account_masked, source, listed_on, note, category, expires_on) of
    each account without an entry yet; returns how many were added. Accounts sorted by hash
    fill the account_hash index in order: much faster for big files."""
    cursor = db.executemany(_INSERT_ENTRY, ((*account, import_id, added_at) for account in accounts))
    return cursor.rowcount


# A new listing renews an entry that no longer matches (expired) or only waits for approval
# (proposed), and with `extend` also one that stops matching before the new listing would: it
# becomes active with the new listing's source, date, note, category and expiry. Never one
# this import just added.
_RENEW = (
    "UPDATE watchlist SET status = 'active', source = ?, listed_on = ?, note = ?, category = ?, "
    "expires_on = ?, renewed_at = ?, renewed_import_id = ? "
    "WHERE account_hash = ? AND (import_id IS NULL OR import_id <> ?) AND ("
    "status = 'proposed' OR (expires_on IS NOT NULL AND (expires_on < ?{sooner})))")
_SOONER = " OR CAST(? AS TEXT) IS NULL OR CAST(? AS TEXT) > expires_on"


def _renewal(account: tuple, import_id: int, renewed_at: str, today: str,
             extend: bool) -> tuple[str, list]:
    account_hash, _, source, listed_on, note, category, expires_on = account
    params = [source, listed_on, note, category, expires_on, renewed_at, import_id, account_hash,
              import_id, today]
    if extend:
        return _RENEW.format(sooner=_SOONER), [*params, expires_on, expires_on]
    return _RENEW.format(sooner=""), params


def renew_entries(db, import_id: int, renewed_at: str, today: str,
                  accounts: Iterable[tuple[str, str, str, str, str, str | None, str | None]],
                  extend: bool = True) -> int:
    """Renew (see _RENEW) the entries of these accounts (add_entries' tuples) that need it,
    after add_entries; returns how many were renewed."""
    sql = _RENEW.format(sooner=_SOONER if extend else "")
    cursor = db.executemany(sql, (_renewal(account, import_id, renewed_at, today, extend)[1]
                                  for account in accounts))
    return max(cursor.rowcount, 0)


def renew_entry(db, import_id: int, renewed_at: str, today: str,
                account: tuple[str, str, str, str, str, str | None, str | None],
                extend: bool = True) -> int | None:
    """One account: its entry's id when it was renewed, else None."""
    sql, params = _renewal(account, import_id, renewed_at, today, extend)
    found = db.execute(sql + " RETURNING id", params).fetchone()
    return found[0] if found else None


def add_entry(db, import_id: int, added_at: str,
              account: tuple[str, str, str, str, str, str | None, str | None]) -> int | None:
    """One account typed in (add_entries' tuple); its entry's id, None if it has one already."""
    found = db.execute(_INSERT_ENTRY + " RETURNING id", [*account, import_id, added_at]).fetchone()
    return found[0] if found else None


def finish_import(db, import_id: int, added: int, already_listed: int, duplicates: int,
                  skipped_errors: int, renewed: int = 0) -> None:
    db.execute(
        "UPDATE watchlist_imports SET added = ?, already_listed = ?, duplicates = ?, "
        "skipped_errors = ?, renewed = ? WHERE id = ?",
        [added, already_listed, duplicates, skipped_errors, renewed, import_id])


def import_record(db, import_id: int) -> dict | None:
    """imported_at, actor_id and kind of one import (an entry's first line of history)."""
    return query_one(db, "SELECT imported_at, actor_id, kind FROM watchlist_imports WHERE id = ?",
                     [import_id])


def recent_imports(db, limit: int) -> list[dict]:
    """Newest first, with the importing user's display name (or user name, or "")."""
    return query(
        db, "SELECT i.id, i.imported_at, coalesce(u.display_name, u.username, '') AS actor_name, "
        "i.kind, i.data_lines, i.added, i.already_listed, i.duplicates, i.skipped_errors, "
        "COALESCE(i.renewed, 0) AS renewed "
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


# --- other branches (issue 16) -----------------------------------------------------------------
# The window is compared as text, which is exact for started_at values written with the same UTC
# offset as `low`/`high` (sessions.start writes the server's local time): that keeps the
# grouping in the database, so a collecting account with thousands of sessions costs one index
# range, not thousands of rows.

def _other_branch(branch_id: int | None) -> tuple[str, list]:
    # A session without a branch cannot be named to the teller as "another branch".
    if branch_id is None:
        return "branch_id IS NOT NULL", []
    return "branch_id != ?", [branch_id]


def payee_other_branches(db, payee_hash: str, low: str, high: str, branch_id: int | None,
                         newest: int) -> tuple[list[int], bool]:
    """The ids of the branches other than `branch_id` among the `newest` latest sessions to this
    payee with low <= started_at <= high (discarded ones left out), and whether there were that
    many (so possibly more branches). The (payee_hash, started_at) index includes branch_id
    and status on PostgreSQL (revision 0012): an index-only scan, read backwards and stopped
    after `newest` entries however busy the payee."""
    other, params = _other_branch(branch_id)
    rows = db.execute(
        "SELECT branch_id, count(*) FROM (SELECT branch_id FROM sessions "  # noqa: S608
        "WHERE payee_hash = ? AND started_at >= ? AND started_at <= ? "
        f"AND status != 'discarded' AND {other} ORDER BY started_at DESC LIMIT ?) AS newest "
        "GROUP BY branch_id", [payee_hash, low, high, *params, newest]).fetchall()
    return [row[0] for row in rows], sum(row[1] for row in rows) >= newest


def customer_other_branches(db, customer_hash: str, low: str, high: str,
                            branch_id: int | None) -> list[dict]:
    """Per branch other than `branch_id` and level: branch_id, level, sessions and last_seen of
    this customer's sessions with low <= started_at <= high, discarded ones left out (the
    (customer_hash, started_at) index includes branch_id, status and level on PostgreSQL)."""
    other, params = _other_branch(branch_id)
    return query(
        db, "SELECT branch_id, level, count(*) AS sessions, "  # noqa: S608
        "max(started_at) AS last_seen FROM sessions "
        "WHERE customer_hash = ? AND started_at >= ? AND started_at <= ? "
        f"AND status != 'discarded' AND {other} GROUP BY branch_id, level",
        [customer_hash, low, high, *params])


def payees_across_branches(db, low: str, high: str, min_branches: int, limit: int) -> list[dict]:
    """The 涉诈收款账户雷达: payees of non-discarded sessions with low <= started_at <= high at
    `min_branches` or more branches, most branches first, then customers, 高/极高 sessions and
    amount: payee_hash, payee_masked (of the newest session), branches, customers, sessions,
    high, amount_fen, first_seen, last_seen, listed (on the watchlist)."""
    masked = ("(array_agg(s.payee_masked ORDER BY s.started_at DESC))[1]"
              if db.dialect == "postgresql" else "max(s.payee_masked)")
    return query(
        db, f"SELECT s.payee_hash, {masked} AS payee_masked, "  # noqa: S608 - fixed text
        "count(DISTINCT s.branch_id) AS branches, count(DISTINCT s.customer_hash) AS customers, "
        "count(*) AS sessions, "
        "sum(CASE WHEN s.level IN ('high', 'critical') THEN 1 ELSE 0 END) AS high, "
        "COALESCE(sum(s.amount_fen), 0) AS amount_fen, min(s.started_at) AS first_seen, "
        "max(s.started_at) AS last_seen, "
        "EXISTS (SELECT 1 FROM watchlist w WHERE w.account_hash = s.payee_hash) AS listed "
        "FROM sessions s WHERE s.started_at >= ? AND s.started_at <= ? "
        "AND s.status != 'discarded' AND s.payee_hash IS NOT NULL AND s.payee_hash != '' "
        "AND s.branch_id IS NOT NULL GROUP BY s.payee_hash "
        "HAVING count(DISTINCT s.branch_id) >= ? "
        "ORDER BY branches DESC, customers DESC, high DESC, amount_fen DESC, s.payee_hash "
        "LIMIT ?", [low, high, min_branches, limit])


def branches_of_payees(db, payee_hashes: list[str], low: str, high: str) -> list[dict]:
    """payee_hash, branch_id pairs of the non-discarded sessions to these payees in the window."""
    if not payee_hashes:
        return []
    marks = ", ".join("?" * len(payee_hashes))
    return query(
        db, "SELECT DISTINCT payee_hash, branch_id FROM sessions "  # noqa: S608 - marks only
        f"WHERE payee_hash IN ({marks}) AND started_at >= ? AND started_at <= ? "
        "AND status != 'discarded' AND branch_id IS NOT NULL",
        [*payee_hashes, low, high])
