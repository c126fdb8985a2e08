"""Small helpers the blueprints share: keys, the current user, recording audit events."""

from __future__ import annotations

from flask import abort, current_app, g, redirect, request, session, url_for

from . import audit
from .db import get_db

# The load balancer's and Prometheus's endpoints (ops.py): no login, no cookie session.
OPS_PATHS = ("/healthz", "/readyz", "/metrics")


def ledger_key() -> bytes:
    return current_app.extensions["teller_guard"]["ledger_key"]


def pii_key() -> bytes:
    return current_app.extensions["teller_guard"]["pii_key"]


def record(event: audit.AuditEvent) -> int:
    """Append an audit event using the request's connection (join the caller's transaction)."""
    return audit.append(get_db(), ledger_key(), event)


def current_user():
    return g.get("user")


def guard_area(blueprint, *roles: str) -> None:
    """Require a logged-in user with one of `roles` for every route of the blueprint."""

    @blueprint.before_request
    def _guard():
        user = current_user()
        if user is None:
            # A POST's page to return to: the step whose form the idle logout kept (auth.py).
            session["next"] = (request.full_path.rstrip("?") if request.method == "GET"
                               else g.get("kept_next"))
            return redirect(url_for("auth.login"))
        if not user.has_role(*roles):
            abort(403)


def wants_json() -> bool:
    return request.path.startswith("/api/")
