"""Anchors outside the database: `teller-guard anchor`, the daily anchor of `serve`, sending
to ALERT_ENDPOINT, and `verify` finding a rollback to an older copy or a tampered anchor file."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from printing_web_helpers import make_session
from proof_helpers import LiveServer
from test_printing_web_outbox import Receiver

from teller_guard import anchor, db
from teller_guard.cli import main
from teller_guard.printing_web import outbox


@pytest.fixture
def anchors(tmp_path, monkeypatch):
    folder = tmp_path / "anchors"  # beside the instance folder, not inside it
    monkeypatch.setenv("TELLER_GUARD_ANCHOR_DIR", str(folder))
    return folder


def key_of(app) -> bytes:
    return app.extensions["teller_guard"]["ledger_key"]


def screen(app, count=1):
    database = db.connect(app.config["DATABASE"])
    try:
        return [make_session(app, database, "critical") for _ in range(count)]
    finally:
        database.conn.close()


def run(runner, app, *args):
    result = runner.invoke(main, [*args, "--instance", app.instance_path])
    assert "Traceback" not in result.output
    return result


def anchor_lines(app, folder) -> list[str]:
    return anchor.anchor_file(folder, key_of(app)).read_text(encoding="ascii").splitlines()


def copy_database(app, destination):
    """An older copy, as any backup is: the database and nothing of its WAL left over."""
    source = sqlite3.connect(app.config["DATABASE"])
    target = sqlite3.connect(destination)
    source.backup(target)
    target.close()
    source.close()


def restore(app, copy):
    path = app.config["DATABASE"]
    for suffix in ("-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    shutil.copyfile(copy, path)


def test_anchor_appends_the_head_with_an_hmac(runner, app, anchors):
    screen(app)
    result = run(runner, app, "anchor")
    assert result.exit_code == 0, result.output
    assert "已写入锚点 #1" in result.output
    conn = sqlite3.connect(app.config["DATABASE"])
    # the anchored row is the chain.anchored event itself: the head when the line was written
    last_id, last_hash, kind, data = conn.execute(
        "SELECT id, hash, kind, data FROM ledger ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    (line,) = anchor_lines(app, anchors)
    entry = json.loads(line)
    assert (entry["seq"], entry["last_id"], entry["last_hash"]) == (1, last_id, last_hash)
    assert len(entry["mac"]) == 64 and entry["prev"] == ""
    assert kind == "chain.anchored" and json.loads(data) == {"seq": 1, "anchored_at": entry["at"]}
    assert run(runner, app, "anchor").exit_code == 0
    second = json.loads(anchor_lines(app, anchors)[1])
    assert second["seq"] == 2 and second["prev"] == entry["mac"]
    verified = run(runner, app, "verify")
    assert verified.exit_code == 0, verified.output
    assert "锚点 2 个，问题 0 处" in verified.output and "[提示]" not in verified.output


def test_a_rollback_to_an_older_copy_is_found(runner, app, anchors, tmp_path):
    screen(app)
    assert run(runner, app, "anchor").exit_code == 0
    copy_database(app, tmp_path / "older.db")  # e.g. last night's backup
    screen(app, 2)
    assert run(runner, app, "anchor").exit_code == 0
    restore(app, tmp_path / "older.db")  # the tail and its head rolled back together
    result = run(runner, app, "verify")
    assert result.exit_code == 1, result.output
    assert "早于最新锚点 #2" in result.output and "数据库被回滚到旧副本 (rollback)" in result.output
    # the copy's own chain is intact: only the anchors show it
    assert "账本 " in result.output and "问题 0 处；业务" in result.output


def test_a_rolled_back_chain_that_grew_again_is_found(runner, app, anchors, tmp_path):
    screen(app)
    copy_database(app, tmp_path / "older.db")
    screen(app, 3)
    assert run(runner, app, "anchor").exit_code == 0
    restore(app, tmp_path / "older.db")
    screen(app, 6)  # new rows past the anchored ids
    # …and the bank's chain grows again too, past the anchored chain.anchored row: a branch
    # chain's replayed screenings can be byte for byte what was anchored (same data, same
    # second), the anchor's own row cannot.
    assert run(runner, app, "anchor").exit_code == 0
    result = run(runner, app, "verify")
    assert result.exit_code == 1, result.output
    assert "与锚点不同：账本被回滚或替换 (rollback)" in result.output


def test_without_anchor_dir_a_rollback_passes_with_a_warning(runner, app, tmp_path):
    screen(app)
    copy_database(app, tmp_path / "older.db")
    screen(app, 2)
    restore(app, tmp_path / "older.db")
    result = run(runner, app, "verify")
    assert result.exit_code == 0
    assert f"[提示] {anchor.NOT_ANCHORED}" in result.output
    refused = run(runner, app, "anchor")
    assert refused.exit_code == 1 and "未配置 ANCHOR_DIR" in refused.output


def test_a_forged_anchor_line_is_found(runner, app, anchors):
    screen(app)
    assert run(runner, app, "anchor").exit_code == 0
    path = anchor.anchor_file(anchors, key_of(app))
    entry = json.loads(path.read_text(encoding="ascii"))
    entry["last_id"] -= 1  # make an older head look anchored
    path.write_text(json.dumps(entry) + "\n", encoding="ascii")
    result = run(runner, app, "verify")
    assert result.exit_code == 1
    assert "锚点文件第 1 行的校验码不符或无法读取：该行被伪造或改动 (forged)" in result.output
    # the ledger says anchor #1 was written: missing from the file now (by itself it hides
    # nothing, as the ledger is there: a warning)
    assert "[提示] 账本记录的锚点 #1" in result.output


def test_deleted_anchor_lines_are_found(runner, app, anchors):
    for _ in range(3):
        screen(app)
        assert run(runner, app, "anchor").exit_code == 0
    path = anchor.anchor_file(anchors, key_of(app))
    lines = path.read_text(encoding="ascii").splitlines()
    path.write_text(lines[0] + "\n" + lines[2] + "\n", encoding="ascii")
    result = run(runner, app, "verify")
    assert result.exit_code == 1
    assert "锚点文件第 2 行（锚点 #3）之前的锚点被删除或改动 (deleted)" in result.output
    assert "[提示] 账本记录的锚点 #2" in result.output
    path.unlink()
    result = run(runner, app, "verify")
    assert result.exit_code == 1
    assert "不存在，但账本记录已写过 3 个锚点：锚点文件被删除 (deleted)" in result.output


@pytest.mark.parametrize("command", ["verify", "anchor", "serve"])
def test_an_anchor_dir_inside_the_instance_is_refused(runner, app, monkeypatch, command):
    monkeypatch.setenv("TELLER_GUARD_ANCHOR_DIR", str(app.instance_path) + "/anchors")
    result = run(runner, app, command)
    assert result.exit_code == 2, result.output
    assert "配置错误: ANCHOR_DIR" in result.output and "位于实例目录或数据库目录" in result.output


def test_the_daily_anchor_writes_once_a_day(app, anchors):
    screen(app)
    daily = anchor.DailyAnchor(app.config["DATABASE"], key_of(app), anchors, app.config)
    first = daily.run_once()
    assert first is not None and first.seq == 1
    assert daily.run_once() is None  # today's is written
    # an anchor from yesterday does not count for today
    anchor.anchor_file(anchors, key_of(app)).unlink()
    yesterday = datetime.now() - timedelta(days=1)
    anchor.write(app.config["DATABASE"], key_of(app), anchors, app.config, now=yesterday)
    assert daily.run_once() is not None
    assert len(anchor_lines(app, anchors)) == 2


def test_serve_anchors_at_start(tmp_path, app, anchors):
    screen(app)
    instance = Path(app.instance_path)
    (instance / "config.toml").write_text(
        f'anchor_dir = "{anchors}"\nsend_outbox_in_background = false\n', encoding="utf-8")
    server = LiveServer(instance).start()
    try:
        path = anchor.anchor_file(anchors, key_of(app))
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.exists(), server.log()
        assert json.loads(path.read_text(encoding="ascii").splitlines()[0])["seq"] == 1
    finally:
        server.stop()


def test_with_an_alert_endpoint_the_anchor_is_sent_too(runner, app, anchors, monkeypatch):
    receiver = Receiver()
    receiver.thread.start()
    try:
        monkeypatch.setenv("TELLER_GUARD_ALERT_ENDPOINT", receiver.url)
        monkeypatch.setenv("TELLER_GUARD_ALERT_ALLOW_HTTP", "true")
        monkeypatch.setenv("TELLER_GUARD_SEND_OUTBOX_IN_BACKGROUND", "false")
        screen(app)
        result = run(runner, app, "anchor")
        assert result.exit_code == 0 and "已排队发送到 ALERT_ENDPOINT" in result.output
        sent = run(runner, app, "send-alerts")
        assert sent.exit_code == 0, sent.output
        (request,) = receiver.requests
        line = json.loads(anchor_lines(app, anchors)[0])
        assert request["body"] == {"type": outbox.KIND_CHAIN_ANCHOR, **line}
        assert request["key"].endswith("-anchor-1")
        conn = sqlite3.connect(app.config["DATABASE"])
        kinds = [row[0] for row in conn.execute("SELECT kind FROM ledger ORDER BY id DESC LIMIT 2")]
        conn.close()
        assert kinds == ["anchor.sent", "chain.anchored"]
        assert run(runner, app, "verify").exit_code == 0
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
