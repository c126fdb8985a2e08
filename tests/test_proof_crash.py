"""Crash durability: kill -9 the real server mid-load; every screening it answered 201 survives.

`teller-guard serve` runs as a subprocess on a temporary instance (API token created before the
start); several threads post complete screenings through POST /api/v1/screenings; the server
is killed with SIGKILL while requests are in flight, twice, and restarted each time. Then every
acknowledged screening must be stored and complete (level and score on its sessions row, its
screening.assessed ledger event), no API screening may be half written, PRAGMA integrity_check
must be ok and the ledger's hash chain must verify with the instance's key.

A SIGKILL loses what the process had not handed to the OS; a power cut would also lose what the
OS had not written to disk, which synchronous=FULL covers and a test cannot cut.
"""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest
from proof_helpers import LiveServer, copy_instance, create_token, database_path, ledger_key, post_json

from teller_guard import audit, db

CLIENTS = 6
MIN_ACKNOWLEDGED_BEFORE_KILL = 60
MAX_LOAD_SECONDS = 12

FACTS = {"amount": "3000", "channel": "counter_transfer", "payee_name": "王小明",
         "payee_province": "河北省", "payee_type": "personal", "payee_known": "known",
         "customer_age": 45}
BENIGN = {"teller": "teller", "answers": {"purpose": "family_living", "knows_payee": "in_person",
                                          "relationship": "family"},
          "three_checks": {"paying_stranger": False, "possibly_scam": "no"}}
SAFE_ACCOUNT = {
    "teller": "teller",
    "answers": {"purpose": "safe_account", "purpose_text": "公安说要转到安全账户配合调查",
                "knows_payee": "phone_only", "relationship": "stranger", "use_confirmed": True,
                "destination_text": "安全账户", "verified_by_phone": False},
    "three_checks": {"paying_stranger": True, "possibly_scam": "no", "family_consulted": False},
    "observations": ["on_phone"],
}


def screening(round_no: int, client: int, number: int) -> dict:
    risky = number % 5 == 0
    facts = {**FACTS, "payee_account": f"9{round_no}{client:02d}{number:012d}"}
    if risky:
        facts.update(amount="20万", payee_known="new", customer_age=66, payee_province="广东省")
    return {**(SAFE_ACCOUNT if risky else BENIGN), "facts": facts}


def load_then_kill(server: LiveServer, token: str, round_no: int) -> tuple[dict, list]:
    """Post from CLIENTS threads; SIGKILL the server mid-load. Returns ({id: reference} of
    every 201, [unexpected responses])."""
    acknowledged: dict[int, str] = {}
    unexpected: list = []
    lock, stop = threading.Lock(), threading.Event()

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        number = 0
        while not stop.is_set():
            number += 1
            body = json.dumps(screening(round_no, index, number), ensure_ascii=False)
            try:
                conn.request("POST", "/api/v1/screenings", body.encode("utf-8"),
                             {"Content-Type": "application/json",
                              "Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone: this request was never acknowledged
            with lock:
                if response.status == 201:
                    reply = json.loads(data)
                    acknowledged[reply["id"]] = reply["reference"]
                else:
                    unexpected.append((response.status, data[:300]))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + MAX_LOAD_SECONDS
    while len(acknowledged) < MIN_ACKNOWLEDGED_BEFORE_KILL * round_no and \
            time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # requests are in flight: every client is mid-loop
    stop.set()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)
    return acknowledged, unexpected


@pytest.mark.slow
def test_kill_9_mid_load_loses_no_acknowledged_screening(tmp_path, template_instance):
    instance = copy_instance(template_instance, tmp_path / "instance")
    token = create_token(instance)
    server = LiveServer(instance, threads=8)
    acknowledged: dict[int, str] = {}
    try:
        for round_no in (1, 2):
            server.start()
            got, unexpected = load_then_kill(server, token, round_no)
            assert not unexpected, unexpected[:5]
            acknowledged.update(got)
        assert len(acknowledged) >= MIN_ACKNOWLEDGED_BEFORE_KILL, server.log()

        server.start()  # recovery after the second kill: the server comes back and works
        status, reply = post_json(server.url + "/api/v1/screenings", screening(3, 0, 1), token)
        assert status == 201, reply
        acknowledged[reply["id"]] = reply["reference"]
    finally:
        server.stop()

    database = db.connect(database_path(instance))
    try:
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {row[0]: row[1:] for row in database.execute(
            "SELECT id, reference, status, level, score FROM sessions")}
        assessed = {row[0] for row in database.execute(
            "SELECT DISTINCT session_id FROM ledger WHERE kind = 'screening.assessed'")}
        missing = [(session_id, reference) for session_id, reference in acknowledged.items()
                   if session_id not in rows or rows[session_id][0] != reference]
        assert not missing, f"{len(missing)} acknowledged screenings lost: {missing[:5]}"
        incomplete = [session_id for session_id in acknowledged
                      if rows[session_id][1] != "assessed" or rows[session_id][2] is None
                      or rows[session_id][3] is None or session_id not in assessed]
        assert not incomplete, f"acknowledged but incomplete: {incomplete[:5]}"
        # An API screening is written in one transaction: none is left half done.
        half_done = [session_id for session_id, row in rows.items()
                     if row[2] is None or session_id not in assessed]
        assert not half_done, f"sessions without their assessment: {half_done[:5]}"
        checked, problems = audit.verify_chain(database, ledger_key(instance))
        assert not problems, [problem.describe() for problem in problems[:5]]
        assert checked >= 2 * len(acknowledged)
    finally:
        database.conn.close()
