"""Creating and upgrading the schema, on either backend.

- An empty database: the whole schema from storage/schema.py, then stamped with Alembic's head
  (Alembic's cookbook way to build an up-to-date database from scratch).
- A SQLite file from 1.x (no alembic_version table): the frozen sqlite-utils chain
  (teller_guard/migrations.py) up to the baseline, then stamped at the baseline.
- Then any Alembic revisions after the stamp, on both backends.

Each of these runs in one transaction (PostgreSQL and SQLite both have transactional DDL), so
an interrupted start leaves the database as it was.
"""

from __future__ import annotations

from pathlib import Path

from . import postgres

HEAD = "0018_queue_reference"  # tests/test_storage_schema.py checks it is Alembic's head
BASELINE = "0001_baseline"
SCRIPT_LOCATION = Path(__file__).with_name("alembic")
MIGRATION_LOCK = 0x7467_6D69_6772  # "tgmigr": the advisory lock of schema changes


def stamped_revision(db) -> str | None:
    """The database's Alembic revision; None when it has none (empty, or a 1.x SQLite file)."""
    if not _has_table(db, "alembic_version"):
        return None
    found = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return found[0] if found else None


def _has_table(db, name: str) -> bool:
    if getattr(db, "dialect", "sqlite") == postgres.DIALECT:  # the probe's is a bare sqlite3
        sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
    else:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute(sql, [name]).fetchone() is not None


def upgrade(db, target: str) -> list[str]:
    """Bring the database `db` (opened on `target`, a file path or a URL) to HEAD; returns what
    was done, in order (empty when it was up to date)."""
    if stamped_revision(db) == HEAD:
        return []
    done: list[str] = []
    if db.dialect != postgres.DIALECT and stamped_revision(db) is None and _has_table(db, "users"):
        from .. import migrations as legacy

        done += legacy.apply(db)
        revision_after_legacy = BASELINE
    else:
        revision_after_legacy = None
    done += _with_alembic(target, revision_after_legacy)
    return done


def _with_alembic(target: str, stamp_first: str | None, to: str = "head") -> list[str]:
    """Alembic's part of upgrade(); `to` an earlier revision only in the schema tests."""
    from alembic.config import Config
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DBAPIError

    if postgres.is_url(target):
        engine = create_engine(postgres.plain_url(target).replace(
            "postgresql://", "postgresql+psycopg://", 1))
    else:
        engine = create_engine(f"sqlite:///{target}")

        # pysqlite would not open a transaction before DDL: do it ourselves (SQLAlchemy's recipe).
        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    done: list[str] = []
    try:
        with engine.begin() as connection:
            done += _create_or_upgrade(connection, config, stamp_first, to)
    except DBAPIError as exc:
        raise exc.orig from exc  # the driver's own error, as the caller knows them
    finally:
        engine.dispose()
    return done


def _create_or_upgrade(connection, config, stamp_first: str | None, to: str) -> list[str]:
    from alembic import command
    from alembic.migration import MigrationContext

    from .schema import metadata

    config.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        # Processes starting together (CLI commands, `serve` on several hosts) take turns;
        # the next one finds the schema done. SQLite: BEGIN IMMEDIATE already serializes.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None and stamp_first is None:
        metadata.create_all(connection)
        command.stamp(config, "head")
        return [f"schema {HEAD}"]
    if current is None:
        command.stamp(config, stamp_first)
        current = stamp_first
    command.upgrade(config, to)
    after = MigrationContext.configure(connection).get_current_revision()
    return [f"alembic {current} -> {after}"] if after != current else []
