"""Head office's SQL: escalation of a screening, the queue of escalated cases across branches,
one escalated case, and the bank-wide statistics read from the daily tables of
storage/branch_stats.py (never from sessions, except in statistics_from_sessions, which the
tests compare them with)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .. import clock
from ..review import state
from . import Row, business_day, query, query_one
from .branch_stats import BUCKET, STOPPED_LEVELS, STOPPED_OUTCOMES
from .review import add_filters

PAGE_SIZE = 50

# --- escalation (call inside storage.transaction, with the ledger event) -----------------------


def escalation_state(db, session_id: int) -> Row | None:
    """id, branch_id, in_queue, escalated_at and escalated_why of a session."""
    return query_one(db, "SELECT id, branch_id, in_queue, escalated_at, escalated_why "
                         "FROM sessions WHERE id = ?", [session_id])


def mark_escalated(db, session_id: int, at: str, why: str) -> bool:
    """Escalate unless it went already (the first time and reason are kept)."""
    return db.execute("UPDATE sessions SET escalated_at = ?, escalated_why = ? "
                      "WHERE id = ? AND escalated_at IS NULL",
                      [at, why, session_id]).rowcount == 1


# --- branches ----------------------------------------------------------------------------------


def branches(db) -> list[Row]:
    """id, code, name, province and city of every branch, by code."""
    return query(db, "SELECT id, code, name, province, city FROM branches ORDER BY code, id")


# --- the queue ---------------------------------------------------------------------------------

QUEUE_COLUMNS = (
    "s.id, s.reference, s.started_at, s.escalated_at, s.escalated_why, s.level, s.score, "
    "s.typology, s.amount_fen, s.payee_masked, s.customer_masked, s.outcome, s.in_queue, "
    "s.review_status, s.branch_id, s.teller_id, b.name AS branch_name, b.code AS branch_code, "
    "b.province, b.city"
)


@dataclass(frozen=True)
class QueueFilters:
    branch_id: int | None = None
    province: str | None = None
    city: str | None = None
    level: str | None = None
    why: str | None = None
    status: str | None = None


def _queue_conditions(filters: QueueFilters) -> tuple[list[str], list]:
    conditions, params = ["s.escalated_at IS NOT NULL"], []
    add_filters(conditions, params, (
        ("s.branch_id", filters.branch_id), ("s.level", filters.level),
        ("s.escalated_why", filters.why), ("b.province", filters.province),
        ("b.city", filters.city)), filters.status, "s.review_status")
    return conditions, params


@dataclass(frozen=True)
class QueuePage:
    rows: list[Row]
    next_after: tuple[str, int] | None  # (escalated_at, id) of the last row, None on the last page


def queue_page(db, filters: QueueFilters, after: tuple[str, int] | None = None,
               limit: int = PAGE_SIZE) -> QueuePage:
    """Newest escalation first, keyset by (escalated_at, id) on the partial index."""
    conditions, params = _queue_conditions(filters)
    if after is not None:
        conditions.append("(s.escalated_at < ? OR (s.escalated_at = ? AND s.id < ?))")
        params += [after[0], after[0], after[1]]
    rows = query(
        db, f"SELECT {QUEUE_COLUMNS} FROM sessions s LEFT JOIN branches b ON b.id = s.branch_id "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} ORDER BY s.escalated_at DESC, s.id DESC LIMIT ?",
        [*params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return QueuePage(rows, (rows[-1]["escalated_at"], rows[-1]["id"]) if more and rows else None)


def case(db, session_id: int) -> Row | None:
    """The whole row of an escalated session with its branch's name and code."""
    return query_one(db, "SELECT s.*, b.name AS branch_name, b.code AS branch_code "
                         "FROM sessions s LEFT JOIN branches b ON b.id = s.branch_id "
                         "WHERE s.id = ? AND s.escalated_at IS NOT NULL", [session_id])


# --- statistics ----------------------------------------------------------------------------------

def _sums(*names: str) -> str:
    # As BIGINT: PostgreSQL's sum of bigint is numeric, which psycopg loads far slower.
    return ", ".join(f"CAST(sum({name}) AS BIGINT) AS {name}" for name in names)


MIX_SUMS = _sums("n", "amount_fen", "stopped", "stopped_fen", "closed", "false_alarms")


