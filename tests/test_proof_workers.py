"""serve --workers 2: two server processes on one port store every screening exactly once,
queue their writers on one lock (the chain stays intact), and stop together."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest
from proof_helpers import (
    LiveServer,
    copy_instance,
    create_token,
    database_path,
    free_port,
    ledger_key,
    post_json,
    serve_command,
)

from teller_guard import audit, db

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT workers: Linux")]

BODY = {"teller": "teller",
        "facts": {"amount": "3000", "payee_type": "personal", "payee_known": "known",
                  "customer_age": 45},
        "answers": {"purpose": "family_living", "knows_payee": "in_person",
                    "relationship": "family"},
        "three_checks": {"paying_stranger": False, "possibly_scam": "no"}}


def children_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def wait_for_workers(server, count: int = 2) -> list[int]:
    """The worker pids once `count` have started (or what there is after 10 s)."""
    deadline = time.monotonic() + 10
    while len(children_of(server.process.pid)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return children_of(server.process.pid)


def test_two_workers_share_the_port_and_the_chain(tmp_path, template_instance):
    instance = copy_instance(template_instance, tmp_path / "instance")
    token = create_token(instance)
    server = LiveServer(instance, threads=4, workers=2).start()
    try:
        workers = wait_for_workers(server)
        assert len(workers) == 2
        statuses = []

        def client(number):
            for index in range(15):
                body = {**BODY, "facts": {**BODY["facts"],
                                          "payee_account": f"6222{number:04d}{index:08d}"}}
                statuses.append(post_json(server.url + "/api/v1/screenings", body, token)[0])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [201] * 90
    finally:
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(15)
    assert code == 0, server.log()
    assert all(not _alive(pid) for pid in workers)
    database = db.connect(database_path(instance))
    try:
        assert database.execute("SELECT count(*) FROM sessions").fetchone()[0] == 90
        count, problems = audit.verify_chain(database, ledger_key(instance))
        assert problems == [] and count >= 180
    finally:
        database.conn.close()


def test_the_rate_limit_is_one_count_for_all_workers(tmp_path, template_instance):
    """Each request is a new connection, which the kernel gives to either worker: counted per
    worker, 16 requests against a limit of 8 would mostly pass."""
    instance = copy_instance(template_instance, tmp_path / "instance")
    (instance / "config.toml").write_text(
        "api_rate_limit_per_minute = 8\nsend_outbox_in_background = false\n", encoding="utf-8")
    token = create_token(instance)
    server = LiveServer(instance, threads=2, workers=2).start()
    # The count is a sliding minute estimated from whole minutes: right after a minute turns,
    # last minute's count starts to fade and one more request may pass. Start early in one.
    if time.time() % 60 > 45:
        time.sleep(60.5 - time.time() % 60)
    try:
        statuses = []
        for index in range(16):
            body = {**BODY, "facts": {**BODY["facts"], "payee_account": f"62220000{index:08d}"}}
            statuses.append(post_json(server.url + "/api/v1/screenings", body, token)[0])
    finally:
        server.stop()
    assert sorted(statuses) == [201] * 8 + [429] * 8


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_do_not_outlive_a_killed_parent(tmp_path, template_instance):
    instance = copy_instance(template_instance, tmp_path / "instance")
    server = LiveServer(instance, threads=2, workers=2).start()
    workers = wait_for_workers(server)
    server.kill()  # SIGKILL: the parent cannot forward anything
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def test_a_worker_whose_parent_died_during_its_start_exits(tmp_path, template_instance):
    """The parent killed before the worker started watching: the worker has already been
    handed to another process, which it must not take for its parent."""
    instance = copy_instance(template_instance, tmp_path / "instance")
    dead_parent = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_parent.wait()
    worker = subprocess.Popen([*serve_command(), "--instance", str(instance), "--port",
                               str(free_port()), "--worker-of", str(dead_parent.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert worker.wait(20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def test_workers_run_the_same_package_whatever_the_current_directory(tmp_path, template_instance,
                                                                    monkeypatch):
    """Started from a folder holding another teller_guard/ (an old checkout, say), the workers
    still import the package the parent runs."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "teller_guard").mkdir(parents=True)
    (elsewhere / "teller_guard" / "__init__.py").write_text("raise SystemExit('the wrong teller_guard')\n")
    monkeypatch.chdir(elsewhere)
    instance = copy_instance(template_instance, tmp_path / "instance")
    token = create_token(instance)
    server = LiveServer(instance, threads=2, workers=2).start()
    try:
        wait_for_workers(server)
        time.sleep(1)  # a worker importing the wrong package would have exited by now
        assert server.process.poll() is None, server.log()
        assert len(children_of(server.process.pid)) == 2
        body = {**BODY, "facts": {**BODY["facts"], "payee_account": "6222000011112222"}}
        status, reply = post_json(server.url + "/api/v1/screenings", body, token)
        assert status == 201, reply
    finally:
        server.stop()
