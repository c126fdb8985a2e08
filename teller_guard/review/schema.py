"""Schema the review area adds (applied by migration m007 in teller_guard/migrations.py).

- Two indexes for the queue: a partial covering index of the queued sessions (every filter
  column, so filtering, keyset paging and the per-status counts never touch the table) and
  (in_queue, review_status) for the unfiltered counts.
- Daily statistics kept up to date by triggers on sessions, so the statistics page reads a few
  thousand small rows instead of a million sessions. Triggers see every write, the screening
  service's and out-of-band ones alike, so the figures always equal the table; day is the local
  date of started_at.
"""

from __future__ import annotations

QUEUE_INDEX = "sessions_queue_cover"
QUEUE_STATUS_INDEX = "sessions_queue_status"

INDEXES = (
    f"CREATE INDEX IF NOT EXISTS {QUEUE_INDEX} ON sessions (id, started_at, level, typology, "
    "teller_id, outcome, review_status, reference, assignee_id) WHERE in_queue = 1",
    f"CREATE INDEX IF NOT EXISTS {QUEUE_STATUS_INDEX} ON sessions (in_queue, review_status)",
)

# table -> (key columns, value columns, the expression of each key and value for a row R,
#           condition under which row R counts in this table)
DAY = "substr(R.started_at, 1, 10)"
STATS_TABLES = {
    "stats_day_level": (("day", "level"), ("n",),
                        {"day": DAY, "level": "IFNULL(R.level, '')", "n": "1"}, "1"),
    "stats_day_teller": (("day", "teller_id"), ("n", "queued"),
                         {"day": DAY, "teller_id": "R.teller_id", "n": "1",
                          "queued": "IFNULL(R.in_queue, 0)"}, "1"),
    "stats_day_queue": (("day", "typology", "review_status"), ("n",),
                        {"day": DAY, "typology": "IFNULL(R.typology, '')",
                         "review_status": "IFNULL(R.review_status, 'pending')", "n": "1"},
                        "R.in_queue = 1"),
    "stats_day_outcome": (("day", "outcome"), ("n", "amount_fen"),
                          {"day": DAY, "outcome": "R.outcome", "n": "1",
                           "amount_fen": "IFNULL(R.amount_fen, 0)"}, "R.outcome IS NOT NULL"),
    "stats_day_duration": (("day", "seconds"), ("n",),
                           {"day": DAY, "seconds": "R.duration_seconds", "n": "1"},
                           "R.duration_seconds IS NOT NULL"),
}
WATCHED_COLUMNS = ("started_at", "level", "teller_id", "in_queue", "typology", "review_status",
                   "outcome", "amount_fen", "duration_seconds")


def _create_table(name: str, keys, values) -> str:
    columns = [f"{key} {'INTEGER' if key in ('teller_id', 'seconds') else 'TEXT'} NOT NULL"
               for key in keys]
    columns += [f"{value} INTEGER NOT NULL DEFAULT 0" for value in values]
    return (f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(columns)}, "
            f"PRIMARY KEY ({', '.join(keys)})) WITHOUT ROWID")


def _add(name: str, keys, values, expressions, condition, row: str, sign: str) -> str:
    """One statement adding (sign '+') or removing (sign '-') row `row` (NEW or OLD)."""
    def expr(column):
        return expressions[column].replace("R.", f"{row}.")

    if sign == "+":
        selected = ", ".join(expr(column) for column in (*keys, *values))
        updates = ", ".join(f"{value} = {value} + excluded.{value}" for value in values)
        return (f"INSERT INTO {name} ({', '.join((*keys, *values))}) SELECT {selected} "
                f"WHERE {condition.replace('R.', f'{row}.')} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};")
    where = " AND ".join(f"{key} = {expr(key)}" for key in keys)
    updates = ", ".join(f"{value} = {value} - {expr(value)}" for value in values)
    return (f"UPDATE {name} SET {updates} WHERE {where} "  # noqa: S608 - built from constants
            f"AND {condition.replace('R.', f'{row}.')};")


def _statements(row: str, sign: str) -> str:
    return "\n".join(_add(name, keys, values, expressions, condition, row, sign)
                     for name, (keys, values, expressions, condition) in STATS_TABLES.items())


def _backfill(name: str, keys, values, expressions, condition) -> str:
    selected = ", ".join(
        f"{expressions[column].replace('R.', '')} AS {column}" if column in keys
        else f"sum({expressions[column].replace('R.', '')})" for column in (*keys, *values))
    return (f"INSERT INTO {name} ({', '.join((*keys, *values))}) SELECT {selected} "  # noqa: S608
            f"FROM sessions WHERE {condition.replace('R.', '')} GROUP BY {', '.join(keys)}")


def statements() -> list[str]:
    """Every statement of the migration, in order (idempotent on an empty database)."""
    result = list(INDEXES)
    for name, (keys, values, _, _) in STATS_TABLES.items():
        result.append(_create_table(name, keys, values))
    for name, (keys, values, expressions, condition) in STATS_TABLES.items():
        result.append(_backfill(name, keys, values, expressions, condition))
    result += [
        f"CREATE TRIGGER IF NOT EXISTS stats_sessions_insert AFTER INSERT ON sessions BEGIN\n"
        f"{_statements('NEW', '+')}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS stats_sessions_delete AFTER DELETE ON sessions BEGIN\n"
        f"{_statements('OLD', '-')}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS stats_sessions_update AFTER UPDATE OF "
        f"{', '.join(WATCHED_COLUMNS)} ON sessions BEGIN\n"
        f"{_statements('OLD', '-')}\n{_statements('NEW', '+')}\nEND",
    ]
    return result


def apply(db) -> None:
    for statement in statements():
        db.execute(statement)
