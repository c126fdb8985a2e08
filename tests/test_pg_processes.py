"""Several server processes on one PostgreSQL database: what a process keeps in memory must
not make it answer differently from the others. Two create_app objects on one URL stand for
two processes (tests/test_proof_gunicorn.py runs real gunicorn workers); a settings change is
made by a real second process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from api_helpers import FACTS, new_token, post

from teller_guard import create_app, db, settings
from teller_guard.screening import context


@pytest.fixture
def backend():
    """The app fixture on PostgreSQL (skipped without it, tests/postgres_support.py)."""
    return "postgresql"


@pytest.fixture
def other_process(app):
    """A second app on the same database and instance folder."""
    return create_app({"TESTING": True, "SEND_OUTBOX_IN_BACKGROUND": False,
                       "DATABASE_URL": app.config["DATABASE"]}, instance_path=app.instance_path)


def facts_only(amount: str) -> dict:
    return {"teller": "teller", "facts": {**FACTS, "amount": amount}}


def test_the_api_rate_limit_is_one_count_for_all_processes(app, other_process, monkeypatch):
    from teller_guard import rate_limit

    monkeypatch.setattr(rate_limit, "clock", lambda: 60 * 29_000_000 + 10)
    app.config["API_RATE_LIMIT_PER_MINUTE"] = 4
    other_process.config["API_RATE_LIMIT_PER_MINUTE"] = 4
    _, token = new_token(app)
    clients = [app.test_client(), other_process.test_client()]
    statuses = [post(clients[n % 2], token, {"teller": "teller"}).status_code for n in range(8)]
    assert statuses == [400] * 4 + [429] * 4  # counted per process, it let 8 through


def test_a_refused_request_says_when_to_retry_from_the_shared_count(app, other_process,
                                                                     monkeypatch):
    from teller_guard import rate_limit

    monkeypatch.setattr(rate_limit, "clock", lambda: 60 * 29_000_000 + 10)
    app.config["API_RATE_LIMIT_PER_MINUTE"] = 2
    other_process.config["API_RATE_LIMIT_PER_MINUTE"] = 2
    _, token = new_token(app)
    assert post(app.test_client(), token, {"teller": "teller"}).status_code == 400
    assert post(app.test_client(), token, {"teller": "teller"}).status_code == 400
    refused = post(other_process.test_client(), token, {"teller": "teller"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "50"  # two this minute: clear when it is the last


SAVE_IN_ANOTHER_PROCESS = textwrap.dedent("""
    import sys
    from dataclasses import replace
    from decimal import Decimal

    from teller_guard import create_app, db, settings

    app = create_app({"DATABASE_URL": sys.argv[1], "SEND_OUTBOX_IN_BACKGROUND": False},
                     instance_path=sys.argv[2])
    database = db.connect(app.config["DATABASE"])
    settings.save(database, app.extensions["teller_guard"]["ledger_key"],
                  replace(settings.load(database), large_amount=Decimal(sys.argv[3])))
    database.conn.close()
""")


def test_a_settings_change_in_another_process_shows_at_the_next_request(app, monkeypatch):
    """The cache of the branch settings is not trusted for a recheck interval: a save that
    another process committed is heard of before the next request reads them."""
    monkeypatch.setattr(context, "SETTINGS_RECHECK_SECONDS", 3600.0)
    _, token = new_token(app)
    client = app.test_client()

    def questions(amount: str) -> set[str]:
        reply = post(client, token, facts_only(amount))
        assert reply.status_code == 201, reply.get_json()
        return {question["id"] for question in reply.get_json()["questions"]}

    assert "large_amount_confirm" not in questions("3万")  # the line is 5万: now cached
    subprocess.run([sys.executable, "-c", SAVE_IN_ANOTHER_PROCESS, app.config["DATABASE"],
                    app.instance_path, "10000"], check=True, timeout=60)
    assert "large_amount_confirm" in questions("3万")
    subprocess.run([sys.executable, "-c", SAVE_IN_ANOTHER_PROCESS, app.config["DATABASE"],
                    app.instance_path, "50000"], check=True, timeout=60)
    assert "large_amount_confirm" not in questions("3万")


def test_a_new_connection_does_not_trust_a_cache_made_before_it_listened(app, database):
    """Saves committed while no connection of this process listened are unknown to it: a
    connection that starts listening treats the cache as stale."""
    with app.app_context():
        seen = settings.changes_seen()
        connection = db.connect(app.config["DATABASE"])
        try:
            settings.watch_other_processes(connection)
            assert settings.changes_seen() != seen
            seen = settings.changes_seen()
            settings.watch_other_processes(connection)  # once per connection
            assert settings.changes_seen() == seen
        finally:
            connection.conn.close()
