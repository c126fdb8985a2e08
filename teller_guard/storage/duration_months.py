"""A month's durations (revision 0015): `stats_month_duration` (month, seconds, n), kept by
triggers on sessions beside the daily `stats_day_duration`.

The statistics page's median reads the durations histogram of its period. By day that is a
few hundred rows a day (durations are exact seconds): 250,000 rows for two years at 1M
screenings, three quarters of a year's statistics time. Whole months of a period are read from
this table instead and only the days at its edges from the daily one (storage.review).

Same condition as the daily table: a finished duration (duration_seconds set) of a screening
that was not discarded. The triggers fire only when a duration is involved (WHEN), so a
screening's INSERT, which has none yet, costs nothing here; the duration is set once, when the
outcome is recorded, so a transaction moves at most one row of this table in practice and
needs no lock of its own (see branch_stats.STATS_LOCK for why the daily rows do).
"""

from __future__ import annotations

TABLE = "stats_month_duration"
SQLITE_TRIGGER_NAMES = ("month_duration_insert", "month_duration_delete", "month_duration_update")
POSTGRESQL_FUNCTION = "month_duration_change"
POSTGRESQL_TRIGGER_NAMES = ("month_duration_insert", "month_duration_delete",
                            "month_duration_update")
WATCHED_COLUMNS = ("started_at", "status", "duration_seconds")


def _counted(row: str) -> str:
    return f"{row}.duration_seconds IS NOT NULL AND {row}.status != 'discarded'"


def _add(row: str) -> str:
    return (f"INSERT INTO {TABLE} (month, seconds, n) "
            f"SELECT substr({row}.started_at, 1, 7), {row}.duration_seconds, 1 "
            f"WHERE {_counted(row)} "
            f"ON CONFLICT (month, seconds) DO UPDATE SET n = {TABLE}.n + 1;")


def _remove(row: str) -> str:
    return (f"UPDATE {TABLE} SET n = n - 1 WHERE month = substr({row}.started_at, 1, 7) "  # noqa: S608
            f"AND seconds = {row}.duration_seconds AND {_counted(row)};")


_UPDATE_WHEN = "OLD.duration_seconds IS NOT NULL OR NEW.duration_seconds IS NOT NULL"


def sqlite_statements() -> list[str]:
    insert, delete, update = SQLITE_TRIGGER_NAMES
    return [
        f"CREATE TRIGGER {insert} AFTER INSERT ON sessions "
        f"WHEN NEW.duration_seconds IS NOT NULL BEGIN\n{_add('NEW')}\nEND",
        f"CREATE TRIGGER {delete} AFTER DELETE ON sessions "
        f"WHEN OLD.duration_seconds IS NOT NULL BEGIN\n{_remove('OLD')}\nEND",
        f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(WATCHED_COLUMNS)} ON sessions "
        f"WHEN {_UPDATE_WHEN} BEGIN\n{_remove('OLD')}\n{_add('NEW')}\nEND",
    ]


def postgresql_statements() -> list[str]:
    """One function; three triggers, since a WHEN clause may name only the rows its event has."""
    insert, delete, update = POSTGRESQL_TRIGGER_NAMES
    run = f"FOR EACH ROW {{when}} EXECUTE FUNCTION {POSTGRESQL_FUNCTION}()"
    return [
        f"CREATE OR REPLACE FUNCTION {POSTGRESQL_FUNCTION}() RETURNS trigger LANGUAGE plpgsql "
        "AS $$\nBEGIN\nIF TG_OP IN ('UPDATE', 'DELETE') THEN\n" + _remove("OLD")
        + "\nEND IF;\nIF TG_OP IN ('UPDATE', 'INSERT') THEN\n" + _add("NEW")
        + "\nEND IF;\nRETURN NULL;\nEND $$",
        f"CREATE TRIGGER {insert} AFTER INSERT ON sessions "
        + run.format(when="WHEN (NEW.duration_seconds IS NOT NULL)"),
        f"CREATE TRIGGER {delete} AFTER DELETE ON sessions "
        + run.format(when="WHEN (OLD.duration_seconds IS NOT NULL)"),
        f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(WATCHED_COLUMNS)} ON sessions "
        + run.format(when=f"WHEN ({_UPDATE_WHEN})"),
    ]


def backfill_statement() -> str:
    """Fill the (empty) table from the sessions already stored."""
    return (f"INSERT INTO {TABLE} (month, seconds, n) "  # noqa: S608 - constants
            "SELECT substr(started_at, 1, 7), duration_seconds, count(*) FROM sessions "
            "WHERE duration_seconds IS NOT NULL AND status != 'discarded' GROUP BY 1, 2")
