"""One schema for both backends: storage/schema.py, Alembic's head, and the frozen SQLite chain
of 1.x all describe the same database."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from teller_guard import db
from teller_guard import migrations as legacy
from teller_guard.storage import (
    branch_stats,
    business_day,
    duration_months,
    migrate,
    postgres,
    stats_triggers,
)
from teller_guard.storage.schema import QUEUE_REFERENCE_INDEX, metadata


def test_head_is_alembics_head():
    config = Config()
    config.set_main_option("script_location", str(migrate.SCRIPT_LOCATION))
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD


def sqlite_shape(path) -> dict:
    """Tables with their columns (name, type affinity, not null, default, pk), indexes with
    their columns, uniqueness and predicate, and triggers."""
    conn = sqlite3.connect(path)
    shape = {}
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
        "('_sqlite_migrations', 'alembic_version') ORDER BY name")]
    for table in tables:
        # A key column counts as NOT NULL: SQLAlchemy writes it, sqlite-utils did not (SQLite
        # then let a TEXT key be NULL, which the app never stored).
        columns = [(name, kind.upper().replace("BIGINT", "INTEGER"), bool(notnull or pk),
                    None if default is None else str(default).strip("()"), pk)
                   for _, name, kind, notnull, default, pk in
                   conn.execute(f"PRAGMA table_info({table})")]
        indexes = {}
        for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
            if origin == "pk":
                continue
            index_columns = [row[2] for row in conn.execute(f"PRAGMA index_info({name})")]
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()[0]
            predicate = sql.split(" WHERE ", 1)[1].strip() if partial else None
            indexes[name] = (index_columns, bool(unique), predicate)
        shape[table] = (columns, indexes)
    # Each trigger's statement too, spaces folded: a new database once had the users trigger
    # with strftime('{}') where `%s` was meant (SQLAlchemy's DDL %-formats its text).
    shape["triggers"] = sorted((name, " ".join(sql.split())) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    conn.close()
    return shape


def test_a_1x_sqlite_file_reaches_the_same_schema_as_a_new_one(tmp_path):
    old = tmp_path / "old.db"
    legacy_db = sqlite_utils.Database(old)
    legacy_db["users"].exists()  # create the file
    # A branch's file as 1.x left it: the frozen chain up to m014.
    legacy.migrations.apply(legacy_db, stop_before="m015_watchlist_id")
    legacy_db.conn.close()
    assert db.prepare(old)[0] == "m015_watchlist_id"
    new = tmp_path / "new.db"
    assert db.prepare(new) == [f"schema {migrate.HEAD}"]
    assert sqlite_shape(old) == sqlite_shape(new)
    for path in (old, new):
        connection = db.connect(path)
        assert migrate.stamped_revision(connection) == migrate.HEAD
        connection.conn.close()


def test_prepare_twice_does_nothing_the_second_time(tmp_path):
    path = tmp_path / "x.db"
    assert db.prepare(path)
    assert db.prepare(path) == []


def differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()


def test_a_new_sqlite_database_matches_the_metadata(tmp_path):
    path = tmp_path / "x.db"
    db.prepare(path)
    assert differences(f"sqlite:///{path}") == []


@pytest.fixture
def postgres_url():
    from postgres_support import create_database, drop_database

    url = create_database("tg_schema")
    yield url
    drop_database(url)


def test_a_new_postgresql_database_matches_the_metadata(postgres_url):
    assert db.prepare(postgres_url) == [f"schema {migrate.HEAD}"]
    assert db.prepare(postgres_url) == []
    assert differences(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)) == []


def test_postgresql_has_the_partial_indexes_and_triggers(postgres_url):
    db.prepare(postgres_url)
    database = db.connect(postgres_url)
    try:
        indexes = dict(database.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        ).fetchall())
        triggers = {row[0] for row in database.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall()}
    finally:
        database.conn.close()
    assert "WHERE (in_queue = 1)" in indexes[legacy.QUEUE_INDEX]
    assert "(reference, review_status) WHERE (in_queue = 1)" in indexes[QUEUE_REFERENCE_INDEX]
    assert "WHERE (api_token_id IS NOT NULL)" in indexes["idx_sessions_api_token_id"]
    assert "pii.accessed" in indexes[legacy.ACCESS_EVENTS_INDEX]
    assert triggers == {"stats_sessions_change", "users_change_ends_sessions",
                        branch_stats.POSTGRESQL_TRIGGER, *duration_months.POSTGRESQL_TRIGGER_NAMES}


@pytest.mark.parametrize("sql, expected", [
    ("SELECT ? || 'x'", "SELECT %s || 'x'"),
    ("SELECT '?' , ?", "SELECT '?' , %s"),
    ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
    ("SELECT * FROM t WHERE a LIKE '%x%' AND b = ?", "SELECT * FROM t WHERE a LIKE '%%x%%' AND b = %s"),
    ("SELECT 5 % 2", "SELECT 5 %% 2"),
])
def test_placeholders_become_psycopgs(sql, expected):
    assert postgres.translate(sql) == expected


def test_the_password_never_shows_in_messages():
    assert postgres.safe_url("postgresql://tg:s3cret@db.bank:5433/tg") == "postgresql://tg@db.bank:5433/tg"
    assert "s3cret" not in db.describe("postgresql://tg:s3cret@db.bank/tg")


def rate_counts_persistence(url: str) -> str:
    database = db.connect(url)
    try:
        return database.execute("SELECT relpersistence FROM pg_class "
                                "WHERE relname = 'api_rate_counts'").fetchone()[0]
    finally:
        database.conn.close()


# Undo 0009 by hand: a database as 0008 left it.
UNDO_0009 = ["DROP INDEX idx_sessions_branch_id_id",
             *(f"ALTER TABLE {table} DROP COLUMN branch_id"
               for table in ("users", "api_tokens", "sessions")),
             "DROP TABLE branches"]
# Undo 0010 (the watchlist's category, expiry and proposals): a database as 0009 left it.
UNDO_0010 = ["DROP INDEX idx_watchlist_proposed", "DROP INDEX idx_watchlist_expires_on",
             *(f"ALTER TABLE watchlist DROP COLUMN {column}" for column in
               ("category", "expires_on", "status", "session_id", "proposed_by"))]


# Undo 0012 by hand (PostgreSQL only: SQLite's indexes are as 0009 left them).
UNDO_0012 = [statement for column in ("payee_hash", "customer_hash") for statement in (
    f"DROP INDEX idx_sessions_{column}_started_at",
    f"CREATE INDEX idx_sessions_{column}_started_at ON sessions ({column}, started_at)")]


def undo_0013(connection) -> None:
    """Undo 0013 by hand (before UNDO_0009: its triggers name sessions.branch_id)."""
    if connection.dialect == "postgresql":
        trigger = branch_stats.POSTGRESQL_TRIGGER
        statements = [f"DROP TRIGGER {trigger} ON sessions", f"DROP FUNCTION {trigger}()"]
    else:
        statements = [f"DROP TRIGGER {name}" for name in branch_stats.SQLITE_TRIGGER_NAMES]
    statements += ["DROP INDEX idx_sessions_escalated",
                   "ALTER TABLE sessions DROP COLUMN escalated_at",
                   "ALTER TABLE sessions DROP COLUMN escalated_why",
                   *(f"DROP TABLE {name}" for name in branch_stats.TABLES)]
    for statement in statements:
        connection.execute(statement)


# Undo 0014 by hand: a database as 0009 left it (PostgreSQL: also its id sequence and head rows).
UNDO_0014 = ["DROP INDEX idx_ledger_chain_id", "ALTER TABLE ledger DROP COLUMN chain",
             "ALTER TABLE ledger_head DROP COLUMN plain_until"]
UNDO_0014_POSTGRESQL = ["DROP SEQUENCE ledger_id_seq", "DELETE FROM ledger_head WHERE id <> 1"]


def undo_0014(connection) -> None:
    for statement in UNDO_0014:
        connection.execute(statement)
    if connection.dialect == "postgresql":
        for statement in UNDO_0014_POSTGRESQL:
            connection.execute(statement)


# Undo 0016 by hand (the watchlist's renewal columns): a database as 0015 left it.
UNDO_0016 = ["ALTER TABLE watchlist DROP COLUMN renewed_at",
             "ALTER TABLE watchlist DROP COLUMN renewed_import_id",
             "ALTER TABLE watchlist_imports DROP COLUMN renewed"]


def undo_0016(connection) -> None:
    for statement in UNDO_0016:
        connection.execute(statement)


def undo_0015(connection) -> None:
    """Undo 0015 by hand: its triggers and the month table of durations."""
    if connection.dialect == "postgresql":
        statements = [f"DROP TRIGGER {name} ON sessions"
                      for name in duration_months.POSTGRESQL_TRIGGER_NAMES]
        statements.append(f"DROP FUNCTION {duration_months.POSTGRESQL_FUNCTION}()")
    else:
        statements = [f"DROP TRIGGER {name}" for name in duration_months.SQLITE_TRIGGER_NAMES]
    for statement in [*statements, f"DROP TABLE {duration_months.TABLE}"]:
        connection.execute(statement)


def undo_0017(connection) -> None:
    """Undo 0017 by hand: the statistics triggers keyed by started_at's date again, and no
    business_day column."""
    if connection.dialect == "postgresql":
        statements = [statement for statement in (
            stats_triggers.postgresql_function(), *branch_stats.postgresql_statements(),
            *duration_months.postgresql_statements())
            if statement.startswith("CREATE OR REPLACE FUNCTION")]
    else:
        statements = [f"DROP TRIGGER {name}" for name in business_day.sqlite_trigger_names()]
        statements += [*stats_triggers.sqlite_statements(), *branch_stats.sqlite_statements(),
                       *duration_months.sqlite_statements()]
    for statement in [*statements, "ALTER TABLE sessions DROP COLUMN business_day"]:
        connection.execute(statement)


def _run(connection, statements) -> None:
    for statement in statements:
        connection.execute(statement)


# Newest first: each revision and how to undo it by hand. A new revision adds its line here.
UNDO_LADDER = (
    ("0018_queue_reference",
     lambda connection: _run(connection, [f"DROP INDEX {QUEUE_REFERENCE_INDEX}"])),
    ("0017_business_day", undo_0017),
    ("0016_watchlist_renewals", undo_0016),
    ("0015_month_durations", undo_0015),
    ("0014_ledger_chains", undo_0014),
    ("0013_head_office", undo_0013),
    ("0012_cross_branch_signals",  # PostgreSQL only: SQLite's indexes are as 0009 left them
     lambda connection: _run(connection, UNDO_0012 if connection.dialect == "postgresql" else [])),
    ("0010_watchlist_bank", lambda connection: _run(connection, UNDO_0010)),
    ("0009_branches", lambda connection: _run(connection, UNDO_0009)),
    # before 0008's table: SQLite reparses the triggers when a column goes
    ("0008_stats_level_outcome",
     lambda connection: _run(connection, ["DROP TABLE stats_day_level_outcome"])),
    ("0007_users_trigger_time", None),  # the oldest this goes back to
)


def back_to(connection, revision: str) -> None:
    """A database at HEAD taken back by hand to `revision` (every later one undone, newest
    first) and stamped so: the next db.prepare upgrades it from there."""
    names = [name for name, _ in UNDO_LADDER]
    for _, undo in UNDO_LADDER[:names.index(revision)]:
        undo(connection)
    connection.execute("UPDATE alembic_version SET version_num = ?", [revision])


def sqlite_at(path, revision: str) -> None:
    """A SQLite file at an earlier revision, made as an upgraded 1.x file is (the legacy chain,
    then Alembic up to `revision`): SQLite cannot drop a column a table's foreign key names."""
    legacy_db = sqlite_utils.Database(path)
    legacy.migrations.apply(legacy_db)
    legacy_db.conn.close()
    migrate._with_alembic(str(path), migrate.BASELINE, to=revision)


