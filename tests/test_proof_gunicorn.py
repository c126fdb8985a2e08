"""gunicorn's entry point (teller_guard/wsgi.py): what it refuses to serve, and that its
workers answer as one server (request metrics summed over the workers, one API rate limit);
and `teller-guard migrate`, run before it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest
from postgres_support import create_database, drop_database
from proof_helpers import GunicornServer, post_json

from teller_guard import api_tokens, create_app, db, users
from teller_guard.storage import migrate

pytestmark = pytest.mark.slow


def refusal(instance, database_url: str | None, workers: int) -> str:
    """Start gunicorn, expect it to stop by itself; returns its output."""
    server = GunicornServer(instance, database_url, workers=workers)
    with pytest.raises(AssertionError, match="gunicorn exited") as stopped:
        server.start(timeout=90)
    assert server.process.returncode != 0
    output = str(stopped.value)
    # Our message alone, no traceback through our code. (When both workers stop at the same
    # moment gunicorn's master prints a traceback of its own HaltServer.)
    assert not re.search(r'File "[^"]*teller_guard/', output), output
    return output


def instance_for(tmp_path, template_instance, config: str = ""):
    instance = tmp_path / "instance"
    shutil.copytree(template_instance, instance)
    (instance / "config.toml").write_text(
        "send_outbox_in_background = false\n" + config, encoding="utf-8")
    return instance


def test_sqlite_is_refused_more_than_one_worker(tmp_path, template_instance):
    output = refusal(instance_for(tmp_path, template_instance), None, workers=2)
    assert "SQLite 模式只能由一个进程提供服务" in output and "teller-guard serve" in output


def test_sqlite_with_one_worker_serves(tmp_path, template_instance):
    server = GunicornServer(instance_for(tmp_path, template_instance), None, workers=1).start()
    try:
        with urllib.request.urlopen(server.url + "/readyz", timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()


@pytest.fixture
def database_url():
    url = create_database("tg_gunicorn")
    yield url
    drop_database(url)


def test_a_database_not_at_the_head_revision_is_refused(tmp_path, template_instance,
                                                        database_url):
    instance = instance_for(tmp_path, template_instance)
    output = refusal(instance, database_url, workers=2)  # empty: no worker creates the schema
    assert "teller-guard migrate" in output and migrate.HEAD in output
    database = db.connect(database_url)
    try:
        assert migrate.stamped_revision(database) is None  # nothing was created behind it
    finally:
        database.conn.close()


def migrated(instance, database_url: str) -> None:
    """`teller-guard migrate`, as the README has it run before gunicorn starts."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TELLER_GUARD_")}
    env["TELLER_GUARD_DATABASE_URL"] = database_url
    result = subprocess.run(
        [sys.executable, "-c", "from teller_guard.cli import main; main()", "migrate",
         "--instance", str(instance)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert migrate.HEAD in result.stdout


def count_of(metrics: str, route: str) -> float:
    pattern = (r'teller_guard_http_request_duration_seconds_count\{method="GET",'
               rf'route="{re.escape(route)}",status="200"\}} (\S+)')
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


def test_two_workers_answer_as_one_server(tmp_path, template_instance, database_url):
    """The request metrics of /metrics add up both workers' requests, whichever answers the
    scrape; the API rate limit is one count for both."""
    instance = instance_for(tmp_path, template_instance, "api_rate_limit_per_minute = 12\n")
    migrated(instance, database_url)
    app = create_app({"DATABASE_URL": database_url}, instance_path=instance)
    key = app.extensions["teller_guard"]["ledger_key"]
    database = db.connect(database_url)
    try:
        users.create_user(database, key, "teller", "teller-pass-1", "teller", "柜员", "T01",
                          must_change=False)
        _, token = api_tokens.create(database, key, "proof", actor_id=None)
    finally:
        database.conn.close()
    server = GunicornServer(instance, database_url, workers=2, threads=1).start()
    try:
        for _ in range(30):  # a new connection each: both workers take their share
            with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
                assert response.status == 200
        for _ in range(4):
            with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
                assert count_of(response.read().decode(), "/healthz") == 30

        statuses = [post_json(server.url + "/api/v1/screenings", {"teller": "teller"}, token)[0]
                    for _ in range(20)]
        assert statuses.count(400) == 12 and statuses.count(429) == 8, statuses
    finally:
        server.stop()


def test_migrate_never_prints_the_database_password(tmp_path, template_instance, database_url):
    """The URL may carry a password (postgresql://user:secret@host/db): messages name the
    database without it."""
    with_password = database_url.replace("postgresql:///", "postgresql://root:s3cret-pw@/", 1)
    instance = instance_for(tmp_path, template_instance)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TELLER_GUARD_")}
    env["TELLER_GUARD_DATABASE_URL"] = with_password
    result = subprocess.run(
        [sys.executable, "-c", "from teller_guard.cli import main; main()", "migrate",
         "--instance", str(instance)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "数据库已更新" in result.stdout and "s3cret-pw" not in result.stdout + result.stderr
