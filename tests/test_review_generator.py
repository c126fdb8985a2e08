"""The benchmark data generator, on 1,000 rows: its output follows the storage contract."""

import importlib.util
from pathlib import Path

import pytest

from teller_guard import audit, create_app, db
from teller_guard.review import integrity, stats

pytestmark = pytest.mark.both_backends  # PostgreSQL: the rows go in with COPY

GENERATOR = Path(__file__).resolve().parent.parent / "benchmarks" / "generate_sessions.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_sessions", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sessions_verify_and_add_up(app):
    generator = load_generator()
    url = app.config["DATABASE"] if db.is_postgresql(app.config["DATABASE"]) else None
    result = generator.generate(Path(app.instance_path), 1000, days=60, seed=3, database_url=url)
    assert result["sessions"] == 1000 and result["events"] >= 3000
    database = db.connect(app.config["DATABASE"])
    try:
        key = create_app(instance_path=app.instance_path).extensions["teller_guard"]["ledger_key"]
        assert audit.verify_chain(database, key)[1] == []
        assert integrity.check_sessions(database, key) == (1000, [])  # digests too
        queued = database.execute("SELECT count(*) FROM sessions WHERE in_queue = 1").fetchone()[0]
        assert 50 < queued < 300
        closed = database.execute(
            "SELECT count(*) FROM sessions WHERE review_status IN "
            "('confirmed_fraud', 'dissuaded', 'false_alarm', 'police_handled')").fetchone()[0]
        assert closed > 0
        assert database.execute("SELECT count(*) FROM pii_vault").fetchone()[0] == 3 * queued
        fast, slow = stats.compute(database, None, None), stats.compute_from_sessions(database, None, None)
        assert fast.total == slow.total == 1000
        assert sorted(fast.durations) == sorted(slow.durations)
        # a second run adds to the same instance and still verifies
        generator.generate(Path(app.instance_path), 50, days=5, seed=4, database_url=url)
        assert integrity.check_sessions(database, key) == (1050, [])
        assert audit.verify_chain(database, key)[1] == []
    finally:
        database.conn.close()
