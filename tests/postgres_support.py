"""PostgreSQL for the tests: one throwaway database per test run (per xdist worker), seeded once
and put back to its seeded state before each test that uses it.

TELLER_GUARD_TEST_DATABASE_URL names a database the tests may connect to as a role that can
create databases (CI: `postgresql:///postgres?host=/var/run/postgresql` as root). Unset, the
PostgreSQL half of the `both_backends` tests skips with the reason; with
TELLER_GUARD_REQUIRE_POSTGRES=1 (CI) a missing or unreachable server fails them instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from teller_guard import create_app, db, storage
from teller_guard.storage import copying

URL_VARIABLE = "TELLER_GUARD_TEST_DATABASE_URL"
REQUIRE_VARIABLE = "TELLER_GUARD_REQUIRE_POSTGRES"
TEST_CONFIG = {"TESTING": True, "SEND_OUTBOX_IN_BACKGROUND": False}


def unavailable(reason: str):
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"PostgreSQL required ({REQUIRE_VARIABLE}=1) but {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def server_url() -> str:
    url = os.environ.get(URL_VARIABLE)
    if not url:
        unavailable(f"{URL_VARIABLE} is not set (README: Running the tests on PostgreSQL)")
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    # urlunsplit would drop the empty host of postgresql:///db?host=/socket/dir
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{name}{query}"


def create_database(prefix: str = "tg_test") -> str:
    """A new empty database; returns its URL."""
    base = server_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = db.connect(base)
    except db.DatabaseUnavailable as error:
        unavailable(str(error))
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.conn.close()
    return with_database(base, name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = db.connect(server_url())
    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.conn.close()


@dataclass
class PostgresTemplate:
    url: str
    instance: Path  # keys and config shared by every test's copy
    snapshot: dict[str, list[tuple]]

    @classmethod
    def create(cls, instance: Path, template_instance: Path, seed) -> PostgresTemplate:
        url = create_database()
        shutil.copytree(template_instance, instance)
        for leftover in instance.glob("teller_guard.db*"):
            leftover.unlink()
        # The instance names its database, so commands run with --instance (verify, redact)
        # use the same one as the test's app.
        with open(instance / "config.toml", "a", encoding="utf-8") as handle:
            handle.write(f'database_url = "{url}"\n')
        app = create_app({**TEST_CONFIG, "DATABASE_URL": url}, instance_path=instance)
        db.prepare(url)
        database = db.connect(url)
        try:
            seed(app, database)
            snapshot = {table: list(copying.all_rows(database, table))
                        for table in copying.TABLES}
        finally:
            database.conn.close()
        return cls(url, instance, snapshot)

    def reset(self) -> None:
        database = db.connect(self.url)
        try:
            with storage.transaction(database):
                copying.truncate_all(database)
                for table in copying.TABLES:
                    copying.insert_rows(database, table, self.snapshot[table])
                copying.reset_sequences(database)
        finally:
            database.conn.close()

    def drop(self) -> None:
        drop_database(self.url)


class TableView:
    """The few sqlite-utils table calls the tests make (`database["sessions"].rows_where(…)`),
    on a PostgreSQL connection: tests read and tamper with rows the same way on both backends."""

    def __init__(self, database, name: str):
        self.database, self.name = database, name

    def _rows(self, sql: str, params=()):
        return storage.query(self.database, sql, params)

    @property
    def count(self) -> int:
        return copying.count(self.database, self.name)

    def rows_where(self, where: str | None = None, where_args=(), order_by: str | None = None,
                   select: str = "*", limit: int | None = None):
        sql = f"SELECT {select} FROM {self.name}"
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return iter(self._rows(sql, where_args or ()))

    @property
    def rows(self):
        return self.rows_where()

    def get(self, pk):
        found = self._rows(f"SELECT * FROM {self.name} WHERE id = ?", [pk])
        if not found:
            raise LookupError(f"{self.name} has no row {pk}")
        return found[0]

    def update(self, pk, values: dict):
        assignments = ", ".join(f"{name} = ?" for name in values)
        self.database.execute(f"UPDATE {self.name} SET {assignments} WHERE id = ?",
                              [*values.values(), pk])
        return self

    def insert(self, values: dict, **_options):
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))
        returning = " RETURNING id" if "id" in copying.columns(self.name) else ""
        cursor = self.database.execute(
            f"INSERT INTO {self.name} ({names}) VALUES ({marks}){returning}",
            list(values.values()))
        self.last_pk = cursor.fetchone()[0] if returning else None
        if "id" in values:  # an explicit id: the sequence must not hand it out again
            copying.reset_sequences(self.database)
        return self

    def insert_all(self, rows, **options):
        for row in rows:
            self.insert(row, **options)
        return self


class TestDatabase:
    """A PostgreSQL connection for the tests' `database` fixture (see TableView)."""

    def __init__(self, database):
        self._database = database

    def __getattr__(self, name):
        return getattr(self._database, name)

    def __getitem__(self, table: str) -> TableView:
        return TableView(self._database, table)


class Cluster:
    """A PostgreSQL server of one test's own: initdb in a temporary folder, listening only on a
    Unix socket there, so the test can crash and restart it without touching the shared server.
    Run as the `postgres` account when the tests run as root (PostgreSQL refuses root)."""

    def __init__(self):
        import pwd
        import tempfile

        self.bin = _postgres_bin()
        self.as_user: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("the tests run as root and there is no postgres account for initdb")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="tg-cluster-"))
        if owner is not None:
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.data, self.port = self.folder / "data", 5432
        self._run("initdb", "-D", str(self.data), "-U", "tg", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    def _run(self, program: str, *args: str) -> None:
        import subprocess

        result = subprocess.run([*self.as_user, str(self.bin / program), *args],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"{program} failed: {result.stdout}{result.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://tg@/{database}?host={self.folder}&port={self.port}"

    def start(self) -> Cluster:
        # fsync on, as on a real server: what a crash keeps is what was acknowledged.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses='' -c fsync=on "
                   "-c synchronous_commit=on -c max_connections=60 -c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        return self

    def crash(self) -> None:
        """Stop at once, as a crash would (no checkpoint: the next start replays the WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        import subprocess

        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data),
                        "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def _postgres_bin() -> Path:
    """The server's programs: pg_config's bindir, else Debian's /usr/lib/postgresql/N/bin."""
    import subprocess

    candidates = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    unavailable("initdb and pg_ctl were not found (Debian: apt-get install postgresql)")
    raise AssertionError("unreachable")