def back_to_the_baseline(target) -> None:
    """Undo revisions 0002 to 0016 by hand (their tables, column and index; the triggers are
    replaced by the revisions anyway): a database as the baseline release left it, with a user."""
    database = db.connect(target)
    try:
        database.execute("INSERT INTO users (username, role, password_hash) "
                         "VALUES ('old', 'teller', 'x')")
        back_to(database, "0007_users_trigger_time")
        database.execute("DROP INDEX idx_sessions_awaiting_supervisor")
        database.execute("ALTER TABLE users DROP COLUMN must_change_password")
        database.execute("DROP TABLE api_rate_counts")
        database.execute("DROP TABLE screening_drafts")
        database.execute("UPDATE alembic_version SET version_num = ?", [migrate.BASELINE])
        if database.dialect == "sqlite":
            database.conn.commit()
    finally:
        database.conn.close()


def test_postgresql_rate_counts_are_unlogged_new_or_upgraded(postgres_url):
    """Counting a request must not wait for a WAL flush, made from the metadata or by the
    revision that adds the table to a database at the baseline."""
    db.prepare(postgres_url)
    assert rate_counts_persistence(postgres_url) == "u"
    back_to_the_baseline(postgres_url)
    assert db.prepare(postgres_url) == [f"alembic {migrate.BASELINE} -> {migrate.HEAD}"]
    assert rate_counts_persistence(postgres_url) == "u"


