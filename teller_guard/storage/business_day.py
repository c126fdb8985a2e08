"""The business day of a screening (`sessions.business_day`, 0017), the key of every daily and
monthly statistics table.

Since 0017 stored times are UTC (clock.py), so the first ten characters of started_at are a UTC
date, not the bank's. The app writes the bank's date of started_at into `business_day` when it
inserts a session. Rows from before 0017 have none (NULL): their started_at was stored in the
server's local time, whose date is the one they were counted under, so the day is
`COALESCE(business_day, substr(started_at, 1, 10))`. That also keeps writers that know nothing
of the column (bulk loaders, tests) counted by the date they wrote.

The trigger builders (stats_triggers, branch_stats, duration_months) stay as the revisions
that first created their triggers ran them; `on_business_day` rewrites their day and month
keys for schema.py and 0017.
"""

from __future__ import annotations

import re


def day(row: str = "") -> str:
    """The SQL of a row's business day; `row` is NEW, OLD or a table alias (empty: none)."""
    prefix = f"{row}." if row else ""
    return f"COALESCE({prefix}business_day, substr({prefix}started_at, 1, 10))"


_STARTED_DAY = re.compile(r"substr\((?:(NEW|OLD|R)\.)?started_at, 1, (10|7)\)")


def on_business_day(statement: str) -> str:
    """A statistics trigger (or backfill) keyed by the business day instead of started_at's
    date: `substr(X.started_at, 1, 10)` becomes day(X), the month `substr(…, 1, 7)` the
    month of it."""
    def replace(match: re.Match) -> str:
        expression = day(match.group(1) or "")
        return expression if match.group(2) == "10" else f"substr({expression}, 1, 7)"

    return _STARTED_DAY.sub(replace, statement)


def sqlite_trigger_names() -> tuple[str, ...]:
    from . import branch_stats, duration_months, stats_triggers

    return (*stats_triggers.SQLITE_TRIGGER_NAMES, *branch_stats.SQLITE_TRIGGER_NAMES,
            *duration_months.SQLITE_TRIGGER_NAMES)


def sqlite_triggers() -> list[str]:
    """CREATE TRIGGER of every statistics trigger on sessions, keyed by the business day."""
    from . import branch_stats, duration_months, stats_triggers

    return [on_business_day(statement) for statement in (
        *stats_triggers.sqlite_statements(), *branch_stats.sqlite_statements(),
        *duration_months.sqlite_statements())]


def postgresql_functions() -> list[str]:
    """CREATE OR REPLACE FUNCTION of every statistics trigger function on sessions, keyed by
    the business day (their triggers stay as they are)."""
    from . import branch_stats, duration_months, stats_triggers

    statements = [stats_triggers.postgresql_function(), *branch_stats.postgresql_statements(),
                  *duration_months.postgresql_statements()]
    return [on_business_day(statement) for statement in statements
            if statement.startswith("CREATE OR REPLACE FUNCTION")]
