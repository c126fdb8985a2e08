"""What operations watch: one access-log line per request and the Prometheus metrics.

The access log (logger ``teller_guard.access``) says method, route template, status, duration
and who (user or API token id): never a URL with its values or query string, never personal
data. Request latency and API errors are counted in the server process; the screening,
outbox and ledger figures are read from the database at scrape time. Under gunicorn
(teller_guard/wsgi.py) every worker writes its request counts to files in
PROMETHEUS_MULTIPROC_DIR and a scrape adds up all of them, whichever worker answers it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import UTC, datetime

from flask import g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .storage import ops as stored

# Read when prometheus_client was imported, as prometheus_client itself does (wsgi.py sets it).
SHARED_BY_PROCESSES = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
ACCESS_LOGGER = "teller_guard.access"
access_log = logging.getLogger(ACCESS_LOGGER)
UNMATCHED = "<unmatched>"  # no route: the path itself could hold anything, so it is not logged

# registry=None: served through a registry built per scrape (see exposition()), so creating
# many apps in one process (the tests) never registers a metric twice.
REQUEST_SECONDS = Histogram(
    "teller_guard_http_request_duration_seconds", "Time to answer a request, by route template.",
    ["method", "route", "status"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
API_ERRORS = Counter(
    "teller_guard_api_errors", "JSON API answers of 4xx/5xx, by status and field reason code "
    "(\"none\" for errors that name no field).", ["status", "code"], registry=None)


def init_app(app) -> None:
    """Register before every other before_request hook, so the duration covers them."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)


def _start() -> None:
    g.request_started = time.perf_counter()


def route_template() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def who() -> str:
    user = g.get("user")
    if user is not None:
        return f"user={user.id}"
    token = g.get("api_token")
    return f"token={token['id']}" if token is not None else "user=-"


def _finish(response):
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    route = route_template()
    status = response.status_code
    REQUEST_SECONDS.labels(request.method, route, str(status)).observe(seconds)
    if status >= 400 and request.path.startswith("/api/"):
        for code in g.get("api_error_codes") or ["none"]:
            API_ERRORS.labels(str(status), code).inc()
    if access_log.isEnabledFor(logging.INFO):
        access_log.info("method=%s path=%s status=%d duration_ms=%.1f %s", request.method,
                        route, status, seconds * 1000, who())
    return response


def configure_access_log(enabled: bool) -> None:
    """`serve`: the access lines on standard output (the app itself never sets up handlers)."""
    if not enabled:
        access_log.disabled = True
        return
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


# --- exposition ------------------------------------------------------------------------------


class DatabaseCollector:
    """Figures read from the database when scraped, not counted in memory."""

    def __init__(self, db, now: datetime | None = None):
        self.db = db
        self.now = now or datetime.now(UTC)

    def collect(self):
        db = self.db
        levels = GaugeMetricFamily("teller_guard_screenings", "Screenings stored, by risk level "
                                   "(\"none\": not yet assessed).", labels=["level"])
        total = 0
        for row in stored.screenings_by_level(db):
            levels.add_metric([row["level"] or "none"], row["count"])
            total += row["count"]
        yield levels
        outcomes = GaugeMetricFamily("teller_guard_screenings_by_outcome", "Screenings stored, "
                                     "by outcome (\"none\": not finished).", labels=["outcome"])
        finished = 0
        for row in stored.screenings_by_outcome(db):
            outcomes.add_metric([row["outcome"]], row["count"])
            finished += row["count"]
        outcomes.add_metric(["none"], total - finished)
        yield outcomes
        backlog = GaugeMetricFamily("teller_guard_outbox_undelivered", "Police alerts not yet "
                                    "delivered, by outbox status.", labels=["status"])
        counts = stored.undelivered_by_status(db)
        for status in ("pending", "failed"):
            backlog.add_metric([status], counts.get(status, 0))
        yield backlog
        oldest = stored.oldest_undelivered(db)
        yield GaugeMetricFamily(
            "teller_guard_outbox_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered police alert (0 when none waits).",
            value=self._age(oldest))
        yield GaugeMetricFamily("teller_guard_ledger_head_age_seconds",
                                "Time since the newest audit ledger event (0 when empty).",
                                value=self._age(stored.newest_event_at(db)))

    def _age(self, stamp: str | None) -> float:
        if not stamp:
            return 0.0
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (self.now - moment).total_seconds())


def exposition(db) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if SHARED_BY_PROCESSES:
        MultiProcessCollector(registry)  # every worker's counts, from their files
    else:
        registry.register(REQUEST_SECONDS)
        registry.register(API_ERRORS)
    registry.register(DatabaseCollector(db))
    return generate_latest(registry)