def test_concurrent_prepares_of_one_postgresql_database_take_turns(postgres_url):
    """Processes starting together (CLI commands, servers on several hosts) do not race to
    create the schema: one creates it, the others find it done."""
    import threading

    results, errors = [], []

    def prepare():
        try:
            results.append(db.prepare(postgres_url))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=prepare) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sorted(results) == [[], [], [], [f"schema {migrate.HEAD}"]]


def test_a_sqlite_database_at_the_baseline_is_upgraded(tmp_path):
    path = tmp_path / "x.db"
    sqlite_at(path, migrate.BASELINE)
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO users (username, role, password_hash) "
                           "VALUES ('old', 'teller', 'x')")
    assert db.prepare(path) == [f"alembic {migrate.BASELINE} -> {migrate.HEAD}"]
    new = tmp_path / "new.db"
    db.prepare(new)
    assert sqlite_shape(path) == sqlite_shape(new)
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT must_change_password FROM users").fetchall() == [(0,)]
    connection.close()


def _signal_index_includes(url) -> dict:
    database = db.connect(url)
    try:
        return {name: definition.split(" INCLUDE ", 1)[1] if " INCLUDE " in definition else None
                for name, definition in database.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
                    "('idx_sessions_payee_hash_started_at', "
                    "'idx_sessions_customer_hash_started_at')").fetchall()}
    finally:
        database.conn.close()


