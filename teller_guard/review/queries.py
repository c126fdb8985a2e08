"""Read-only SQL for the review pages: who may see which sessions, the queue, one session."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import state
from .filters import Filters, day_bounds
from .schema import QUEUE_INDEX

PAGE_SIZE = 50

QUEUE_COLUMNS = (
    "id, reference, started_at, finished_at, teller_id, level, score, typology, amount_fen, "
    "channel, payee_masked, customer_masked, outcome, review_status, assignee_id, "
    "supervisor_decision, slips_printed, alerts_printed"
)


def visibility(user) -> tuple[str, list]:
    """SQL condition for the sessions `user` may see.

    Tellers: their own. Supervisors: their branch (one branch per install, so all).
    Security and admin: all. Anyone else: nothing.
    """
    if user is None:
        return "0", []
    if user.role == "teller":
        return "teller_id = ?", [user.id]
    if user.role in ("supervisor", "security", "admin"):
        return "1", []
    return "0", []


def filter_conditions(filters: Filters) -> tuple[list[str], list]:
    conditions, params = [], []
    low, high = day_bounds(filters.date_from, filters.date_to)
    if low:
        conditions.append("started_at >= ?")
        params.append(low)
    if high:
        conditions.append("started_at < ?")
        params.append(high)
    for column, value in (("level", filters.level), ("typology", filters.typology),
                          ("teller_id", filters.teller_id), ("outcome", filters.outcome)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if filters.status == state.PENDING:
        conditions.append("(review_status = 'pending' OR review_status IS NULL)")
    elif filters.status:
        conditions.append("review_status = ?")
        params.append(filters.status)
    if filters.reference:
        # a whole reference or its beginning (TG20261130 finds that day's sessions)
        conditions.append("reference >= ? AND reference < ?")
        params.extend([filters.reference, filters.reference + "\uffff"])
    return conditions, params


def queue_where(user, filters: Filters) -> tuple[str, list]:
    scope, params = visibility(user)
    conditions, filter_params = filter_conditions(filters)
    return " AND ".join(["in_queue = 1", scope, *conditions]), params + filter_params


@dataclass(frozen=True)
class QueuePage:
    rows: list[dict]
    next_after: int | None  # cursor for 下一页, None on the last page


def queue_page(db, user, filters: Filters, after: int | None = None,
               limit: int = PAGE_SIZE) -> QueuePage:
    """Newest first, keyset by id: the page is as fast deep in the queue as at its head."""
    where, params = queue_where(user, filters)
    if after is not None:
        where += " AND id < ?"
        params.append(after)
    cursor = db.execute(
        f"SELECT {QUEUE_COLUMNS} FROM sessions INDEXED BY {QUEUE_INDEX} "  # noqa: S608
        f"WHERE {where} ORDER BY id DESC LIMIT ?",
        [*params, limit + 1],
    )
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    more = len(rows) > limit
    rows = rows[:limit]
    return QueuePage(rows, rows[-1]["id"] if more and rows else None)


def queue_count(db, user, filters: Filters) -> int:
    where, params = queue_where(user, filters)
    hint = "" if filters.is_empty() else f"INDEXED BY {QUEUE_INDEX}"
    return db.execute(
        f"SELECT count(*) FROM sessions {hint} WHERE {where}", params  # noqa: S608
    ).fetchone()[0]


def _counts_from_daily_table(db, filters: Filters):
    """Per-status counts from stats_day_queue (kept by triggers, see schema.py): a few rows per
    day instead of one per queued session. Only dates and typology are kept there."""
    conditions, params = ["1"], []
    if filters.date_from:
        conditions.append("day >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        conditions.append("day <= ?")
        params.append(filters.date_to.isoformat())
    if filters.typology:
        conditions.append("typology = ?")
        params.append(filters.typology)
    return db.execute(
        f"SELECT review_status, sum(n) FROM stats_day_queue WHERE {' AND '.join(conditions)} "  # noqa: S608
        "GROUP BY review_status", params)


def status_counts(db, user, filters: Filters) -> dict[str, int]:
    """Queued sessions per review status under the other filters (pending includes unset).

    Whoever sees every session and filters by dates or typology at most is answered from the
    daily table; otherwise the covering queue index answers without reading the table."""
    others = filters.without_status()
    counts = dict.fromkeys(state.STATUSES, 0)
    daily = (visibility(user) == ("1", []) and others.level is None and others.teller_id is None
             and others.outcome is None and others.reference is None)
    if daily:
        rows = _counts_from_daily_table(db, others)
    else:
        where, params = queue_where(user, others)
        rows = db.execute(
            f"SELECT review_status, count(*) FROM sessions INDEXED BY {QUEUE_INDEX} "  # noqa: S608
            f"WHERE {where} GROUP BY review_status", params)
    for status, count in rows:
        key = state.current_status(status)
        counts[key] = counts.get(key, 0) + count
    return counts


def iter_queue(db, user, filters: Filters, batch: int = 2000):
    """Every queued session under the filters, newest first (for the CSV export)."""
    after = None
    while True:
        page = queue_page(db, user, filters, after, limit=batch)
        yield from page.rows
        if page.next_after is None:
            return
        after = page.next_after


def get_session(db, user, session_id: int) -> dict | None:
    scope, params = visibility(user)
    cursor = db.execute(
        f"SELECT * FROM sessions WHERE id = ? AND {scope}", [session_id, *params]  # noqa: S608
    )
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column[0] for column in cursor.description]
    return dict(zip(names, row, strict=True))


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    at: str
    actor_id: int | None
    kind: str
    data: dict


def session_events(db, session_id: int) -> list[LedgerEntry]:
    # As bytes: a row rewritten around the app may hold bytes that are not UTF-8, which would
    # end the query with a decoding error; the page shows them as U+FFFD (verify reports them).
    rows = db.execute(
        "SELECT id, CAST(at AS BLOB), actor_id, CAST(kind AS BLOB), CAST(data AS BLOB) "
        "FROM ledger WHERE session_id = ? ORDER BY id", [session_id],
    ).fetchall()
    return [LedgerEntry(row_id, shown(at), actor_id, shown(kind), event_data(shown(data)))
            for row_id, at, actor_id, kind, data in rows]


def shown(raw: bytes | None) -> str:
    """A text column read as bytes, for display: bytes that are not UTF-8 become U+FFFD."""
    return raw.decode("utf-8", "replace") if raw is not None else ""


def event_data(text: str | None) -> dict:
    """A ledger row's data as a dict, whatever the text holds (shown, never trusted)."""
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {"原始数据": text}
    return parsed if isinstance(parsed, dict) else {"值": parsed}


