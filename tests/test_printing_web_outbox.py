"""The police alert outbox: delivery to a local HTTP receiver that fails, hangs and recovers."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import csrf_token
from printing_web_helpers import events, make_session, session_row

from teller_guard import create_app, db
from teller_guard.cli import main
from teller_guard.printing_web import outbox

pytestmark = pytest.mark.both_backends


TIMEOUT = 0.3  # ALERT_TIMEOUT_SECONDS in these tests
HANG = 1.0  # how long a "hang" answer takes: longer than the timeout


class Receiver:
    """A police endpoint that dedupes by Idempotency-Key, like the real one should.

    `script` lists how to answer the next requests: "fail" (500), "hang" (store the alert,
    then answer too late) or "ok"; when empty, it answers ok.
    """

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.script: list[str] = []
        self.requests: list[dict] = []  # every POST: key, content type, parsed body
        self.stored: dict[str, dict] = {}  # idempotency key -> payload, each alert once
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers.get("Idempotency-Key")
                with receiver.lock:
                    receiver.requests.append({
                        "key": key, "content_type": self.headers.get("Content-Type"),
                        "authorization": self.headers.get("Authorization"),
                        "client": _common_name(self.connection), "body": json.loads(body)})
                    behaviour = receiver.script.pop(0) if receiver.script else "ok"
                    if behaviour != "fail":
                        receiver.stored.setdefault(key, json.loads(body))
                if behaviour == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                if behaviour == "hang":
                    time.sleep(HANG)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"received": true}')
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def keys(self) -> list[str]:
        with self.lock:
            return [request["key"] for request in self.requests]


def _common_name(connection) -> str | None:
    """The CN of the client certificate a TLS connection presented."""
    peer = connection.getpeercert() if isinstance(connection, ssl.SSLSocket) else None
    for entry in (peer or {}).get("subject", ()):
        for name, value in entry:
            if name == "commonName":
                return value
    return None


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def configured(app, receiver):
    app.config.update(ALERT_ENDPOINT=receiver.url, ALERT_ALLOW_HTTP=True,
                      ALERT_TIMEOUT_SECONDS=TIMEOUT)
    return app


def print_alerts(client, auth, session_ids):
    auth.login("supervisor")
    for session_id in session_ids:
        token = csrf_token(client, f"/print/{session_id}/alert")
        assert client.post(f"/print/{session_id}/alert.pdf",
                           data={"csrf_token": token}).status_code == 200
    auth.logout()


def outbox_rows(database) -> list[dict]:
    return list(database["outbox"].rows_where(order_by="id"))


def deliver(app, database, now):
    return outbox.deliver_due(database, app.extensions["teller_guard"]["ledger_key"],
                              app.config["ALERT_ENDPOINT"], TIMEOUT, now, allow_http=True)


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def test_backoff_doubles_from_30_seconds_up_to_an_hour():
    assert [outbox.backoff_seconds(n) for n in range(1, 10)] == \
        [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_endpoint_must_be_https_unless_allowed(app, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    with pytest.raises(outbox.EndpointError, match="https"):
        outbox.deliver_due(database, key, "http://soc.example/alerts", 1.0)
    with pytest.raises(outbox.EndpointError):
        outbox.deliver_due(database, key, "file:///etc/passwd", 1.0, allow_http=True)
    assert outbox.deliver_due(database, key, "https://soc.example/alerts", 1.0) == (0, 0)


def test_failures_and_a_hang_lose_nothing_and_deliver_each_alert_once(
        configured, client, auth, database, receiver):
    app = configured
    first, second = make_session(app, database), make_session(app, database)
    print_alerts(client, auth, [first, second, first])  # the reprint queues nothing
    rows = outbox_rows(database)
    assert len(rows) == 2
    keys = [row["idempotency_key"] for row in rows]
    t0 = datetime.now(UTC).replace(microsecond=0)

    # 1. The endpoint is down: both attempts fail, retried in 30 s.
    receiver.script = ["fail", "fail"]
    assert deliver(app, database, t0) == (0, 2)
    for row in outbox_rows(database):
        assert row["status"] == "pending" and row["attempts"] == 1
        assert row["last_error"] == "对方返回 HTTP 500"
        assert at(row["next_attempt_at"]) == t0 + timedelta(seconds=30)
    assert deliver(app, database, t0 + timedelta(seconds=29)) == (0, 0)  # not due yet
    assert len(receiver.requests) == 2

    # 2. The first hangs past the timeout (its answer is lost), the second gets through.
    receiver.script = ["hang", "ok"]
    started = time.monotonic()
    assert deliver(app, database, t0 + timedelta(seconds=30)) == (1, 1)
    assert time.monotonic() - started < HANG  # the sender did not wait for the hang
    hung, done = outbox_rows(database)
    assert hung["status"] == "pending" and hung["attempts"] == 2
    assert hung["last_error"].startswith("超时")
    assert at(hung["next_attempt_at"]) == t0 + timedelta(seconds=30 + 60)
    assert done["status"] == "sent" and done["attempts"] == 2 and done["sent_at"]
    assert done["next_attempt_at"] is None and done["last_error"] is None

    # 3. Recovered: the hung alert is sent again with the same key, and recognised there.
    assert deliver(app, database, t0 + timedelta(seconds=89)) == (0, 0)
    assert deliver(app, database, t0 + timedelta(seconds=90)) == (1, 0)
    assert [row["status"] for row in outbox_rows(database)] == ["sent", "sent"]
    assert deliver(app, database, t0 + timedelta(hours=5)) == (0, 0)  # nothing more to send

    assert receiver.keys() == [keys[0], keys[1], keys[0], keys[1], keys[0]]
    assert set(receiver.stored) == set(keys)  # each alert stored once, none lost
    for request in receiver.requests:
        assert request["content_type"] == "application/json"
        assert request["body"]["idempotency_key"] == request["key"]
    assert receiver.stored[keys[0]]["reference"] == session_row(database, first)["reference"]
    for session_id, key in ((first, keys[0]), (second, keys[1])):
        sent = events(database, session_id, "alert.sent")
        assert len(sent) == 1 and sent[0]["idempotency_key"] == key
        assert sent[0]["actor_id"] is None and sent[0]["http_status"] == 200


def test_ten_failures_mark_failed_and_the_status_page_retries(configured, client, auth,
                                                              database, receiver):
    app = configured
    session_id = make_session(app, database)
    print_alerts(client, auth, [session_id])
    receiver.script = ["fail"] * 10
    moment = datetime.now(UTC).replace(microsecond=0)
    for attempt in range(1, 11):
        assert deliver(app, database, moment) == (0, 1)
        row = outbox_rows(database)[0]
        assert row["attempts"] == attempt
        if attempt < 10:
            assert row["status"] == "pending"
            assert at(row["next_attempt_at"]) == \
                moment + timedelta(seconds=outbox.backoff_seconds(attempt))
            moment = at(row["next_attempt_at"])
    assert row["status"] == "failed" and row["next_attempt_at"] is None
    assert deliver(app, database, moment + timedelta(days=1)) == (0, 0)  # waits for a person

    auth.login("security")
    html = client.get("/print/outbox").get_data(as_text=True)
    assert "发送失败" in html and "对方返回 HTTP 500" in html and "重新发送" in html
    assert "有 1 条警情未能发送给公安" in html  # the banner on every page
    response = client.post("/print/outbox/retry", data={
        "csrf_token": csrf_token(client, "/print/outbox"), "outbox_id": str(row["id"])})
    assert response.status_code == 302
    html = client.get("/print/outbox").get_data(as_text=True)
    assert "已重新发送：成功 1 条，失败 0 条" in html
    row = outbox_rows(database)[0]
    assert row["status"] == "sent" and row["attempts"] == 11
    assert len(receiver.requests) == 11 and len(set(receiver.keys())) == 1
    assert len(events(database, session_id, "alert.sent")) == 1


def test_retry_without_csrf_or_as_supervisor_is_refused(configured, client, auth):
    auth.login("supervisor")
    assert client.post("/print/outbox/retry", data={}).status_code in (400, 403)
    auth.logout()
    auth.login("admin")
    assert client.post("/print/outbox/retry", data={}).status_code == 400  # no CSRF token
    response = client.post("/print/outbox/retry", data={
        "csrf_token": csrf_token(client, "/print/outbox"), "outbox_id": "abc"})
    assert response.status_code == 302  # told, not crashed


def test_send_alerts_command(configured, client, auth, database, receiver, runner):
    app = configured
    session_id = make_session(app, database)
    print_alerts(client, auth, [session_id])
    instance = app.instance_path
    with open(f"{instance}/config.toml", "w", encoding="utf-8") as handle:
        handle.write(f'alert_endpoint = "{receiver.url}"\nalert_allow_http = true\n'
                     f"alert_timeout_seconds = {TIMEOUT}\n")
    receiver.script = ["fail"]
    result = runner.invoke(main, ["send-alerts", "--instance", instance])
    assert result.exit_code == 1 and "本次失败 1 条" in result.output
    assert outbox_rows(database)[0]["status"] == "pending"
    database.execute("UPDATE outbox SET next_attempt_at = NULL")  # due again at once
    result = runner.invoke(main, ["send-alerts", "--instance", instance])
    assert result.exit_code == 0, result.output
    assert "已发送 1 条" in result.output
    assert outbox_rows(database)[0]["status"] == "sent"


def test_background_sender_delivers_and_survives_errors(app, database, receiver, monkeypatch):
    session_id = make_session(app, database)
    key = app.extensions["teller_guard"]["ledger_key"]
    with db.write_transaction(database):
        outbox.queue_alert(database, key, session_id, None, "test-key-1", {"reference": "x"})
    calls = []
    real = outbox.deliver_with_config

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "deliver_with_config", flaky)
    served = create_app({
        "TESTING": True, "SEND_OUTBOX_IN_BACKGROUND": True, "ALERT_ENDPOINT": receiver.url,
        "ALERT_ALLOW_HTTP": True, "ALERT_TIMEOUT_SECONDS": TIMEOUT,
        "OUTBOX_INTERVAL_SECONDS": 0.05,
    }, instance_path=app.instance_path)
    try:
        sender = outbox.sender_for(served)
        assert sender is not None and sender.thread.daemon
        assert outbox.start_background_sender(served) is sender  # one per process
        deadline = time.monotonic() + 15  # generous: a loaded CI machine; ends when sent
        while outbox_rows(database)[0]["status"] != "sent" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outbox_rows(database)[0]["status"] == "sent"
        assert len(calls) >= 2 and receiver.keys() == ["test-key-1"]
    finally:
        outbox.stop_background_sender(served)
    assert outbox.sender_for(served) is None


def test_no_background_sender_when_disabled_or_unconfigured(app):
    assert outbox.sender_for(app) is None  # the tests' config turns it off
    app.config.update(SEND_OUTBOX_IN_BACKGROUND=True, ALERT_ENDPOINT="http://plain.example/")
    assert outbox.start_background_sender(app) is None  # http without ALERT_ALLOW_HTTP


# --- how the branch proves itself to the endpoint: a bearer token, a client certificate -----


def queue_one(app, database) -> None:
    key = app.extensions["teller_guard"]["ledger_key"]
    with db.write_transaction(database):
        outbox.queue_alert(database, key, make_session(app, database), None, "auth-key-1",
                           {"reference": "x"})


def test_the_token_file_is_sent_as_a_bearer_token(app, database, receiver, tmp_path):
    (tmp_path / "police.token").write_text("s3cret-Token_1\n", encoding="utf-8")
    app.config.update(ALERT_ENDPOINT=receiver.url, ALERT_ALLOW_HTTP=True,
                      ALERT_TOKEN_FILE=str(tmp_path / "police.token"))
    queue_one(app, database)
    key = app.extensions["teller_guard"]["ledger_key"]
    assert outbox.deliver_with_config(database, key, app.config) == (1, 0)
    assert receiver.requests[0]["authorization"] == "Bearer s3cret-Token_1"


def test_credential_files_are_relative_to_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TELLER_GUARD_ALERT_TOKEN_FILE", "police.token")
    app = create_app({"TESTING": True}, instance_path=tmp_path / "inst")
    assert app.config["ALERT_TOKEN_FILE"] == str(tmp_path / "inst" / "police.token")
    assert app.config["ALERT_CLIENT_CERT"] is None


@pytest.mark.parametrize("content, message", [
    (None, "无法读取警情接口令牌文件（ALERT_TOKEN_FILE）"),
    ("", "应只有一行令牌"),
    ("two\nlines", "应只有一行令牌"),
    ("with space", "应只有一行令牌"),
])
def test_a_bad_token_file_is_named_and_nothing_is_attempted(
        configured, client, auth, database, receiver, runner, tmp_path, content, message):
    app = configured
    token = tmp_path / "police.token"
    if content is not None:
        token.write_text(content, encoding="utf-8")
    queue_one(app, database)
    instance = app.instance_path
    with open(f"{instance}/config.toml", "w", encoding="utf-8") as handle:
        handle.write(f'alert_endpoint = "{receiver.url}"\nalert_allow_http = true\n'
                     f'alert_token_file = "{token}"\n')
    result = runner.invoke(main, ["send-alerts", "--instance", instance])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output
    assert receiver.requests == []
    row = outbox_rows(database)[0]
    assert row["status"] == "pending" and row["attempts"] == 0  # a setting, not a failed send
    app.config["ALERT_TOKEN_FILE"] = str(token)
    auth.login("security")
    assert message in client.get("/print/outbox").get_data(as_text=True)


def test_a_client_key_without_its_certificate_is_refused(app):
    with pytest.raises(outbox.EndpointError, match="ALERT_CLIENT_CERT"):
        outbox.credentials_for({"ALERT_CLIENT_KEY": "/nonexistent/client.key"})
    with pytest.raises(outbox.EndpointError, match="TLS 证书或私钥"):
        outbox.credentials_for({"ALERT_CLIENT_CERT": "/nonexistent/client.pem"})


def openssl(*arguments, cwd) -> None:
    subprocess.run(["openssl", *arguments], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A test CA, a server certificate for 127.0.0.1 and a client certificate (EC keys)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Test Police CA", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject in (("server", "/CN=127.0.0.1"), ("client", "/CN=branch-0001")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
                cwd=folder)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                *(["-extfile", "san.ext"] if name == "server" else []), cwd=folder)
    return folder


@pytest.fixture
def tls_receiver(certificates):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no alert
    context.load_verify_locations(certificates / "ca.pem")
    server = Receiver(tls=context)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_mutual_tls_with_the_client_certificate(app, database, tls_receiver, certificates):
    app.config.update(ALERT_ENDPOINT=tls_receiver.url, ALERT_TIMEOUT_SECONDS=2.0,
                      ALERT_CA_FILE=str(certificates / "ca.pem"),
                      ALERT_CLIENT_CERT=str(certificates / "client.pem"),
                      ALERT_CLIENT_KEY=str(certificates / "client.key"))
    queue_one(app, database)
    key = app.extensions["teller_guard"]["ledger_key"]
    assert outbox.deliver_with_config(database, key, app.config) == (1, 0)
    assert tls_receiver.requests[0]["client"] == "branch-0001"
    assert outbox_rows(database)[0]["status"] == "sent"


def test_without_the_client_certificate_the_endpoint_refuses_and_the_alert_waits(
        app, database, tls_receiver, certificates):
    app.config.update(ALERT_ENDPOINT=tls_receiver.url, ALERT_TIMEOUT_SECONDS=2.0,
                      ALERT_CA_FILE=str(certificates / "ca.pem"))
    queue_one(app, database)
    key = app.extensions["teller_guard"]["ledger_key"]
    assert outbox.deliver_with_config(database, key, app.config) == (0, 1)
    assert tls_receiver.requests == []
    row = outbox_rows(database)[0]
    assert row["status"] == "pending" and row["attempts"] == 1