SIGNAL_INCLUDES = {"idx_sessions_payee_hash_started_at": "(branch_id, status)",
                   "idx_sessions_customer_hash_started_at": "(branch_id, status, level)"}


def test_a_postgresql_database_at_the_baseline_is_upgraded(postgres_url):
    db.prepare(postgres_url)
    assert _signal_index_includes(postgres_url) == SIGNAL_INCLUDES
    back_to_the_baseline(postgres_url)
    assert _signal_index_includes(postgres_url) == dict.fromkeys(SIGNAL_INCLUDES)
    assert db.prepare(postgres_url) == [f"alembic {migrate.BASELINE} -> {migrate.HEAD}"]
    assert differences(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)) == []
    # 0012: the other-branch lookups are index-only scans
    assert _signal_index_includes(postgres_url) == SIGNAL_INCLUDES
    database = db.connect(postgres_url)
    try:
        assert database.execute("SELECT must_change_password FROM users").fetchall() == [(0,)]
    finally:
        database.conn.close()


# --- 0006: the statistics triggers leave discarded screenings out --------------------------------

def _insert_session(connection) -> int:
    connection.execute("INSERT INTO users (username, role, password_hash) VALUES ('t', 'teller', 'x')")
    teller = connection.execute("SELECT id FROM users WHERE username = 't'").fetchone()[0]
    return connection.execute(
        "INSERT INTO sessions (reference, teller_id, started_at, status) VALUES "
        "('TG20261202-000001', ?, '2026-12-02T09:00:00+08:00', 'draft') RETURNING id",
        [teller]).fetchone()[0]


