"""A full disk (issue 13, item 10): writes answer 503 with a Chinese message (JSON on the API),
the log gets one line a minute rather than a traceback a request, reads go on, writes resume by
themselves when space returns, and `serve --demo` starts anyway.

No disk is filled: every connection the app opens gets PRAGMA max_page_count, and a filler
table takes the pages up to it, so SQLite raises its real SQLITE_FULL.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from conftest import csrf_token
from screening_helpers import BENIGN_FACTS

from teller_guard import api_tokens, db, disk_full
from teller_guard.cli import main

MESSAGE = "磁盘空间不足，暂时无法保存"


class Disk:
    """The database file as if on a disk that is full (fill) or has room again (free)."""

    def __init__(self, path: str):
        self.path = path
        self.limit: int | None = None

    def fill(self) -> None:
        # Each INSERT commits by itself: SQLITE_FULL rolls back the whole transaction.
        conn = sqlite3.connect(self.path, isolation_level=None)
        size = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {size + 100}")
        conn.execute("CREATE TABLE filler (b BLOB)")
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            while True:
                conn.execute("INSERT INTO filler VALUES (randomblob(3000))")
        self.limit = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.close()
        # The connection this thread kept from an earlier request was opened with no limit.
        idle = getattr(db._idle, "connection", None)
        if idle is not None:
            idle[1].conn.close()
            db._idle.connection = None

    def free(self) -> None:
        conn = sqlite3.connect(self.path)
        conn.execute("DROP TABLE filler")  # its pages are free again, inside the limit
        conn.close()


@pytest.fixture
def disk(app, monkeypatch):
    full = Disk(app.config["DATABASE"])
    real_connect = db.connect

    def connect(path):
        database = real_connect(path)
        if full.limit is not None:
            database.conn.execute(f"PRAGMA max_page_count = {full.limit}")
        return database

    monkeypatch.setattr(db, "connect", connect)
    monkeypatch.setattr(disk_full, "throttle", disk_full.LogThrottle())
    return full


def post_until_refused(client, attempts=40):
    """Writes that still fit in a page's free space succeed; the first that needs a new page
    is refused (the same state gives the same answer every run)."""
    for _ in range(attempts):
        response = client.post("/screening/new", data={
            **BENIGN_FACTS, "csrf_token": csrf_token(client, "/screening/new")})
        if response.status_code != 302:
            return response
    raise AssertionError("the disk never filled up")


def test_a_full_disk_refuses_writes_keeps_reads_and_recovers(client, auth, disk, caplog):
    auth.login("teller")
    disk.fill()
    with caplog.at_level(logging.ERROR):
        refused = post_until_refused(client)
        assert refused.status_code == 503
        html = refused.get_data(as_text=True)
        assert MESSAGE in html and "此前已保存的内容没有丢失" in html and "Traceback" not in html
        assert refused.headers["Retry-After"] == "60"
        for _ in range(3):  # still full: refused again, and not logged again
            assert post_until_refused(client).status_code == 503
        mine = client.get("/screening/")  # reads are served
        assert mine.status_code == 200 and "我的问询" in mine.get_data(as_text=True)
    logged = [record for record in caplog.records if "disk full" in record.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is None
    assert not [record for record in caplog.records if record.exc_info]
    disk.free()  # space returns: the next write goes through, nothing to restart
    response = client.post("/screening/new", data={
        **BENIGN_FACTS, "csrf_token": csrf_token(client, "/screening/new")})
    assert response.status_code == 302


def test_the_api_answers_503_json_on_a_full_disk(app, client, disk):
    connection = db.connect(app.config["DATABASE"])
    _, token = api_tokens.create(connection, app.extensions["teller_guard"]["ledger_key"],
                                 "核心系统", actor_id=None)
    connection.conn.close()
    disk.fill()
    body = {"teller": "teller", "facts": {**BENIGN_FACTS, "customer_age": 45},
            "answers": {"purpose": "family_living", "knows_payee": "in_person",
                        "relationship": "family"},
            "three_checks": {"paying_stranger": False, "possibly_scam": "no"}}
    for _ in range(40):
        response = client.post("/api/v1/screenings", json=body,
                               headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 201:
            break
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == 503
    assert MESSAGE in response.get_json()["error"]["message"]


def test_the_log_says_it_once_a_minute_with_the_count():
    now = [1000.0]
    throttle = disk_full.LogThrottle(every=60, clock=lambda: now[0])
    logger = logging.getLogger("test_disk_full")
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        for _ in range(3):
            throttle.note(logger, "POST /screening/new")
        now[0] += 59
        throttle.note(logger, "POST /screening/new")
        now[0] += 2
        throttle.note(logger, "POST /api/v1/screenings")
    finally:
        logger.removeHandler(handler)
    assert len(messages) == 2
    assert messages[0].startswith("disk full: 1 write(s) refused")
    assert messages[1].startswith("disk full: 4 write(s) refused") and "api" in messages[1]


def test_serve_demo_starts_on_a_full_disk(runner, app, disk, monkeypatch):
    import waitress

    served = []
    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: served.append(kwargs))
    disk.fill()
    result = runner.invoke(main, ["serve", "--demo", "--instance", app.instance_path])
    assert result.exit_code == 0, result.output
    assert "磁盘空间不足" in result.output and "服务照常启动" in result.output
    assert served, "the server was not started"
