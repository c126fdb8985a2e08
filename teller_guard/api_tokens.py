"""Per-system bearer tokens for the JSON API: shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from . import audit, digests, storage
from .api_scope import Scope
from .storage import api as api_store

PREFIX = "tg_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def create(db, key, name: str, actor_id: int, scope: Scope | None = None) -> tuple[int, str]:
    token = PREFIX + secrets.token_urlsafe(32)
    token_hash = _hash(token)
    scope = scope or Scope()
    with storage.transaction(db):
        token_id = api_store.add_token(db, name, token_hash, actor_id, _now(), **scope.columns())
        # The digest lets `teller-guard verify` find a token hash replaced around the app.
        audit.append(db, key, audit.AuditEvent("api_token.created", actor_id, data={
            "token_id": token_id, "name": name, "scope": scope.event_data(),
            "token_hash": digests.secret_hash(digests.digest_key(key), token_hash)}))
    return token_id, token


def revoke(db, key, token_id: int, actor_id: int) -> bool:
    with storage.transaction(db):
        row = api_store.active_token_by_id(db, token_id)
        if row is None:
            return False
        api_store.revoke_token(db, token_id, _now())
        audit.append(db, key, audit.AuditEvent("api_token.revoked", actor_id,
                                               data={"token_id": token_id,
                                                     "name": row["name"]}))
    return True


def find_active(db, token: str) -> dict | None:
    if not token.startswith(PREFIX):
        return None
    return api_store.active_token(db, _hash(token))


def list_all(db) -> list[dict]:
    return api_store.tokens_with_creator(db)