def _unassessed_that_day(connection) -> int:
    found = connection.execute("SELECT COALESCE(sum(n), 0) FROM stats_day_level "
                               "WHERE day = '2026-12-02' AND level = ''").fetchone()[0]
    return int(found)


def _discarding_leaves_the_statistics(connection) -> None:
    session_id = _insert_session(connection)
    assert _unassessed_that_day(connection) == 1
    connection.execute("UPDATE sessions SET status = 'discarded' WHERE id = ?", [session_id])
    assert _unassessed_that_day(connection) == 0
    connection.execute("UPDATE sessions SET status = 'draft' WHERE id = ?", [session_id])
    assert _unassessed_that_day(connection) == 1


def test_a_1x_sqlite_file_gets_the_0006_triggers(tmp_path):
    old = tmp_path / "old.db"
    legacy_db = sqlite_utils.Database(old)
    legacy_db["users"].exists()
    legacy.migrations.apply(legacy_db, stop_before="m015_watchlist_id")  # m007's triggers
    legacy_db.conn.close()
    db.prepare(old)
    new = tmp_path / "new.db"
    db.prepare(new)
    sql = ("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'stats%' "
           "ORDER BY name")
    with sqlite3.connect(old) as upgraded, sqlite3.connect(new) as created:
        assert upgraded.execute(sql).fetchall() == created.execute(sql).fetchall()
        _discarding_leaves_the_statistics(upgraded)


def test_postgresql_0006_replaces_the_statistics_trigger(postgres_url):
    db.prepare(postgres_url)
    connection = db.connect(postgres_url)
    try:
        # As before 0006: the trigger did not watch status.
        connection.execute("DROP TRIGGER stats_sessions_change ON sessions")
        connection.execute(
            "CREATE TRIGGER stats_sessions_change AFTER INSERT OR DELETE OR UPDATE OF "
            + ", ".join(legacy.STATS_WATCHED_COLUMNS)
            + " ON sessions FOR EACH ROW EXECUTE FUNCTION stats_sessions_change()")
        back_to(connection, "0007_users_trigger_time")
        connection.execute("UPDATE alembic_version SET version_num = '0004_screening_drafts'")
        assert db.prepare(postgres_url) != []
        assert migrate.stamped_revision(connection) == migrate.HEAD
        _discarding_leaves_the_statistics(connection)
    finally:
        connection.conn.close()


# --- 0007: the users trigger's time ------------------------------------------------------------


def test_0007_mends_the_users_trigger_of_a_database_created_from_the_metadata(tmp_path):
    path = tmp_path / "x.db"
    sqlite_at(path, "0006_discarded_screenings")
    connection = sqlite3.connect(path)
    # As a new database was created before 0007: the trigger's '%s' had become '{}'.
    broken = legacy.USERS_CHANGE_TRIGGER.replace("'%s'", "'{}'")
    connection.executescript(f"DROP TRIGGER users_change_ends_sessions; {broken};")
    connection.close()
    assert db.prepare(path) == [f"alembic 0006_discarded_screenings -> {migrate.HEAD}"]
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO users (username, display_name, role, password_hash,"
                       " created_at, active) VALUES ('u', 'u', 'teller', 'h', '2026-12-02', 1)")
    connection.execute("INSERT INTO login_sessions (token_hash, user_id, started_at)"
                       " VALUES ('t', 1, 1)")
    connection.execute("UPDATE users SET active = 0")
    ended_at, why = connection.execute("SELECT ended_at, ended_why FROM login_sessions").fetchone()
    connection.close()
    assert why == "account_changed" and ended_at > 1_700_000_000


# --- 0008: level x outcome a day -----------------------------------------------------------------

def _level_outcome_rows(connection) -> list[tuple]:
    return [tuple(row) for row in connection.execute(
        "SELECT day, level, outcome, n, amount_fen FROM stats_day_level_outcome ORDER BY 1, 2, 3")]


