"""Per-system bearer tokens for the JSON API: shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
from datetime import datetime, timedelta

from . import audit, clock, digests, storage, users
from .api_scope import Scope
from .storage import api as api_store
from .storage.branches import DEFAULT_BRANCH_ID

PREFIX = "tg_"
NAME_MAX = 64  # characters of a calling system's name (the admin page and the CLI)
FILING_ROLES = ("teller", "supervisor")
# last_used_at is written at most this often per token, so a busy integration does not turn
# every read into a write.
USE_STAMP_EVERY = timedelta(minutes=1)
log = logging.getLogger(__name__)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return clock.stamp()


def create(db, key, name: str, actor_id: int, scope: Scope | None = None,
           branch_id: int = DEFAULT_BRANCH_ID) -> tuple[int, str]:
    """A token acting for branch `branch_id`: it files for that branch's tellers and reads
    that branch's screenings only (branch_scope.py)."""
    token = PREFIX + secrets.token_urlsafe(32)
    token_hash = _hash(token)
    scope = scope or Scope()
    with storage.transaction(db):
        token_id = api_store.add_token(db, name, token_hash, actor_id, _now(), **scope.columns(),
                                       branch_id=branch_id)
        # The digest lets `teller-guard verify` find a token hash replaced around the app.
        audit.append(db, key, audit.AuditEvent("api_token.created", actor_id, data={
            "token_id": token_id, "name": name, "scope": scope.event_data(), "branch": branch_id,
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


def list_all(db, branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """Every token of these branches (None: all), newest first."""
    return api_store.tokens_with_creator(db, branch_ids)


def filing_accounts(db, branch_ids: tuple[int, ...] | None = None) -> list[users.User]:
    """The accounts a token may file for: active tellers and supervisors (of these branches;
    the admin page's choices and what `teller-guard token create --teller` accepts)."""
    return [user for user in users.list_users(db)
            if user.active and user.role in FILING_ROLES
            and (branch_ids is None or user.branch_id in branch_ids)]


def note_use(db, token: dict, moment: datetime | None = None) -> None:
    """Stamp the token's last_used_at (for 接口令牌 and `teller-guard token list`), at most
    once per USE_STAMP_EVERY. The stamp is advisory: a full disk or a busy database must not
    fail the request that uses the token, so such a failure is logged and passed over."""
    moment = moment or clock.now()
    last = token.get("last_used_at")
    try:
        if last and moment - clock.parse(last) < USE_STAMP_EVERY:
            return
    except ValueError:
        pass  # an unreadable stamp is simply replaced
    try:
        with storage.transaction(db):
            api_store.mark_token_used(db, token["id"], clock.stamp(moment))
    except sqlite3.OperationalError as error:
        log.warning("API token %s: last use not recorded (%s)", token["id"], error)
