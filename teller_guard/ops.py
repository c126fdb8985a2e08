"""Endpoints for the load balancer and monitoring: /healthz, /readyz and /metrics.

None of them needs a login (no cookie is read, no CSRF applies) and none answers with data:
/healthz and /readyz give check names and ok/fail only. /metrics answers loopback clients
that came through no proxy, and anyone presenting METRICS_TOKEN as a bearer token.
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify, request

from . import telemetry
from .db import get_db
from .storage import ops as stored

bp = Blueprint("ops", __name__)
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
def healthz():
    """The process is up and answering (nothing else is checked)."""
    return _no_store(jsonify({"status": "ok"}))


@bp.route("/readyz")
def readyz():
    """Ready for traffic: every check passes, else 503 naming the failed ones."""
    checks = readiness()
    ready = all(result == "ok" for result in checks.values())
    response = jsonify({"status": "ready" if ready else "not_ready", "checks": checks})
    response.status_code = 200 if ready else 503
    return _no_store(response)


def readiness() -> dict[str, str]:
    """Check name -> "ok" or "fail". The database checks share one connection of their own,
    with a short busy timeout (a probe must answer quickly) and mode=rw (a probe must never
    create a missing database file)."""
    config = current_app.config
    seconds = float(config["READY_DB_TIMEOUT_SECONDS"])
    results = dict.fromkeys(("database", "migrations", "outbox"), False)
    with stored.probe(config["DATABASE"], seconds) as conn:
        if conn is not None:
            results["database"] = stored.writable(conn)
            results["migrations"] = stored.migrated(conn)
            results["outbox"] = _outbox_moving(conn, float(config["READY_OUTBOX_MAX_AGE_MINUTES"]))
    results["font"] = _font_embedded()
    return {name: "ok" if results[name] else "fail"
            for name in ("database", "migrations", "font", "outbox")}


def _outbox_moving(conn, max_age_minutes: float) -> bool:
    """No police alert has waited longer than READY_OUTBOX_MAX_AGE_MINUTES undelivered."""
    try:
        oldest = stored.oldest_undelivered(conn)
    except stored.DatabaseError:
        return False
    if oldest is None:
        return True
    waited = datetime.now(UTC) - datetime.fromisoformat(oldest).astimezone(UTC)
    return waited <= timedelta(minutes=max_age_minutes)


def _font_embedded() -> bool:
    """The PDFs embed a Chinese font (not reportlab's built-in one, which prints boxes on a PC
    without Chinese fonts)."""
    from .printing import font_status

    return font_status().embedded


def metrics_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              str(token).encode()):
            return True
    if any(name in request.headers for name in PROXY_HEADERS):
        return False  # through a proxy on this host: the real client is elsewhere
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.route("/metrics")
def metrics():
    if not metrics_allowed():
        headers = {"WWW-Authenticate": "Bearer"} if current_app.config.get("METRICS_TOKEN") \
            else {}
        status = 401 if headers else 403
        return Response("forbidden\n", status=status, mimetype="text/plain", headers=headers)
    return _no_store(Response(telemetry.exposition(get_db()), content_type=PROMETHEUS_TEXT))