def _sessions_with_outcomes(connection) -> None:
    connection.execute("INSERT INTO users (username, role, password_hash) VALUES ('t', 'teller', 'x')")
    teller = connection.execute("SELECT id FROM users WHERE username = 't'").fetchone()[0]
    for number, (level, outcome, amount, status) in enumerate([
            ("high", "cancelled", 500, "finished"), ("high", "cancelled", 700, "finished"),
            (None, "proceeded", 100, "finished"), ("low", None, 100, "assessed"),
            (None, None, 900, "discarded")], start=1):
        connection.execute(
            "INSERT INTO sessions (reference, teller_id, started_at, status, level, outcome,"
            " amount_fen) VALUES (?, ?, '2026-12-02T09:00:00+08:00', ?, ?, ?, ?)",
            [f"TG20261202-{number:06d}", teller, status, level, outcome, amount])


def _triggers_before_0008(monkeypatch) -> tuple[list[str], str]:
    """SQLite's statements and PostgreSQL's function as 0006 left them (no level x outcome)."""
    with monkeypatch.context() as patch:
        patch.setattr(stats_triggers, "TABLES", {
            name: table for name, table in stats_triggers.TABLES.items()
            if name != "stats_day_level_outcome"})
        return stats_triggers.sqlite_statements(), stats_triggers.postgresql_function()


LEVEL_OUTCOME_ROWS = [("2026-12-02", "", "proceeded", 1, 100),
                      ("2026-12-02", "high", "cancelled", 2, 1200)]


def test_0008_fills_the_level_outcome_table_and_keeps_it(tmp_path, monkeypatch):
    path = tmp_path / "x.db"
    sqlite_at(path, "0007_users_trigger_time")
    connection = sqlite3.connect(path, isolation_level=None)
    for name in stats_triggers.SQLITE_TRIGGER_NAMES:
        connection.execute(f"DROP TRIGGER {name}")
    for statement in _triggers_before_0008(monkeypatch)[0]:
        connection.execute(statement)
    _sessions_with_outcomes(connection)
    connection.close()
    assert db.prepare(path) == [f"alembic 0007_users_trigger_time -> {migrate.HEAD}"]
    connection = sqlite3.connect(path, isolation_level=None)
    assert _level_outcome_rows(connection) == LEVEL_OUTCOME_ROWS
    connection.execute("UPDATE sessions SET outcome = 'police_called' WHERE amount_fen = 700")
    assert _level_outcome_rows(connection)[1:] == [("2026-12-02", "high", "cancelled", 1, 500),
                                                   ("2026-12-02", "high", "police_called", 1, 700)]
    connection.close()
    new = tmp_path / "new.db"
    db.prepare(new)
    assert sqlite_shape(path) == sqlite_shape(new)


def test_postgresql_0008_fills_the_level_outcome_table(postgres_url, monkeypatch):
    db.prepare(postgres_url)
    connection = db.connect(postgres_url)
    try:
        back_to(connection, "0007_users_trigger_time")
        connection.execute(_triggers_before_0008(monkeypatch)[1])
        _sessions_with_outcomes(connection)  # no table yet: the old function must not need it
        assert db.prepare(postgres_url) == [f"alembic 0007_users_trigger_time -> {migrate.HEAD}"]
        assert _level_outcome_rows(connection) == LEVEL_OUTCOME_ROWS
        assert differences(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)) == []
    finally:
        connection.conn.close()


# --- 0010: one watchlist for the bank ------------------------------------------------------------

def _entry_before_0010(connection) -> None:
    connection.execute("INSERT INTO watchlist (account_hash, account_masked, source, listed_on, note,"
                       " added_at) VALUES ('h', '6222 **** 1234', '市反诈中心', '2026-01-01', '',"
                       " '2026-01-01T09:00:00+08:00')")


def _listed_after_0010(connection) -> None:
    from teller_guard.storage import watchlist

    found = connection.execute("SELECT source, category, expires_on, status FROM watchlist"
                               ).fetchall()
    assert [tuple(row) for row in found] == [("市反诈中心", None, None, "active")]
    assert watchlist.is_listed(connection, "h", "2026-12-02")


def test_0010_keeps_existing_entries_listed(tmp_path):
    path = tmp_path / "x.db"
    sqlite_at(path, "0009_branches")
    connection = db.connect(path)
    with db.write_transaction(connection):
        _entry_before_0010(connection)
    connection.conn.close()
    assert db.prepare(path) == [f"alembic 0009_branches -> {migrate.HEAD}"]
    connection = db.connect(path)
    _listed_after_0010(connection)
    connection.conn.close()


