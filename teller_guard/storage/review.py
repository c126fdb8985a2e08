"""The review area's SQL: who may see which sessions, the queue and its counts, one case and its
events, the statistics, dispositions, retention and the record of exports and reads.

The queue reads the partial covering index and the statistics the daily tables that m007
(migrations.py) creates and its triggers keep; the access log reads m010's partial index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..migrations import ACCESS_EVENT_KINDS, ACCESS_EVENTS_CONDITION, ACCESS_EVENTS_INDEX, QUEUE_INDEX
from ..review import state
from ..review.filters import Filters, day_bounds
from . import Row, business_day, query, query_one, rows_of
from .branches import condition as branch_condition
from .branches import narrowed
from .schema import QUEUE_REFERENCE_INDEX
from .stats_triggers import NOT_DISCARDED

PAGE_SIZE = 50
ACCESS_KINDS = ACCESS_EVENT_KINDS

QUEUE_COLUMNS = (
    "id, reference, started_at, finished_at, teller_id, level, score, typology, amount_fen, "
    "channel, payee_masked, customer_masked, outcome, review_status, assignee_id, "
    "supervisor_decision, slips_printed, alerts_printed, escalated_at"
)


# --- who sees what, and the queue ---------------------------------------------------------------


def visibility(user, db=None) -> tuple[str, list]:
    """SQL condition for the sessions `user` may see.

    Tellers: their own (of their branch). Supervisors, security and admin: their branch's;
    head-office security and admin: every branch's (branch_scope.py). Anyone else: nothing.
    With `db`, a branch that is the only one is no condition (branches.narrowed).
    """
    from ..branch_scope import branch_ids  # here: storage imports no web module at load

    if user is None:
        return "1 = 0", []
    ids = branch_ids(user)
    scope, params = branch_condition(ids if db is None else narrowed(db, ids))
    if user.role == "teller":
        return f"teller_id = ? AND {scope}", [user.id, *params]
    if user.has_role("supervisor", "security", "admin"):
        return scope, params
    return "1 = 0", []


def _started_between(low, high) -> tuple[list[str], list]:
    """Conditions on started_at for a day range (either end open)."""
    conditions, params = [], []
    if low:
        conditions.append("started_at >= ?")
        params.append(low)
    if high:
        conditions.append("started_at < ?")
        params.append(high)
    return conditions, params


def add_filters(conditions: list[str], params: list, equal: tuple[tuple[str, object], ...],
                status: str | None, status_column: str = "review_status") -> None:
    """Append `column = ?` for each (column, value) given (None: no filter) and the review
    status filter (state.PENDING also finds cases with no status yet). Shared by the branch
    queue and head office's."""
    for column, value in equal:
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if status == state.PENDING:
        conditions.append(f"({status_column} = 'pending' OR {status_column} IS NULL)")
    elif status:
        conditions.append(f"{status_column} = ?")
        params.append(status)


def filter_conditions(filters: Filters) -> tuple[list[str], list]:
    conditions, params = _started_between(*day_bounds(filters.date_from, filters.date_to))
    add_filters(conditions, params, (("level", filters.level), ("typology", filters.typology),
                                     ("teller_id", filters.teller_id),
                                     ("outcome", filters.outcome)), filters.status)
    if filters.reference:
        # a whole reference or its beginning (TG20261130 finds that day's sessions)
        conditions.append("reference >= ? AND reference < ?")
        params.extend([filters.reference, filters.reference + "\uffff"])
    if filters.search:
        search_conditions, search_params = _search_conditions(filters.search)
        conditions += search_conditions
        params += search_params
    return conditions, params


# How the screening service writes the masked ID number into sessions.form (json.dumps with
# its default separators): 3 digits, stars, the last four; 18 or 15 characters long.
_ID_IN_FORM = '%"customer_id_number": "{}{}"%'


