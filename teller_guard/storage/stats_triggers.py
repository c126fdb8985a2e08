"""The triggers that keep the daily statistics tables (m007; 0008) current, as of revision 0008.

m007's triggers (teller_guard/migrations.py, frozen) count every sessions row. Since 0006 a
screening the teller discarded (status `discarded`) counts in none of the tables, not even as
未评估: each table's condition also requires `status != 'discarded'`, and the UPDATE trigger
watches `status` too, so discarding a row takes it out of the day's figures. SQLite's three
triggers and PostgreSQL's one function are built here from m007's table list, for
schema.py (new databases) and the 0006 revision (existing ones) alike.
"""

from __future__ import annotations

from .. import migrations as legacy

NOT_DISCARDED = "status != 'discarded'"
WATCHED_COLUMNS = (*legacy.STATS_WATCHED_COLUMNS, "status")
SQLITE_TRIGGER_NAMES = ("stats_sessions_insert", "stats_sessions_delete", "stats_sessions_update")


def _condition(condition: str) -> str:
    kept = f"R.{NOT_DISCARDED}"
    return kept if condition == "1" else f"{kept} AND {condition}"


# Since 0008 also level x outcome a day (the statistics page's table and 保护金额), which no
# m007 table keeps together.
LEVEL_OUTCOME = (("day", "level", "outcome"), ("n", "amount_fen"),
                 {"day": "substr(R.started_at, 1, 10)", "level": "IFNULL(R.level, '')",
                  "outcome": "R.outcome", "n": "1", "amount_fen": "IFNULL(R.amount_fen, 0)"},
                 "R.outcome IS NOT NULL")
TABLES = {name: (keys, values, expressions, _condition(condition))
          for name, (keys, values, expressions, condition)
          in {**legacy.STATS_TABLES, "stats_day_level_outcome": LEVEL_OUTCOME}.items()}


def _changes(row: str, sign: str) -> list[str]:
    return [legacy._stats_change(name, keys, values, expressions, condition, row, sign)
            for name, (keys, values, expressions, condition) in TABLES.items()]


def sqlite_statements() -> list[str]:
    """CREATE TRIGGER for insert, delete and update (drop m007's first)."""
    def body(*parts: tuple[str, str]) -> str:
        return "\n".join(statement for row, sign in parts for statement in _changes(row, sign))

    return [
        f"CREATE TRIGGER stats_sessions_insert AFTER INSERT ON sessions BEGIN\n"
        f"{body(('NEW', '+'))}\nEND",
        f"CREATE TRIGGER stats_sessions_delete AFTER DELETE ON sessions BEGIN\n"
        f"{body(('OLD', '-'))}\nEND",
        f"CREATE TRIGGER stats_sessions_update AFTER UPDATE OF {', '.join(WATCHED_COLUMNS)} "
        f"ON sessions BEGIN\n{body(('OLD', '-'), ('NEW', '+'))}\nEND",
    ]


def _postgresql_changes(row: str, sign: str) -> str:
    """SQLite's statements in PostgreSQL's words: COALESCE, and the table named in ON
    CONFLICT's SET (PostgreSQL finds a bare `n` ambiguous there)."""
    statements = []
    for statement, (name, (_, values, _, _)) in zip(_changes(row, sign), TABLES.items(),
                                                    strict=True):
        for value in values:
            statement = statement.replace(f"{value} = {value} + excluded.",
                                          f"{value} = {name}.{value} + excluded.")
        statements.append(statement.replace("IFNULL(", "COALESCE("))
    return "\n".join(statements)


def postgresql_function() -> str:
    """The function behind the one trigger, for the three events (CREATE OR REPLACE)."""
    return ("CREATE OR REPLACE FUNCTION stats_sessions_change() RETURNS trigger LANGUAGE plpgsql "
            "AS $$\nBEGIN\nIF TG_OP IN ('UPDATE', 'DELETE') THEN\n" + _postgresql_changes("OLD", "-")
            + "\nEND IF;\nIF TG_OP IN ('UPDATE', 'INSERT') THEN\n" + _postgresql_changes("NEW", "+")
            + "\nEND IF;\nRETURN NULL;\nEND $$")


def postgresql_trigger() -> str:
    return ("CREATE TRIGGER stats_sessions_change AFTER INSERT OR DELETE OR UPDATE OF "
            + ", ".join(WATCHED_COLUMNS)
            + " ON sessions FOR EACH ROW EXECUTE FUNCTION stats_sessions_change()")
