"""Crash durability on PostgreSQL: every screening answered 201 survives a gunicorn worker
killed with SIGKILL, PostgreSQL stopped at once (as a crash) and started again, and the whole
gunicorn server killed, each while requests are in flight. A worker is also killed while
PostgreSQL is down, so its replacement starts without a database: it waits, and the server
goes on once PostgreSQL is back.

gunicorn runs `teller_guard.wsgi:app` with two workers against a PostgreSQL server of the
test's own (tests/postgres_support.Cluster: initdb in a temporary folder), so crashing the
server never touches the shared one. Six clients post complete screenings through
POST /api/v1/screenings the whole time, reconnecting after a lost connection. While PostgreSQL
is away the app answers 503 (nothing saved: the teller resubmits); any other error fails the
test. Afterwards every acknowledged screening must be stored and complete (level and score on
its sessions row, its screening.assessed event), no API screening half written, and the
ledger's hash chain must verify.
"""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time

import pytest
from postgres_support import Cluster, server_url
from proof_helpers import LOAD_CONFIG, GunicornServer, ledger_key, post_json
from test_proof_crash import screening

from teller_guard import api_tokens, audit, create_app, db, settings, storage, users

CLIENTS = 6
STEP = 40  # screenings acknowledged before each crash, and after it before the next
MAX_WAIT_SECONDS = 60


class Load:
    """CLIENTS threads posting screenings until stopped; a client whose connection breaks
    (its worker or the server killed) opens a new one and goes on."""

    def __init__(self, server: GunicornServer, token: str, round_no: int):
        self.server, self.token, self.round_no = server, token, round_no
        self.acknowledged: dict[int, str] = {}
        self.unexpected: list = []
        self.unavailable = 0
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(CLIENTS)]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def _client(self, index: int) -> None:
        conn, number = None, 0
        while not self._stop.is_set():
            number += 1
            body = json.dumps(screening(self.round_no, index, number), ensure_ascii=False)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
                conn.request("POST", "/api/v1/screenings", body.encode("utf-8"),
                             {"Content-Type": "application/json",
                              "Authorization": f"Bearer {self.token}"})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                if conn is not None:  # this request was never acknowledged
                    conn.close()
                conn = None
                time.sleep(0.05)
                continue
            with self._lock:
                if response.status == 201:
                    reply = json.loads(data)
                    self.acknowledged[reply["id"]] = reply["reference"]
                elif response.status == 503:  # PostgreSQL away: nothing saved, resubmit
                    self.unavailable += 1
                else:
                    self.unexpected.append((response.status, data[:300]))
        if conn is not None:
            conn.close()

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            assert not self.unexpected, self.unexpected[:5]
            time.sleep(0.02)
        assert len(self.acknowledged) >= count, (len(self.acknowledged), self.server.log())

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in self._threads)


def prepare(url: str, instance) -> str:
    """Schema, branch settings, the teller and an API token; returns the token."""
    app = create_app({"DATABASE_URL": url, "SEND_OUTBOX_IN_BACKGROUND": False},
                     instance_path=instance)
    db.prepare(url)
    database = db.connect(url)
    try:
        key = app.extensions["teller_guard"]["ledger_key"]
        settings.save(database, key, settings.DEMO_SETTINGS)
        users.create_user(database, key, "teller", "teller-pass-1", "teller", "柜员", "T01",
                          must_change=False)
        with storage.transaction(database):
            from teller_guard import pii_key

            pii_key.check_unchanged(database, app.extensions["teller_guard"]["pii_key"])
        return api_tokens.create(database, key, "proof", actor_id=None)[1]
    finally:
        database.conn.close()


@pytest.fixture
def cluster():
    server_url()  # like every PostgreSQL test: skipped (or failed on CI) without one
    cluster = Cluster().start()
    yield cluster
    cluster.remove()


@pytest.mark.slow
def test_crashes_of_workers_server_and_postgresql_lose_no_acknowledged_screening(
        tmp_path, template_instance, cluster):
    url = cluster.url()
    instance = tmp_path / "instance"
    shutil.copytree(template_instance, instance)
    for leftover in instance.glob("teller_guard.db*"):
        leftover.unlink()
    (instance / "config.toml").write_text(LOAD_CONFIG, encoding="utf-8")
    token = prepare(url, instance)
    server = GunicornServer(instance, url, workers=2).start()
    acknowledged: dict[int, str] = {}
    unavailable = 0
    try:
        load = Load(server, token, 1).start()
        load.wait_for(STEP)
        killed = server.kill_worker()  # requests are in flight on both workers
        load.wait_for(2 * STEP)  # the other worker and the one started in its place go on
        assert killed not in server.worker_pids()

        cluster.crash()  # PostgreSQL stops at once, mid-load
        server.kill_worker()  # its replacement starts while PostgreSQL is away: it waits
        time.sleep(2)
        cluster.start()  # recovery replays the WAL; the workers reconnect
        load.wait_for(len(load.acknowledged) + STEP)
        assert server.process.poll() is None and len(server.worker_pids()) == 2
        load.stop()
        assert not load.unexpected, load.unexpected[:5]
        acknowledged.update(load.acknowledged)
        unavailable += load.unavailable

        load = Load(server, token, 2).start()
        load.wait_for(STEP)
        server.kill()  # master and workers, SIGKILL at once
        load.stop()
        acknowledged.update(load.acknowledged)
        assert not load.unexpected, load.unexpected[:5]

        server.start()  # and it serves again
        status, reply = post_json(server.url + "/api/v1/screenings", screening(3, 0, 1), token)
        assert status == 201, reply
        acknowledged[reply["id"]] = reply["reference"]
    finally:
        server.stop()

    database = db.connect(url)
    try:
        rows = {row[0]: tuple(row[1:]) for row in database.execute(
            "SELECT id, reference, status, level, score FROM sessions").fetchall()}
        assessed = {row[0] for row in database.execute(
            "SELECT DISTINCT session_id FROM ledger WHERE kind = 'screening.assessed'"
        ).fetchall()}
        missing = [(session_id, reference) for session_id, reference in acknowledged.items()
                   if session_id not in rows or rows[session_id][0] != reference]
        assert not missing, f"{len(missing)} acknowledged screenings lost: {missing[:5]}"
        incomplete = [session_id for session_id in acknowledged
                      if rows[session_id][1] != "assessed" or rows[session_id][2] is None
                      or rows[session_id][3] is None or session_id not in assessed]
        assert not incomplete, f"acknowledged but incomplete: {incomplete[:5]}"
        half_done = [session_id for session_id, row in rows.items()
                     if row[2] is None or session_id not in assessed]
        assert not half_done, f"sessions without their assessment: {half_done[:5]}"
        checked, problems = audit.verify_chain(database, ledger_key(instance))
        assert not problems, [problem.describe() for problem in problems[:5]]
        assert checked >= 2 * len(acknowledged)
    finally:
        database.conn.close()
    log = server.log()
    assert "Traceback" not in log, log
    print(f"{len(acknowledged)} acknowledged, {len(rows)} stored, {unavailable} answered 503 "
          f"while PostgreSQL was away, {checked} ledger rows")