def _search_conditions(search) -> tuple[list[str], list]:
    """Conditions on the masked columns. The terms are checked by filters.parse_search
    (digits, X, Chinese characters only), so they hold no LIKE wildcards."""
    conditions, params = [], []
    if search.account_tail:
        conditions.append("payee_masked LIKE ?")
        params.append(f"%{search.account_tail}")
    if search.surname:
        conditions.append("customer_masked LIKE ?")
        params.append(f"{search.surname}%")
    if search.id_tail:
        # customer_masked holds the masked ID when no name was given; otherwise only the form
        conditions.append("(customer_masked LIKE ? OR form LIKE ? OR form LIKE ?)")
        params += [f"%{search.id_tail}", _ID_IN_FORM.format("_" * 14, search.id_tail),
                   _ID_IN_FORM.format("_" * 11, search.id_tail)]
    return conditions, params


def queue_where(user, filters: Filters, db=None) -> tuple[str, list]:
    scope, params = visibility(user, db)
    conditions, filter_params = filter_conditions(filters)
    return " AND ".join(["in_queue = 1", scope, *conditions]), params + filter_params


def _indexed_by(db, index: str) -> str:
    """SQLite's index hint (refuse rather than scan); PostgreSQL's planner has no such hint."""
    return "" if db.dialect == "postgresql" else f"INDEXED BY {index}"


def _queue_index(db, user) -> str:
    """The queue's covering index; for one branch of several, the branch's index instead: it
    reads that branch's rows only (200,000 sessions in 20 branches on SQLite: a page 0.2 ms
    against 7 ms, the counts 60 ms against 100-140 ms)."""
    from ..branch_scope import branch_ids

    if user is not None and narrowed(db, branch_ids(user)):
        return _indexed_by(db, "idx_sessions_branch_id_id")
    return _indexed_by(db, QUEUE_INDEX)


def _count_index(db, user, filters: Filters) -> str:
    """The index that counts the queue under `filters`: for a reference or its beginning the
    queued cases' references (0018), at most a month's entries instead of the whole queue's."""
    hint = _queue_index(db, user)
    if filters.reference and hint == _indexed_by(db, QUEUE_INDEX):
        return _indexed_by(db, QUEUE_REFERENCE_INDEX)
    return hint


@dataclass(frozen=True)
class QueuePage:
    rows: list[Row]
    next_after: int | None  # cursor for 下一页, None on the last page