def user_names(db) -> dict[int, str]:
    return {row[0]: row[1] or row[2] for row in
            db.execute("SELECT id, display_name, username FROM users")}


def tellers(db) -> list[tuple[int, str]]:
    """Everyone who has screened a session, plus current teller accounts, by name."""
    rows = db.execute(
        "SELECT id, COALESCE(NULLIF(display_name, ''), username), staff_no FROM users "
        "WHERE role IN ('teller', 'supervisor') ORDER BY staff_no, id"
    ).fetchall()
    return [(row[0], f"{row[1]}（{row[2]}）" if row[2] else row[1]) for row in rows]


def reviewers(db) -> list[tuple[int, str]]:
    marks = ", ".join("?" * len(state.REVIEWER_ROLES))
    rows = db.execute(
        "SELECT id, COALESCE(NULLIF(display_name, ''), username) FROM users "  # noqa: S608
        f"WHERE role IN ({marks}) AND active = 1 ORDER BY id", list(state.REVIEWER_ROLES),
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def vault_values(db, session_ids: list[int]) -> dict[int, dict[str, str]]:
    """Full personal data of these sessions (callers must log a pii.accessed event)."""
    values: dict[int, dict[str, str]] = {}
    for start in range(0, len(session_ids), 500):
        chunk = session_ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for session_id, field, value in db.execute(
            f"SELECT session_id, field, value FROM pii_vault WHERE session_id IN ({marks}) "  # noqa: S608
            "AND value IS NOT NULL AND value != '' ORDER BY session_id, field", chunk,
        ):
            values.setdefault(session_id, {})[field] = value
    return values


def vault_fields(db, session_id: int) -> list[tuple[str, bool]]:
    """Which personal data fields the vault holds for a session, and whether each still has a
    value (False once retention has redacted it). Values are not read."""
    return [(row[0], bool(row[1])) for row in db.execute(
        "SELECT field, value IS NOT NULL AND value != '' FROM pii_vault WHERE session_id = ? "
        "ORDER BY field", [session_id])]
