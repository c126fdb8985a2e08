"""Per-system bearer tokens for the JSON API: shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from . import audit, digests
from .api_scope import Scope
from .db import write_transaction

PREFIX = "tg_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def create(db, key, name: str, actor_id: int, scope: Scope | None = None) -> tuple[int, str]:
    token = PREFIX + secrets.token_urlsafe(32)
    token_hash = _hash(token)
    scope = scope or Scope()
    with write_transaction(db):
        token_id = db["api_tokens"].insert({
            "name": name, "token_hash": token_hash, "created_by": actor_id,
            "created_at": _now(), **scope.columns(),
        }).last_pk
        # The digest lets `teller-guard verify` find a token hash replaced around the app.
        audit.append(db, key, audit.AuditEvent("api_token.created", actor_id, data={
            "token_id": token_id, "name": name, "scope": scope.event_data(),
            "token_hash": digests.secret_hash(digests.digest_key(key), token_hash)}))
    return token_id, token


def revoke(db, key, token_id: int, actor_id: int) -> bool:
    with write_transaction(db):
        rows = list(db["api_tokens"].rows_where("id = ? AND revoked_at IS NULL", [token_id]))
        if not rows:
            return False
        db["api_tokens"].update(token_id, {"revoked_at": _now()})
        audit.append(db, key, audit.AuditEvent("api_token.revoked", actor_id,
                                               data={"token_id": token_id,
                                                     "name": rows[0]["name"]}))
    return True


def find_active(db, token: str) -> dict | None:
    if not token.startswith(PREFIX):
        return None
    # Plain SQL, read on every API request (never cached: a revoked token fails at once).
    cursor = db.conn.execute("SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                             [_hash(token)])
    found = cursor.fetchone()
    if found is None:
        return None
    return dict(zip((column[0] for column in cursor.description), found, strict=True))


def list_all(db) -> list[dict]:
    return list(db.query(
        "SELECT t.id, t.name, t.created_at, t.revoked_at, t.last_used_at, u.username AS creator "
        "FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by ORDER BY t.id DESC"))
