"""Shared fixtures, flaskr style: an app on a temporary instance folder per test."""

from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner

from teller_guard import create_app, db, settings, users

PASSWORDS = {
    "teller": "teller-pass-1",
    "teller2": "teller-pass-2",
    "supervisor": "supervisor-pass",
    "security": "security-pass",
    "admin": "admin-password",
}
ROLE_OF = {"teller": "teller", "teller2": "teller", "supervisor": "supervisor",
           "security": "security", "admin": "admin"}


TEST_CONFIG = {"TESTING": True, "SEND_OUTBOX_IN_BACKGROUND": False}


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory):
    """One migrated database with the test accounts, copied for each test (hashing
    passwords is deliberately slow, so it is done once)."""
    instance = tmp_path_factory.mktemp("template") / "instance"
    app = create_app(TEST_CONFIG, instance_path=instance)
    db.prepare(app.config["DATABASE"])
    database = db.connect(app.config["DATABASE"])
    _seed(app, database)
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.conn.close()
    return instance


@pytest.fixture
def backend():
    """The database the `app` fixture uses: "sqlite" unless the module is marked
    `both_backends` (then each test runs on both; see pytest_generate_tests)."""
    return "sqlite"


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_backends") and \
            "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", "postgresql"])


@pytest.fixture
def app(tmp_path, template_instance, backend, request):
    instance = tmp_path / "instance"
    if backend == "postgresql":
        server = request.getfixturevalue("postgres_template")
        shutil.copytree(server.instance, instance)
        server.reset()
        # In the environment, so the CLI and servers a test starts use it too.
        request.getfixturevalue("monkeypatch").setenv("TELLER_GUARD_DATABASE_URL", server.url)
        yield create_app(TEST_CONFIG, instance_path=instance)
        return
    shutil.copytree(template_instance, instance)
    yield create_app(TEST_CONFIG, instance_path=instance)


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory, template_instance):
    """A PostgreSQL database of this test run, seeded like template_instance (same keys, same
    accounts) and put back to that state before each test that uses it (postgres_support.py)."""
    from postgres_support import PostgresTemplate

    template = PostgresTemplate.create(tmp_path_factory.mktemp("pg") / "instance",
                                       template_instance, seed=_seed)
    yield template
    template.drop()


def _seed(app, database) -> None:
    key = app.extensions["teller_guard"]["ledger_key"]
    settings.save(database, key, settings.DEMO_SETTINGS)
    for username, password in PASSWORDS.items():
        users.create_user(database, key, username, password, ROLE_OF[username],
                          display_name=f"{username}名", staff_no=username.upper(),
                          must_change=False)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(app):
    """A fresh JSON API token (tests/api_helpers.py)."""
    from api_helpers import new_token

    return new_token(app)[1]


@pytest.fixture
def runner():
    return CliRunner()


def csrf_token(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username="teller", password=None):
        token = csrf_token(self._client, "/login")
        return self._client.post("/login", data={
            "username": username, "password": password or PASSWORDS[username],
            "csrf_token": token,
        })

    def logout(self):
        token = csrf_token(self._client, "/screening/")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def open_database(app):
    """A connection to the app's database; on PostgreSQL with sqlite-utils' table calls the
    tests use (postgres_support.TestDatabase)."""
    connection = db.connect(app.config["DATABASE"])
    if db.is_postgresql(app.config["DATABASE"]):
        from postgres_support import TestDatabase

        connection = TestDatabase(connection)
    return connection


@pytest.fixture
def database(app):
    connection = open_database(app)
    yield connection
    connection.conn.close()


def database_bytes(path) -> bytes:
    """The database file plus its WAL, as an attacker with the disk would read them; on
    PostgreSQL everything pg_dump writes (every row of every table)."""
    if db.is_postgresql(path):
        import subprocess

        return subprocess.run(["pg_dump", "--data-only", str(path)], check=True,
                              capture_output=True).stdout
    data = b""
    for suffix in ("", "-wal"):
        try:
            with open(f"{path}{suffix}", "rb") as handle:
                data += handle.read()
        except FileNotFoundError:
            pass
    return data


@pytest.fixture(autouse=True)
def _access_log_state():
    """`serve` configures the access logger for the whole process (its own handler, no
    propagation): put it back after each test, so a later test's caplog still sees it."""
    import logging

    from teller_guard import telemetry

    logger = logging.getLogger(telemetry.ACCESS_LOGGER)
    saved = (logger.disabled, logger.propagate, list(logger.handlers), logger.level)
    yield
    logger.disabled, logger.propagate, logger.handlers[:], level = saved
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def _server_zone():
    """Each app sets the process's zone from TIME_ZONE (clock.py): put the server's own back,
    so a test that set another cannot move a later test's business days."""
    yield
    from teller_guard import clock

    clock.use_zone(None)
