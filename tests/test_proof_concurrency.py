"""50 tellers at once against the real server: full screenings, nothing lost, nothing doubled.

Each teller is a thread with its own cookie jar (its own logged-in session) against
`teller-guard serve` in a subprocess, doing complete flows — 新建问询 → 五必问/三是否 → result →
outcome — until the time is up (TELLER_GUARD_PROOF_SECONDS, 20 s by default; a flow under way
is finished). Then: no 5xx and no "database is locked" anywhere, every flow's session stored
exactly once and finished, references unique, the ledger verifies.
"""

from __future__ import annotations

import os

import pytest
from proof_helpers import LiveServer, copy_instance, database_path, ledger_key
from teller_load import add_tellers, check_stored, run_tellers

from teller_guard import create_app, db

TELLERS = 50
SECONDS = float(os.environ.get("TELLER_GUARD_PROOF_SECONDS", "20"))


@pytest.fixture(scope="module")
def instance(tmp_path_factory, template_instance):
    """The template instance plus 50 tellers."""
    path = copy_instance(template_instance, tmp_path_factory.mktemp("concurrency") / "instance")
    app = create_app(instance_path=path)
    database = db.connect(app.config["DATABASE"])
    with pytest.MonkeyPatch.context() as patch:
        add_tellers(database, app.extensions["teller_guard"]["ledger_key"], TELLERS, patch)
    database.conn.close()
    return path


@pytest.mark.slow
def test_fifty_tellers_at_once(instance):
    server = LiveServer(instance, threads=8).start()
    try:
        tellers = run_tellers(server.url, TELLERS, SECONDS)
    finally:
        server.stop()

    database = db.connect(database_path(instance))
    try:
        flows, checked = check_stored(database, tellers, ledger_key(instance))
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        database.conn.close()
    log = server.log()
    assert "Traceback" not in log and "database is locked" not in log, log
    print(f"{TELLERS} tellers, {SECONDS:g} s: {flows} screenings, {checked} ledger rows")