# --- 0013: head office's escalation columns and daily tables with a branch ---------------------


def _sessions_before_0013(connection) -> None:
    connection.execute("INSERT INTO users (username, role, password_hash, branch_id) "
                       "VALUES ('t', 'teller', 'x', 1)")
    teller = connection.execute("SELECT id FROM users WHERE username = 't'").fetchone()[0]
    for number, (level, outcome, alerts, seconds, status) in enumerate([
            ("critical", "police_called", 0, 300, "finished"),
            ("high", "cancelled", 1, 125, "finished"),
            ("high", None, 0, None, "assessed"),
            ("low", "proceeded", 0, 61, "finished"),
            ("critical", None, 0, None, "discarded")], start=1):
        connection.execute(
            "INSERT INTO sessions (reference, teller_id, branch_id, started_at, updated_at, "
            "status, level, outcome, amount_fen, duration_seconds, alerts_printed) "
            "VALUES (?, ?, 1, '2026-12-02T09:00:00+08:00', '2026-12-02T09:05:00+08:00', "
            "?, ?, ?, 1000, ?, ?)",
            [f"TG20261202-{number:06d}", teller, status, level, outcome, seconds, alerts])


def _head_office_rows(connection) -> tuple[list, list]:
    escalated = [tuple(row) for row in connection.execute(
        "SELECT reference, escalated_why, escalated_at FROM sessions "
        "WHERE escalated_at IS NOT NULL ORDER BY reference")]
    mix = [tuple(row) for row in connection.execute(
        "SELECT day, branch_id, level, outcome, n, stopped, stopped_fen "
        "FROM stats_day_branch_mix WHERE n > 0 ORDER BY 3, 4")]
    return escalated, mix


HEAD_OFFICE_ROWS = (
    [("TG20261202-000001", "critical", "2026-12-02T09:05:00+08:00"),
     ("TG20261202-000002", "police_alert", "2026-12-02T09:05:00+08:00"),
     ("TG20261202-000005", "critical", "2026-12-02T09:05:00+08:00")],
    [("2026-12-02", 1, "critical", "police_called", 1, 1, 1000),
     ("2026-12-02", 1, "high", "", 1, 0, 0),
     ("2026-12-02", 1, "high", "cancelled", 1, 1, 1000),
     ("2026-12-02", 1, "low", "proceeded", 1, 0, 0)],
)


def test_0013_marks_escalations_and_fills_the_branch_tables(tmp_path):
    path = tmp_path / "x.db"
    sqlite_at(path, "0012_cross_branch_signals")
    with sqlite3.connect(path) as connection:
        _sessions_before_0013(connection)
    assert db.prepare(path) == [f"alembic 0012_cross_branch_signals -> {migrate.HEAD}"]
    connection = sqlite3.connect(path, isolation_level=None)
    assert _head_office_rows(connection) == HEAD_OFFICE_ROWS
    buckets = connection.execute("SELECT bucket, n FROM stats_day_teller_duration "
                                 "ORDER BY bucket").fetchall()
    assert buckets == [(60, 1), (120, 1), (300, 1)]
    # the new triggers keep them: a low screening becomes 劝阻 when it is high and cancelled
    connection.execute("UPDATE sessions SET level = 'high', outcome = 'cancelled' "
                       "WHERE reference = 'TG20261202-000004'")
    assert ("2026-12-02", 1, "high", "cancelled", 2, 2, 2000) in _head_office_rows(connection)[1]
    stopped = connection.execute("SELECT sum(stopped) FROM stats_day_branch_mix").fetchone()[0]
    assert stopped == 3
    connection.close()
    new = tmp_path / "new.db"
    db.prepare(new)
    assert sqlite_shape(path) == sqlite_shape(new)


def test_postgresql_0010_keeps_existing_entries_listed(postgres_url):
    db.prepare(postgres_url)
    connection = db.connect(postgres_url)
    try:
        back_to(connection, "0009_branches")
        _entry_before_0010(connection)
        assert db.prepare(postgres_url) == [f"alembic 0009_branches -> {migrate.HEAD}"]
        _listed_after_0010(connection)
        assert differences(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)) == []
    finally:
        connection.conn.close()


