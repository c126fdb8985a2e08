"""Daily (and monthly) tables for head office's bank-wide statistics with drill-down to branch
and teller (revision 0013), kept by triggers of their own on sessions.

The older daily tables (stats_triggers.py, used by revisions 0006 and 0008) have no branch; they
and their triggers are left exactly as they are. The tables (three grains, see TABLES) keep:

- mix: level x outcome -> screenings, amount, 劝阻 (stopped: 高/极高 cancelled or police_called)
  with their amount, and closed dispositions of queued cases with how many were 误报;
- typology -> screenings, 劝阻 and amount;
- duration bucket -> finished screenings: a histogram, so a median can be read without sessions.

A discarded screening counts nowhere, as in the older tables. Expressions use COALESCE and
plain CASE, the same text on SQLite and PostgreSQL.
"""

from __future__ import annotations

from ..review import state

NOT_DISCARDED = "R.status != 'discarded'"
WATCHED_COLUMNS = ("started_at", "status", "branch_id", "teller_id", "level", "outcome",
                   "typology", "amount_fen", "duration_seconds", "in_queue", "review_status")
SQLITE_TRIGGER_NAMES = ("branch_stats_insert", "branch_stats_delete", "branch_stats_update")
POSTGRESQL_TRIGGER = "branch_stats_change"

STOPPED_LEVELS = ("high", "critical")
STOPPED_OUTCOMES = ("cancelled", "police_called")
FALSE_ALARM = "false_alarm"


def _in(values) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


_STOPPED = f"R.level IN {_in(STOPPED_LEVELS)} AND R.outcome IN {_in(STOPPED_OUTCOMES)}"
_CLOSED = f"R.in_queue = 1 AND R.review_status IN {_in(state.CLOSED)}"

# Duration buckets (seconds): 30 s wide below 10 minutes, 5 minutes below an hour, then one
# bucket: 31 in all, so a year of a bank's histogram stays a few hundred thousand rows. A
# median read from them is the middle of its bucket: within 15 s (150 s above 10 minutes).
FINE_LIMIT, FINE_WIDTH, COARSE_LIMIT, COARSE_WIDTH = 600, 30, 3600, 300
BUCKET = (f"CASE WHEN R.duration_seconds < {FINE_LIMIT} "
          f"THEN R.duration_seconds / {FINE_WIDTH} * {FINE_WIDTH} "
          f"WHEN R.duration_seconds < {COARSE_LIMIT} "
          f"THEN R.duration_seconds / {COARSE_WIDTH} * {COARSE_WIDTH} ELSE {COARSE_LIMIT} END")


def bucket_of(seconds: int) -> int:
    """BUCKET in Python (the tests and the median use it)."""
    if seconds < FINE_LIMIT:
        return int(seconds / FINE_WIDTH) * FINE_WIDTH  # toward zero, as SQL's integer division
    if seconds < COARSE_LIMIT:
        return seconds // COARSE_WIDTH * COARSE_WIDTH
    return COARSE_LIMIT


def bucket_width(bucket: int) -> int:
    if bucket < FINE_LIMIT:
        return FINE_WIDTH
    return COARSE_WIDTH if bucket < COARSE_LIMIT else 0


KEY_EXPRESSIONS = {
    "branch_id": "COALESCE(R.branch_id, 0)", "teller_id": "R.teller_id",
    "day": "substr(R.started_at, 1, 10)", "month": "substr(R.started_at, 1, 7)",
    "level": "COALESCE(R.level, '')",
    "outcome": "COALESCE(R.outcome, '')", "typology": "COALESCE(R.typology, '')",
    "bucket": BUCKET,
}
VALUE_EXPRESSIONS = {
    "n": "1",
    "amount_fen": "COALESCE(R.amount_fen, 0)",
    "stopped": f"CASE WHEN {_STOPPED} THEN 1 ELSE 0 END",
    "stopped_fen": f"CASE WHEN {_STOPPED} THEN COALESCE(R.amount_fen, 0) ELSE 0 END",
    "closed": f"CASE WHEN {_CLOSED} THEN 1 ELSE 0 END",
    "false_alarms": f"CASE WHEN R.in_queue = 1 AND R.review_status = '{FALSE_ALARM}' "
                    "THEN 1 ELSE 0 END",
}
INTEGER_KEYS = ("branch_id", "teller_id", "bucket")

_MIX_VALUES = ("n", "amount_fen", "stopped", "stopped_fen", "closed", "false_alarms")
_TYPOLOGY_VALUES = ("n", "stopped", "stopped_fen")
_DURATION = "R.duration_seconds IS NOT NULL"
# name -> (key columns in primary-key order, value columns, extra condition or None).
# Three grains, so a year of the whole bank reads a few tens of thousands of rows:
# - bank (day): the bank's figures per day and per typology;
# - branch (day, and month): per branch, for the bank's list of branches: whole months of the
#   range from the month tables, the days at either end from the day tables (day first in the
#   key: those are ranges of it);
# - teller (day): a branch's figures and its tellers', one teller's (branch_id first in the
#   key: always read for one branch).
TABLES = {
    "stats_day_bank_mix": (("day", "level", "outcome"), _MIX_VALUES, None),
    "stats_day_bank_typology": (("day", "typology"), _TYPOLOGY_VALUES, None),
    "stats_day_bank_duration": (("day", "bucket"), ("n",), _DURATION),
    "stats_day_branch_mix": (("day", "branch_id", "level", "outcome"), _MIX_VALUES, None),
    "stats_day_branch_duration": (("day", "branch_id", "bucket"), ("n",), _DURATION),
    "stats_month_branch_mix": (("month", "branch_id", "level", "outcome"), _MIX_VALUES, None),
    "stats_month_branch_duration": (("month", "branch_id", "bucket"), ("n",), _DURATION),
    "stats_day_teller_mix": (("branch_id", "day", "teller_id", "level", "outcome"),
                             _MIX_VALUES, None),
    "stats_day_teller_typology": (("branch_id", "day", "teller_id", "typology"),
                                  _TYPOLOGY_VALUES, None),
    "stats_day_teller_duration": (("branch_id", "day", "teller_id", "bucket"), ("n",), _DURATION),
}


