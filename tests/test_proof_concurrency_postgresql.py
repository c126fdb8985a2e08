"""50 tellers at once against two gunicorn worker processes on one PostgreSQL database: full
screenings through the web pages, nothing lost, nothing doubled (tests/teller_load.py).

`gunicorn -w 2 … teller_guard.wsgi:app` in a subprocess; the tellers screen for
TELLER_GUARD_PROOF_SECONDS (5 s by default here, to keep the suite's time in bounds; the
SQLite proof takes 20 s and `benchmarks/bench_throughput.py --backend postgresql` loads the
PostgreSQL server for longer). Then: no 5xx, every flow's session stored exactly once and
finished, references unique, the ledger verifies.
"""

from __future__ import annotations

import os

import pytest
from postgres_support import create_database, drop_database
from proof_helpers import LOAD_CONFIG, GunicornServer, ledger_key
from teller_load import add_tellers, check_stored, run_tellers

from teller_guard import create_app, db, settings

TELLERS = 50
SECONDS = float(os.environ.get("TELLER_GUARD_PROOF_SECONDS", "5"))


@pytest.fixture
def instance_and_url(tmp_path, template_instance, monkeypatch):
    import shutil

    url = create_database("tg_concurrency")
    instance = tmp_path / "instance"
    shutil.copytree(template_instance, instance)
    for leftover in instance.glob("teller_guard.db*"):
        leftover.unlink()
    (instance / "config.toml").write_text(LOAD_CONFIG, encoding="utf-8")
    app = create_app({"DATABASE_URL": url, "SEND_OUTBOX_IN_BACKGROUND": False},
                     instance_path=instance)
    db.prepare(url)
    database = db.connect(url)
    try:
        key = app.extensions["teller_guard"]["ledger_key"]
        settings.save(database, key, settings.DEMO_SETTINGS)
        add_tellers(database, key, TELLERS, monkeypatch)
    finally:
        database.conn.close()
    yield instance, url
    drop_database(url)


@pytest.mark.slow
def test_fifty_tellers_on_two_processes(instance_and_url):
    instance, url = instance_and_url
    server = GunicornServer(instance, url, workers=2, threads=8).start()
    try:
        tellers = run_tellers(server.url, TELLERS, SECONDS)
        served_by = len(server.worker_pids())
    finally:
        server.stop()
    assert served_by == 2

    database = db.connect(url)
    try:
        flows, checked = check_stored(database, tellers, ledger_key(instance))
    finally:
        database.conn.close()
    log = server.log()
    assert "Traceback" not in log and "unhandled error" not in log, log
    print(f"{TELLERS} tellers on 2 processes, {SECONDS:g} s: {flows} screenings, "
          f"{checked} ledger rows")