def test_postgresql_0013_marks_escalations_and_fills_the_branch_tables(postgres_url):
    db.prepare(postgres_url)
    connection = db.connect(postgres_url)
    try:
        back_to(connection, "0012_cross_branch_signals")
        _sessions_before_0013(connection)
        assert db.prepare(postgres_url) == [f"alembic 0012_cross_branch_signals -> {migrate.HEAD}"]
        assert _head_office_rows(connection) == HEAD_OFFICE_ROWS
        assert differences(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)) == []
    finally:
        connection.conn.close()


# --- 0015: durations by month ------------------------------------------------------------------


def _durations_before_0015(connection) -> None:
    connection.execute("INSERT INTO users (username, role, password_hash, branch_id) "
                       "VALUES ('t15', 'teller', 'x', 1)")
    teller = connection.execute("SELECT id FROM users WHERE username = 't15'").fetchone()[0]
    for number, (started_at, seconds, status) in enumerate([
            ("2026-10-31T23:00:00+08:00", 300, "finished"),
            ("2026-11-01T09:00:00+08:00", 300, "finished"),
            ("2026-11-20T09:00:00+08:00", 300, "finished"),
            ("2026-11-21T09:00:00+08:00", 61, "finished"),
            ("2026-11-22T09:00:00+08:00", 61, "discarded"),
            ("2026-11-23T09:00:00+08:00", None, "assessed")], start=1):
        connection.execute(
            "INSERT INTO sessions (reference, teller_id, branch_id, started_at, updated_at, "
            "status, duration_seconds) VALUES (?, ?, 1, ?, ?, ?, ?)",
            [f"TG20261202-{number:06d}", teller, started_at, started_at, status, seconds])


MONTH_DURATIONS = [("2026-10", 300, 1), ("2026-11", 61, 1), ("2026-11", 300, 2)]


def _month_durations(connection) -> list[tuple]:
    return [tuple(row) for row in connection.execute(
        "SELECT month, seconds, n FROM stats_month_duration WHERE n <> 0 ORDER BY 1, 2")]


def _the_triggers_keep_the_month_durations(connection) -> None:
    # the unfinished one finishes; a finished one is discarded; one moves to another month
    connection.execute("UPDATE sessions SET duration_seconds = 61, status = 'finished' "
                       "WHERE reference = 'TG20261202-000006'")
    connection.execute("UPDATE sessions SET status = 'discarded' "
                       "WHERE reference = 'TG20261202-000003'")
    connection.execute("UPDATE sessions SET started_at = '2026-12-01T09:00:00+08:00' "
                       "WHERE reference = 'TG20261202-000002'")
    connection.execute("DELETE FROM sessions WHERE reference = 'TG20261202-000001'")
    assert _month_durations(connection) == [("2026-11", 61, 2), ("2026-12", 300, 1)]


def test_0015_fills_the_month_durations(tmp_path):
    path = tmp_path / "x.db"
    sqlite_at(path, "0014_ledger_chains")
    with sqlite3.connect(path) as connection:
        _durations_before_0015(connection)
    assert db.prepare(path) == [f"alembic 0014_ledger_chains -> {migrate.HEAD}"]
    connection = sqlite3.connect(path, isolation_level=None)
    assert _month_durations(connection) == MONTH_DURATIONS
    _the_triggers_keep_the_month_durations(connection)
    connection.close()
    new = tmp_path / "new.db"
    db.prepare(new)
    assert sqlite_shape(path) == sqlite_shape(new)


def test_postgresql_0015_fills_the_month_durations(postgres_url):
    db.prepare(postgres_url)
    connection = db.connect(postgres_url)
    try:
        back_to(connection, "0014_ledger_chains")
        _durations_before_0015(connection)
        assert db.prepare(postgres_url) == [f"alembic 0014_ledger_chains -> {migrate.HEAD}"]
        assert _month_durations(connection) == MONTH_DURATIONS
        _the_triggers_keep_the_month_durations(connection)
        assert differences(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)) == []
    finally:
        connection.conn.close()