def _condition(extra: str | None, row: str) -> str:
    condition = NOT_DISCARDED if extra is None else f"{NOT_DISCARDED} AND {extra}"
    return condition.replace("R.", f"{row}.")


def _expression(column: str, row: str) -> str:
    expression = KEY_EXPRESSIONS.get(column) or VALUE_EXPRESSIONS[column]
    return expression.replace("R.", f"{row}.")


def _change(name: str, row: str, sign: str) -> str:
    """One statement adding (sign '+') or taking away (sign '-') the row NEW or OLD."""
    keys, values, extra = TABLES[name]
    if sign == "+":
        selected = ", ".join(_expression(column, row) for column in (*keys, *values))
        # The table named in SET: PostgreSQL finds a bare column ambiguous there.
        updates = ", ".join(f"{value} = {name}.{value} + excluded.{value}" for value in values)
        return (f"INSERT INTO {name} ({', '.join((*keys, *values))}) SELECT {selected} "
                f"WHERE {_condition(extra, row)} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};")
    where = " AND ".join(f"{key} = {_expression(key, row)}" for key in keys)
    updates = ", ".join(f"{value} = {value} - {_expression(value, row)}" for value in values)
    return (f"UPDATE {name} SET {updates} WHERE {where} "  # noqa: S608 - built from constants
            f"AND {_condition(extra, row)};")


def _changes(row: str, sign: str) -> str:
    return "\n".join(_change(name, row, sign) for name in TABLES)


def sqlite_statements() -> list[str]:
    """CREATE TRIGGER for insert, delete and update, beside the older statistics triggers."""
    insert, delete, update = SQLITE_TRIGGER_NAMES
    return [
        f"CREATE TRIGGER {insert} AFTER INSERT ON sessions BEGIN\n{_changes('NEW', '+')}\nEND",
        f"CREATE TRIGGER {delete} AFTER DELETE ON sessions BEGIN\n{_changes('OLD', '-')}\nEND",
        f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(WATCHED_COLUMNS)} ON sessions "
        f"BEGIN\n{_changes('OLD', '-')}\n{_changes('NEW', '+')}\nEND",
    ]


# The day's statistics rows are taken one transaction at a time: each write of a session moves
# counts between several rows of its day (the old level's and the new one's, in this trigger
# and in stats_sessions_change after it), and two transactions taking such rows in different
# orders deadlocked (50 tellers on two processes, tests/test_proof_concurrency_postgresql.py).
# A transaction-long advisory lock on (STATS_LOCK, YYYYMMDD), taken first, orders them. This
# trigger fires before stats_sessions_change (PostgreSQL fires triggers by name), whose columns
# it watches too, so the lock covers both.
STATS_LOCK = 0x7467_5354  # "tgST"


def _day_lock(row: str) -> str:
    return (f"PERFORM pg_advisory_xact_lock({STATS_LOCK}, "
            f"CAST(replace(substr({row}.started_at, 1, 10), '-', '') AS integer));")


def postgresql_statements() -> list[str]:
    """The function and its one trigger for the three events."""
    return [
        f"CREATE OR REPLACE FUNCTION {POSTGRESQL_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\nIF TG_OP IN ('UPDATE', 'DELETE') THEN\n" + _day_lock("OLD") + "\nEND IF;\n"
        "IF TG_OP IN ('UPDATE', 'INSERT') THEN\n" + _day_lock("NEW") + "\nEND IF;\n"
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN\n" + _changes("OLD", "-")
        + "\nEND IF;\nIF TG_OP IN ('UPDATE', 'INSERT') THEN\n" + _changes("NEW", "+")
        + "\nEND IF;\nRETURN NULL;\nEND $$",
        f"CREATE TRIGGER {POSTGRESQL_TRIGGER} AFTER INSERT OR DELETE OR UPDATE OF "
        + ", ".join(WATCHED_COLUMNS)
        + f" ON sessions FOR EACH ROW EXECUTE FUNCTION {POSTGRESQL_TRIGGER}()",
    ]


def backfill_statements() -> list[str]:
    """Fill each (empty) table from the sessions already stored."""
    result = []
    for name, (keys, values, extra) in TABLES.items():
        selected = ", ".join(
            [_expression(key, "sessions") for key in keys]
            + [f"sum({_expression(value, 'sessions')})" for value in values])
        result.append(
            f"INSERT INTO {name} ({', '.join((*keys, *values))}) "  # noqa: S608 - constants
            f"SELECT {selected} FROM sessions WHERE {_condition(extra, 'sessions')} "
            f"GROUP BY {', '.join(str(i) for i in range(1, len(keys) + 1))}")
    return result