def period_expression(db, granularity: str, day: str = "day") -> str:
    """The period of a day (YYYY-MM-DD text) in SQL: the day, its week's Monday, or YYYY-MM
    (head_office.stats.period_of says the same in Python)."""
    if granularity == "month":
        return f"substr({day}, 1, 7)"
    if granularity == "week":
        if db.dialect == "postgresql":
            return f"to_char(date_trunc('week', CAST({day} AS date)), 'YYYY-MM-DD')"
        return f"date({day}, '-6 days', 'weekday 1')"
    return day


@dataclass(frozen=True)
class Scope:
    """The whole bank (no branch), one branch, or one teller of a branch."""
    branch_id: int | None = None
    teller_id: int | None = None

    @property
    def group(self) -> str | None:
        """The column the next level down of the drill-down groups by."""
        if self.branch_id is None:
            return "branch_id"
        return "teller_id" if self.teller_id is None else None

    def conditions(self) -> tuple[list[str], list]:
        conditions, params = [], []
        for column, value in (("branch_id", self.branch_id), ("teller_id", self.teller_id)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        return conditions, params


def _read(db, table: str, select: str, keys: list[str], conditions: list[str],
          params: list) -> list[Row]:
    ordinals = ", ".join(str(i) for i in range(1, len(keys) + 1))
    return query(db, f"SELECT {', '.join(keys)}, {select} FROM {table} "  # noqa: S608 - constants
                     f"WHERE {' AND '.join(conditions)} GROUP BY {ordinals}", params)


def _days(date_from: date, date_to: date) -> tuple[list[str], list]:
    return ["day >= ?", "day <= ?"], [date_from.isoformat(), date_to.isoformat()]


def month_split(date_from: date, date_to: date) -> tuple[tuple[str, str] | None,
                                                          list[tuple[date, date]]]:
    """The whole months inside [date_from, date_to] (first and last YYYY-MM, or None) and the
    day ranges left at either end."""
    first = date_from if date_from.day == 1 else (date_from.replace(day=28) + timedelta(days=4)
                                                  ).replace(day=1)
    after = date_to + timedelta(days=1)
    end = after if after.day == 1 else date_to.replace(day=1)  # first day after the last month
    if first >= end:
        return None, [(date_from, date_to)]
    edges = [(date_from, first - timedelta(days=1))] if date_from < first else []
    if end <= date_to:
        edges.append((end, date_to))
    return (first.isoformat()[:7], (end - timedelta(days=1)).isoformat()[:7]), edges


def _branch_groups(db, table: str, select: str, keys: list[str], date_from: date,
                   date_to: date) -> list[Row]:
    """Per branch over the range: whole months from the month table, the ends from the day
    table (head_office.stats adds rows of the same branch together)."""
    months, edges = month_split(date_from, date_to)
    rows = []
    if months:
        rows += _read(db, f"stats_month_branch_{table}", select, keys,
                      ["month >= ?", "month <= ?"], list(months))
    for low, high in edges:
        rows += _read(db, f"stats_day_branch_{table}", select, keys, *_days(low, high))
    return rows


def statistics(db, scope: Scope, date_from: date, date_to: date,
               granularity: str = "day") -> dict[str, list[Row]]:
    """The rows head_office.stats folds into figures: per period (mix, durations), per group
    of the level below (mix, durations: branches of the bank, tellers of a branch) and per
    typology. The bank's come from the bank and branch grains, a branch's and a teller's from
    the teller grain (read by branch_id, its key's first column)."""
    period = f"{period_expression(db, granularity)} AS period"
    days, params = _days(date_from, date_to)
    if scope.branch_id is None:
        grain, where = "bank", (days, params)
    else:
        extra, extra_params = scope.conditions()
        grain, where = "teller", (extra + days, extra_params + params)
    figures = {
        "periods": _read(db, f"stats_day_{grain}_mix", MIX_SUMS, [period, "level", "outcome"],
                         *where),
        "period_durations": _read(db, f"stats_day_{grain}_duration", _sums("n"),
                                  [period, "bucket"], *where),
        "typologies": _read(db, f"stats_day_{grain}_typology",
                            _sums("n", "stopped", "stopped_fen"), ["typology"], *where),
        "groups": [], "group_durations": [],
    }
    if scope.group == "branch_id":
        figures["groups"] = _branch_groups(db, "mix", MIX_SUMS, ["branch_id", "level", "outcome"],
                                           date_from, date_to)
        figures["group_durations"] = _branch_groups(db, "duration", _sums("n"),
                                                    ["branch_id", "bucket"], date_from, date_to)
    elif scope.group == "teller_id":
        figures["groups"] = _read(db, "stats_day_teller_mix", MIX_SUMS,
                                  ["teller_id", "level", "outcome"], *where)
        figures["group_durations"] = _read(db, "stats_day_teller_duration", _sums("n"),
                                           ["teller_id", "bucket"], *where)
    return figures


def _started_between(date_from: date, date_to: date) -> tuple[list[str], list]:
    conditions, params = [], []
    for condition, bound in zip(("started_at >= ?", "started_at < ?"),
                                clock.day_range(date_from, date_to), strict=True):
        if bound is not None:
            conditions.append(condition)
            params.append(bound)
    return conditions, params


def statistics_from_sessions(db, scope: Scope, date_from: date, date_to: date,
                             granularity: str = "day") -> dict[str, list[Row]]:
    """The same rows straight from sessions (slow at scale: the tests check the tables)."""
    bucket = BUCKET.replace("R.", "")
    day = period_expression(db, granularity, business_day.day())
    stopped = (f"level IN {tuple(STOPPED_LEVELS)} AND outcome IN {tuple(STOPPED_OUTCOMES)}")
    closed = f"in_queue = 1 AND review_status IN {tuple(state.CLOSED)}"
    sums = ("count(*) AS n, COALESCE(sum(amount_fen), 0) AS amount_fen, "
            f"sum(CASE WHEN {stopped} THEN 1 ELSE 0 END) AS stopped, "
            f"sum(CASE WHEN {stopped} THEN COALESCE(amount_fen, 0) ELSE 0 END) AS stopped_fen, "
            f"sum(CASE WHEN {closed} THEN 1 ELSE 0 END) AS closed, "
            "sum(CASE WHEN in_queue = 1 AND review_status = 'false_alarm' THEN 1 ELSE 0 END) "
            "AS false_alarms")
    conditions, params = _started_between(date_from, date_to)
    conditions.insert(0, "status != 'discarded'")
    for column, value in (("branch_id", scope.branch_id), ("teller_id", scope.teller_id)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    where = " AND ".join(conditions)

    def read(keys: list[str], select: str, extra: str = "") -> list[Row]:
        ordinals = ", ".join(str(i) for i in range(1, len(keys) + 1))
        return query(db, f"SELECT {', '.join(keys)}, {select} FROM sessions "  # noqa: S608
                         f"WHERE {where}{extra} GROUP BY {ordinals}", params)

    levels = ["COALESCE(level, '') AS level", "COALESCE(outcome, '') AS outcome"]
    durations = " AND duration_seconds IS NOT NULL"
    figures = {
        "periods": read([f"{day} AS period", *levels], sums),
        "period_durations": read([f"{day} AS period", f"{bucket} AS bucket"], "count(*) AS n",
                                 durations),
        "typologies": read(["COALESCE(typology, '') AS typology"],
                           f"count(*) AS n, sum(CASE WHEN {stopped} THEN 1 ELSE 0 END) AS stopped, "
                           f"sum(CASE WHEN {stopped} THEN COALESCE(amount_fen, 0) ELSE 0 END) "
                           "AS stopped_fen"),
        "groups": [], "group_durations": [],
    }
    if scope.group:
        group = f"COALESCE({scope.group}, 0) AS {scope.group}"
        figures["groups"] = read([group, *levels], sums)
        figures["group_durations"] = read([group, f"{bucket} AS bucket"], "count(*) AS n",
                                          durations)
    return figures


def tellers_of(db, branch_id: int) -> list[Row]:
    """id and name of the accounts that belong to a branch (the drill-down's names)."""
    return query(db, "SELECT id, COALESCE(NULLIF(display_name, ''), username) AS name, staff_no "
                     "FROM users WHERE branch_id = ? ORDER BY staff_no, id", [branch_id])


def teller_branch(db, teller_id: int) -> int | None:
    found = db.execute("SELECT branch_id FROM users WHERE id = ?", [teller_id]).fetchone()
    return found[0] if found else None
