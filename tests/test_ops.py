"""Operations: /healthz, /readyz, /metrics and the access log."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import BENIGN, CRITICAL, body, new_token, post
from conftest import TEST_CONFIG

from teller_guard import create_app, db, telemetry


def metric(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        found = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not found or found.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', found.group(2) or ""))
        if all(have.get(key) == str(value) for key, value in labels.items()):
            return float(found.group(3))
    return None


# --- /healthz and /readyz ---------------------------------------------------------------------

def test_healthz_needs_no_login_and_holds_no_data(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in reply.headers
    assert reply.headers["Cache-Control"] == "no-store"


def test_readyz_when_all_is_well(client):
    reply = client.get("/readyz")
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json() == {"status": "ready", "checks": {
        "database": "ok", "migrations": "ok", "font": "ok", "outbox": "ok"}}
    assert "Set-Cookie" not in reply.headers


def test_probes_ignore_the_login_guard_and_cookies(client, auth):
    auth.login("teller")
    for path in ("/healthz", "/readyz"):
        reply = client.get(path)
        assert reply.status_code == 200 and "Set-Cookie" not in reply.headers


def failed_checks(client) -> set[str]:
    reply = client.get("/readyz")
    checks = reply.get_json()["checks"]
    assert set(reply.get_json()) == {"status", "checks"}
    assert set(checks.values()) <= {"ok", "fail"}
    failed = {name for name, result in checks.items() if result == "fail"}
    assert reply.status_code == (503 if failed else 200)
    assert reply.get_json()["status"] == ("not_ready" if failed else "ready")
    return failed


def test_readyz_without_a_database(app, client, tmp_path):
    app.config["DATABASE"] = str(tmp_path / "missing" / "teller_guard.db")
    assert failed_checks(client) == {"database", "migrations", "outbox"}
    app.config["DATABASE"] = str(tmp_path / "absent.db")
    assert failed_checks(client) == {"database", "migrations", "outbox"}
    assert not (tmp_path / "absent.db").exists()  # a probe never creates the file


def test_readyz_when_the_write_lock_cannot_be_had(app, client):
    app.config["READY_DB_TIMEOUT_SECONDS"] = 0.05
    holder = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert failed_checks(client) == {"database"}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert failed_checks(client) == set()


def test_readyz_when_a_migration_is_missing(app, client):
    # As an older server's database looks to a newer server: stamped at an earlier revision.
    database = db.connect(app.config["DATABASE"])
    database.execute("UPDATE alembic_version SET version_num = 'an_older_revision'")
    database.conn.close()
    assert failed_checks(client) == {"migrations"}


def test_readyz_without_an_embedded_font(client, monkeypatch):
    from teller_guard.printing import fonts

    fallback = fonts.FontStatus(fonts.FALLBACK_FONT_NAME, None, False,
                                fonts.NOT_EMBEDDED_WARNING_ZH)
    monkeypatch.setattr(fonts, "_active", fallback)
    assert failed_checks(client) == {"font"}


def _queue_alert(app, minutes_ago: float, status: str = "pending", key: str = "k1") -> None:
    created = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")
    database = db.connect(app.config["DATABASE"])
    database.execute("INSERT INTO outbox (kind, idempotency_key, payload, status, created_at) "
                     "VALUES ('police_alert', ?, '{}', ?, ?)", [key, status, created])
    database.conn.close()


def test_readyz_when_a_police_alert_is_stuck(app, client):
    app.config["READY_OUTBOX_MAX_AGE_MINUTES"] = 30
    _queue_alert(app, 120, status="sent", key="delivered")
    _queue_alert(app, 29, key="waiting")
    assert failed_checks(client) == set()
    _queue_alert(app, 31, status="failed", key="stuck")
    assert failed_checks(client) == {"outbox"}


# --- /metrics -----------------------------------------------------------------------------------

def test_metrics_count_screenings_from_the_database(app, client, token):
    assert post(client, token, CRITICAL).status_code == 201
    # A screening stored by another server process (another app on the same instance).
    other = create_app(TEST_CONFIG, instance_path=app.instance_path).test_client()
    assert post(other, token, BENIGN).status_code == 201
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "teller_guard_screenings", level="critical") == 1
    assert metric(text, "teller_guard_screenings", level="low") == 1
    assert metric(text, "teller_guard_screenings_by_outcome", outcome="none") == 2
    assert metric(text, "teller_guard_ledger_head_age_seconds") is not None
    assert metric(text, "teller_guard_outbox_undelivered", status="pending") == 0
    assert metric(text, "teller_guard_outbox_oldest_undelivered_age_seconds") == 0


def test_metrics_outbox_backlog_and_age(app, client):
    _queue_alert(app, 10, key="a")
    _queue_alert(app, 5, status="failed", key="b")
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "teller_guard_outbox_undelivered", status="pending") == 1
    assert metric(text, "teller_guard_outbox_undelivered", status="failed") == 1
    assert 590 <= metric(text, "teller_guard_outbox_oldest_undelivered_age_seconds") <= 700


def test_metrics_api_errors_by_code_and_latency(client, token):
    def errors(text, **labels):
        return metric(text, "teller_guard_api_errors_total", **labels) or 0

    before = client.get("/metrics").get_data(as_text=True)
    post(client, token, body(BENIGN, answers__purpose_txt="x"))
    post(client, token, BENIGN)
    client.post("/api/v1/screenings", json=BENIGN)  # no token
    after = client.get("/metrics").get_data(as_text=True)
    assert errors(after, status="400", code="unknown_field") == \
        errors(before, status="400", code="unknown_field") + 1
    assert errors(after, status="401", code="none") == errors(before, status="401", code="none") + 1
    count = "teller_guard_http_request_duration_seconds_count"
    assert (metric(after, count, method="POST", route="/api/v1/screenings", status="201") or 0) \
        == (metric(before, count, method="POST", route="/api/v1/screenings", status="201") or 0) + 1


@pytest.mark.parametrize("remote, headers, config_token, status", [
    ("127.0.0.1", {}, None, 200),
    ("::1", {}, None, 200),
    ("10.1.2.3", {}, None, 403),
    ("127.0.0.1", {"X-Forwarded-For": "10.1.2.3"}, None, 403),
    ("10.1.2.3", {"Authorization": "Bearer s3cret-metrics"}, "s3cret-metrics", 200),
    ("10.1.2.3", {"Authorization": "bearer s3cret-metrics"}, "s3cret-metrics", 200),
    ("10.1.2.3", {"Authorization": "Bearer wrong"}, "s3cret-metrics", 401),
    ("10.1.2.3", {}, "s3cret-metrics", 401),
])
def test_metrics_only_for_loopback_or_the_token(app, client, remote, headers, config_token,
                                                 status):
    app.config["METRICS_TOKEN"] = config_token
    reply = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote})
    assert reply.status_code == status
    if status == 200:
        assert reply.content_type.startswith("text/plain; version=0.0.4")
        assert "teller_guard_screenings" in reply.get_data(as_text=True)
    else:
        assert "teller_guard" not in reply.get_data(as_text=True)
    if status == 401:
        assert reply.headers["WWW-Authenticate"] == "Bearer"


# --- the access log -----------------------------------------------------------------------------

def access_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == telemetry.ACCESS_LOGGER]


def test_access_log_names_the_logged_in_user(client, caplog, auth):
    caplog.set_level(logging.INFO, logger=telemetry.ACCESS_LOGGER)
    auth.login("teller")
    caplog.clear()
    client.get("/screening/")
    lines = access_lines(caplog)
    assert len(lines) == 1
    assert re.fullmatch(r"method=GET path=/screening/ status=200 duration_ms=\d+\.\d user=\d+",
                        lines[0]), lines


def test_access_log_one_line_per_request_without_personal_data(app, client, caplog):
    caplog.set_level(logging.INFO, logger=telemetry.ACCESS_LOGGER)
    _, token_value = new_token(app, "日志")
    created = post(client, token_value, CRITICAL)
    session_id = created.get_json()["id"]
    client.get(f"/api/v1/screenings/{session_id}?payee=6217001234567890",
               headers={"Authorization": f"Bearer {token_value}"})
    client.get("/no/such/6217001234567890")
    lines = access_lines(caplog)
    assert len(lines) == 3, lines
    token_id = db.connect(app.config["DATABASE"]).execute(
        "SELECT id FROM api_tokens WHERE name = '日志'").fetchone()[0]
    assert re.fullmatch(rf"method=POST path=/api/v1/screenings status=201 "
                        rf"duration_ms=\d+\.\d token={token_id}", lines[0]), lines
    assert lines[1].startswith("method=GET path=/api/v1/screenings/<int:session_id> status=200 ")
    assert lines[2].startswith("method=GET path=<unmatched> status=404 ")
    logged = "\n".join(lines)
    for secret in ("6217001234567890", "6222021234567890", "李四", "payee=", str(session_id) + "?"):
        assert secret not in logged


def test_access_log_can_be_turned_off(caplog):
    logger = logging.getLogger(telemetry.ACCESS_LOGGER)
    try:
        telemetry.configure_access_log(False)
        assert logger.disabled
        telemetry.configure_access_log(True)
        assert logger.handlers and logger.level == logging.INFO
    finally:
        logger.disabled = False
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def test_openapi_does_not_describe_the_probes():
    from teller_guard import api_schema

    assert not any(path in json.dumps(api_schema.openapi_document())
                   for path in ("/healthz", "/readyz", "/metrics"))