def queue_page(db, user, filters: Filters, after: int | None = None,
               limit: int = PAGE_SIZE, columns: str = QUEUE_COLUMNS) -> QueuePage:
    """Newest first, keyset by id: the page is as fast deep in the queue as at its head."""
    where, params = queue_where(user, filters, db)
    if after is not None:
        where += " AND id < ?"
        params.append(after)
    rows = query(
        db,
        f"SELECT {columns} FROM sessions {_queue_index(db, user)} "  # noqa: S608
        f"WHERE {where} ORDER BY id DESC LIMIT ?",
        [*params, limit + 1],
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return QueuePage(rows, rows[-1]["id"] if more and rows else None)


# The CSV also shows the masked name and masked ID number apart, which only the form holds.
EXPORT_COLUMNS = QUEUE_COLUMNS + ", form"


def iter_queue(db, user, filters: Filters, batch: int = 2000):
    """Every queued session under the filters, newest first (for the CSV export)."""
    after = None
    while True:
        page = queue_page(db, user, filters, after, limit=batch, columns=EXPORT_COLUMNS)
        yield from page.rows
        if page.next_after is None:
            return
        after = page.next_after


def queue_count(db, user, filters: Filters) -> int:
    where, params = queue_where(user, filters, db)
    hint = "" if filters.is_empty() else _count_index(db, user, filters)
    return db.execute(
        f"SELECT count(*) FROM sessions {hint} WHERE {where}", params  # noqa: S608
    ).fetchone()[0]


def _counts_from_daily_table(db, filters: Filters):
    """Per-status counts from stats_day_queue (kept by m007's triggers): a few rows per day
    instead of one per queued session. Only dates and typology are kept there."""
    conditions, params = ["1 = 1"], []
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
    daily = (visibility(user, db) == ("1 = 1", []) and others.level is None and others.teller_id is None
             and others.outcome is None and others.reference is None and others.search is None)
    if daily:
        rows = _counts_from_daily_table(db, others)
    else:
        where, params = queue_where(user, others, db)
        rows = db.execute(
            f"SELECT review_status, count(*) FROM sessions {_count_index(db, user, others)} "  # noqa: S608
            f"WHERE {where} GROUP BY review_status", params)
    for status, count in rows:
        key = state.current_status(status)
        counts[key] = counts.get(key, 0) + count
    return counts


_OPEN_STATUS = "(review_status IS NULL OR review_status IN ('pending', 'in_review'))"


def next_open(db, user, filters: Filters, current_id: int) -> Row | None:
    """id and reference of the case to take after `current_id` (下一条): the next older open
    case (待复核 or 复核中) under the filters, else the newest one; None when there is none.
    A filter on a closed status is dropped: the next case to work on is an open one."""
    if filters.status not in (state.PENDING, state.IN_REVIEW):
        filters = filters.without_status()
    where, params = queue_where(user, filters, db)
    where += f" AND {_OPEN_STATUS} AND id != ?"
    sql = (f"SELECT id, reference FROM sessions {_queue_index(db, user)} "  # noqa: S608
           f"WHERE {where} AND id {{}} ? ORDER BY id DESC LIMIT 1")
    return (query_one(db, sql.format("<"), [*params, current_id, current_id])
            or query_one(db, sql.format(">"), [*params, current_id, current_id]))


# --- one case --------------------------------------------------------------------------------


def case(db, user, session_id: int) -> Row | None:
    """The whole sessions row, if `user` may see it."""
    scope, params = visibility(user, db)
    return query_one(db, f"SELECT * FROM sessions WHERE id = ? AND {scope}",  # noqa: S608
                     [session_id, *params])


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


# --- people ------------------------------------------------------------------------------------


def user_names(db, branch_ids: tuple[int, ...] | None = None) -> dict[int, str]:
    """Every account's display name (its username when it has none), by id; with
    `branch_ids`, only the accounts of those branches and head office's."""
    scope, params = branch_condition(branch_ids)
    return {row[0]: row[1] or row[2] for row in db.execute(
        f"SELECT id, display_name, username FROM users WHERE {scope} "  # noqa: S608 - ours
        "OR branch_id IS NULL", params)}


def tellers(db, branch_ids: tuple[int, ...] | None = None) -> list[Row]:
    """id, name and staff_no of everyone who screens (tellers and supervisors) in these
    branches (None: every branch), by staff_no."""
    scope, params = branch_condition(branch_ids)
    return query(
        db, "SELECT id, COALESCE(NULLIF(display_name, ''), username) AS name, staff_no FROM users "  # noqa: S608
            f"WHERE role IN ('teller', 'supervisor') AND {scope} ORDER BY staff_no, id", params)


def reviewers(db, branch_id: int | None = None) -> list[Row]:
    """id and name of the active accounts that may take a case of branch `branch_id`: its
    security and admins, and head office's."""
    roles = [*state.REVIEWER_ROLES, *state.HEAD_OFFICE_REVIEWER_ROLES]
    marks = ", ".join("?" * len(roles))
    return query(
        db, "SELECT id, COALESCE(NULLIF(display_name, ''), username) AS name FROM users "  # noqa: S608
            f"WHERE role IN ({marks}) AND active = 1 AND (branch_id = ? OR branch_id IS NULL) "
            "ORDER BY id", [*roles, branch_id])


def account(db, user_id: int) -> Row | None:
    """role, active and branch_id of an account (whether it may be assigned a case)."""
    return query_one(db, "SELECT role, active, branch_id FROM users WHERE id = ?", [user_id])


# --- dispositions (call inside storage.transaction, with the ledger event) ---------------------


def queue_entry(db, session_id: int) -> Row | None:
    """id, in_queue, review_status, assignee_id and branch_id of a session; read inside the
    write so two reviewers cannot both move the same case."""
    return query_one(
        db, "SELECT id, in_queue, review_status, assignee_id, branch_id FROM sessions WHERE id = ?",
        [session_id])


def transition(db, session_id: int, to_status: str) -> None:
    db.execute("UPDATE sessions SET review_status = ? WHERE id = ?", [to_status, session_id])


def assign(db, session_id: int, assignee_id: int) -> None:
    db.execute("UPDATE sessions SET assignee_id = ? WHERE id = ?", [assignee_id, session_id])


# --- statistics --------------------------------------------------------------------------------

# figure -> SELECT over the daily tables ({where} takes day conditions)
_DAILY_FIGURES = {
    "per_day": "SELECT day, sum(n) AS count FROM stats_day_level WHERE {where} GROUP BY day "
               "HAVING sum(n) > 0 ORDER BY day",
    "levels": "SELECT level, sum(n) AS count FROM stats_day_level WHERE {where} GROUP BY level "
              "HAVING sum(n) > 0",
    "tellers": "SELECT teller_id, sum(n) AS count, sum(queued) AS queued FROM stats_day_teller "
               "WHERE {where} GROUP BY teller_id HAVING sum(n) > 0 ORDER BY 2 DESC, 1",
    "outcomes": "SELECT outcome, sum(n) AS count, sum(amount_fen) AS amount_fen "
                "FROM stats_day_outcome WHERE {where} GROUP BY outcome HAVING sum(n) > 0 "
                "ORDER BY 2 DESC",
    "level_outcomes": "SELECT level, outcome, sum(n) AS count, sum(amount_fen) AS amount_fen "
                      "FROM stats_day_level_outcome WHERE {where} GROUP BY level, outcome "
                      "HAVING sum(n) > 0 ORDER BY 1, 2",
}
# the same figures straight from sessions ({where} takes started_at conditions)
_SESSION_FIGURES = {
    "per_day": f"SELECT {business_day.day()} AS day, count(*) AS count FROM sessions "  # noqa: S608 - a constant
               "WHERE {where} GROUP BY day ORDER BY day",
    "levels": "SELECT COALESCE(level, '') AS level, count(*) AS count FROM sessions "
              "WHERE {where} GROUP BY 1",
    "typologies": "SELECT COALESCE(typology, '') AS typology, count(*) AS count FROM sessions "
                  "WHERE {where} AND in_queue = 1 GROUP BY 1 ORDER BY 2 DESC, 1",
    "tellers": "SELECT teller_id, count(*) AS count, sum(COALESCE(in_queue, 0)) AS queued "
               "FROM sessions WHERE {where} GROUP BY teller_id ORDER BY 2 DESC, 1",
    "outcomes": "SELECT outcome, count(*) AS count, COALESCE(sum(amount_fen), 0) AS amount_fen "
                "FROM sessions WHERE {where} AND outcome IS NOT NULL GROUP BY outcome "
                "ORDER BY 2 DESC",
    "dispositions": "SELECT COALESCE(review_status, 'pending') AS review_status, count(*) AS count "
                    "FROM sessions WHERE {where} AND in_queue = 1 GROUP BY 1",
    "durations": "SELECT duration_seconds AS seconds, count(*) AS count FROM sessions "
                 "WHERE {where} AND duration_seconds IS NOT NULL GROUP BY duration_seconds",
    "level_outcomes": "SELECT COALESCE(level, '') AS level, outcome, count(*) AS count, "
                      "COALESCE(sum(amount_fen), 0) AS amount_fen FROM sessions "
                      "WHERE {where} AND outcome IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
}


# typologies and dispositions from one pass over the queue's daily table (a year or two of it
# is some 25,000 rows; reading it once saved about 9 ms of the statistics page on PostgreSQL)
_QUEUE_MIX = ("SELECT typology, review_status, sum(n) AS count FROM stats_day_queue "
              "WHERE {where} GROUP BY typology, review_status")


def _queue_figures(rows: list[Row]) -> dict[str, list[Row]]:
    """typologies (most first, then by name) and dispositions, as their own queries gave them."""
    typologies, dispositions = {}, {}
    for row in rows:
        count = int(row["count"])
        typologies[row["typology"]] = typologies.get(row["typology"], 0) + count
        dispositions[row["review_status"]] = dispositions.get(row["review_status"], 0) + count
    return {
        "typologies": [{"typology": typology, "count": count} for typology, count
                       in sorted(typologies.items(), key=lambda item: (-item[1], item[0]))
                       if count > 0],
        "dispositions": [{"review_status": status, "count": count}
                         for status, count in dispositions.items() if count > 0],
    }


def _figures(db, sqls: dict[str, str], conditions: list[str], params: list) -> dict[str, list[Row]]:
    where = " AND ".join(conditions)
    return {name: query(db, sql.format(where=where), params) for name, sql in sqls.items()}


def statistics(db, date_from: date | None, date_to: date | None,
               branch_ids: tuple[int, ...] | None = None) -> dict[str, list[Row]]:
    """The rows of each figure of review.stats.Statistics (per_day, levels, typologies, tellers,
    outcomes, dispositions, durations, level_outcomes). The whole bank's (branch_ids None) from
    the daily tables the triggers keep: fast at any range. Those have no branch: some branches'
    straight from sessions (statistics_from_sessions), unless they are every branch there is."""
    branch_ids = narrowed(db, branch_ids)
    if branch_ids is not None:
        return statistics_from_sessions(db, date_from, date_to, branch_ids)
    conditions, params = ["1 = 1"], []
    if date_from:
        conditions.append("day >= ?")
        params.append(date_from.isoformat())
    if date_to:
        conditions.append("day <= ?")
        params.append(date_to.isoformat())
    figures = _figures(db, _DAILY_FIGURES, conditions, params)
    figures.update(_queue_figures(query(db, _QUEUE_MIX.format(where=" AND ".join(conditions)),
                                        params)))
    figures["durations"] = _durations(db, date_from, date_to)
    return figures


def whole_months(date_from: date | None, date_to: date | None) -> tuple[date | None, date | None]:
    """[first, end): the whole calendar months inside the period, as the first day of the
    first one and the first day after the last one (None: the period's end is open); first >=
    end when there is none."""
    first = end = None
    if date_from is not None:
        first = date_from if date_from.day == 1 else \
            (date_from.replace(day=28) + timedelta(days=4)).replace(day=1)
    if date_to is not None:
        end = (date_to + timedelta(days=1)).replace(day=1)
    return first, end


def _durations(db, date_from: date | None, date_to: date | None) -> list[Row]:
    """(seconds, count) of the period's finished screenings: whole months from
    stats_month_duration (0015), the days before and after them from stats_day_duration. A
    year by day is some 125,000 rows at 1M screenings, by month about 10,000."""
    try:
        first, end = whole_months(date_from, date_to)
    except OverflowError:  # a period ending in 9999-12: its months cannot be counted past it
        first = end = date.max
    if first is not None and end is not None and first >= end:
        days, params = ["1 = 1"], []
        for condition, bound in (("day >= ?", date_from), ("day <= ?", date_to)):
            if bound is not None:
                days.append(condition)
                params.append(bound.isoformat())
        parts = [f"SELECT seconds, n FROM stats_day_duration WHERE {' AND '.join(days)}"]  # noqa: S608
    else:
        months, params = ["1 = 1"], []
        if first is not None:
            months.append("month >= ?")
            params.append(f"{first:%Y-%m}")
        if end is not None:
            months.append("month < ?")
            params.append(f"{end:%Y-%m}")
        parts = ["SELECT seconds, n FROM stats_month_duration "  # noqa: S608 - fixed conditions
                 f"WHERE {' AND '.join(months)}"]
        edges = []
        if date_from is not None and date_from < first:
            edges.append(("day >= ? AND day < ?", [date_from.isoformat(), first.isoformat()]))
        if date_to is not None and end <= date_to:
            edges.append(("day >= ? AND day <= ?", [end.isoformat(), date_to.isoformat()]))
        for condition, values in edges:
            parts.append(f"SELECT seconds, n FROM stats_day_duration WHERE {condition}")  # noqa: S608
            params += values
    return query(db, "SELECT seconds, sum(n) AS count FROM ("  # noqa: S608 - fixed parts
                 + " UNION ALL ".join(parts)
                 + ") AS parts GROUP BY seconds HAVING sum(n) > 0", params)


def statistics_from_sessions(db, date_from: date | None, date_to: date | None,
                             branch_ids: tuple[int, ...] | None = None) -> dict[str, list[Row]]:
    """The same rows straight from the sessions table, of these branches (None: all). Reads
    every session of the period (the started_at index), so it costs what the period holds;
    the tests check the daily tables against it."""
    conditions, params = _started_between(*day_bounds(date_from, date_to))
    # As the daily tables' triggers do: a discarded screening counts nowhere (0006).
    conditions.insert(0, f"({NOT_DISCARDED})")
    scope, scope_params = branch_condition(branch_ids)
    conditions.append(scope)
    params += scope_params
    return _figures(db, _SESSION_FIGURES, conditions, params)


# --- retention (call inside storage.transaction, with the ledger event) ------------------------


def redact_personal_data(db, before: str, redacted_payload: str) -> Row:
    """Empty the vault values of sessions started before `before` and the payload of their
    sent alerts. Returns the counts: sessions (with a value emptied), fields, alert_payloads."""
    old_sessions = "SELECT id FROM sessions WHERE started_at < ?"
    sessions = db.execute(
        f"SELECT count(DISTINCT session_id) FROM pii_vault WHERE value != '' "  # noqa: S608
        f"AND session_id IN ({old_sessions})", [before]).fetchone()[0]
    fields = db.execute(
        f"UPDATE pii_vault SET value = '' WHERE value != '' "  # noqa: S608
        f"AND session_id IN ({old_sessions})", [before]).rowcount
    # A sent alert's payload was a copy of the same personal data; pending or failed ones
    # are left alone (they may still need sending).
    payloads = db.execute(
        f"UPDATE outbox SET payload = ? WHERE status = 'sent' "  # noqa: S608
        f"AND payload IS NOT NULL AND payload != ? AND session_id IN ({old_sessions})",
        [redacted_payload, redacted_payload, before]).rowcount
    return {"sessions": sessions, "fields": fields, "alert_payloads": payloads}


# --- the record of exports and personal-data reads ---------------------------------------------


def access_events_query(kind: str | None, actor_id: int | None, before: int | None,
                        limit: int, dialect: str = "sqlite",
                        branch_ids: tuple[int, ...] | None = None) -> tuple[str, list]:
    """The page's SQL and parameters. INDEXED BY makes SQLite refuse the query rather than
    scan the whole ledger if the WHERE ever stops matching the index's."""
    # Text as bytes, decoded for display (review.queries.shown): see ledger.events_of.
    as_bytes = "convert_to({}, 'UTF8')" if dialect == "postgresql" else "CAST({} AS BLOB)"
    hint = "" if dialect == "postgresql" else f"INDEXED BY {ACCESS_EVENTS_INDEX}"
    sql = (f"SELECT ledger.id AS id, {as_bytes.format('ledger.at')} AS at, "  # noqa: S608 - constants
           "ledger.actor_id AS actor_id, ledger.kind AS kind, ledger.session_id AS session_id, "
           f"{as_bytes.format('ledger.data')} AS data, sessions.reference AS reference "
           f"FROM ledger {hint} "
           "LEFT JOIN sessions ON sessions.id = ledger.session_id "
           f"WHERE {ACCESS_EVENTS_CONDITION}")
    params: list = []
    if branch_ids is not None:
        # A read belongs to its session's branch; an export (no session) to its actor's.
        scope, params = branch_condition(
            branch_ids, "COALESCE(sessions.branch_id, (SELECT branch_id FROM users "
                        "WHERE users.id = ledger.actor_id))")
        sql += f" AND {scope}"
    for column, value in (("kind", kind), ("actor_id", actor_id)):
        if value is not None:
            sql += f" AND ledger.{column} = ?"
            params.append(value)
    if before is not None:
        sql += " AND ledger.id < ?"
        params.append(before)
    return sql + " ORDER BY ledger.id DESC LIMIT ?", [*params, limit]


def access_events(db, kind: str | None = None, actor_id: int | None = None,
                  before: int | None = None, limit: int = PAGE_SIZE,
                  branch_ids: tuple[int, ...] | None = None) -> list[Row]:
    """Exports and personal-data reads of these branches (None: all), newest first: id, at and
    data (bytes), actor_id, kind, session_id and the session's reference."""
    return rows_of(db.execute(*access_events_query(kind, actor_id, before, limit, db.dialect,
                                                   branch_ids)))
