"""Browser sessions kept on the server, so that they can be ended there.

The signed cookie alone cannot be revoked: a copy keeps working until it expires, and every
request refreshes it. So the cookie carries a random token (`sid`) and this table its SHA-256
(a copy of the database holds no usable token). Every request looks the token up together with
its user (`find`); logout ends one session, and a trigger on `users` (migration m012) ends all
of an account's sessions when its password, role or active flag changes. A session also ends
SESSION_MAX_HOURS after login, however often it is used.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

KEEP_ENDED_DAYS = 30  # older rows are deleted at the next login


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Found:
    user: dict  # the users row
    started_at: int
    ended: bool


def start(db, user_id: int, now: float | None = None) -> str:
    """A new session for `user_id`; returns the token for the cookie. Call inside a write
    transaction; deletes rows that ended or started long ago."""
    now = int(now if now is not None else time.time())
    token = secrets.token_urlsafe(32)
    db.execute("DELETE FROM login_sessions WHERE started_at < ?",
               [now - KEEP_ENDED_DAYS * 86400])
    db.execute("INSERT INTO login_sessions (token_hash, user_id, started_at) VALUES (?, ?, ?)",
               [_hash(token), user_id, now])
    return token


def find(db, token: str) -> Found | None:
    """The session and its user, by plain SQL: this runs on every request."""
    cursor = db.conn.execute(
        "SELECT s.started_at, s.ended_at, u.* FROM login_sessions s "
        "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?", [_hash(token)])
    found = cursor.fetchone()
    if found is None:
        return None
    names = [column[0] for column in cursor.description]
    user = dict(zip(names[2:], found[2:], strict=True))
    return Found(user=user, started_at=found[0], ended=found[1] is not None)


def end(db, token: str, why: str, now: float | None = None) -> None:
    db.execute("UPDATE login_sessions SET ended_at = ?, ended_why = ? "
               "WHERE token_hash = ? AND ended_at IS NULL",
               [int(now if now is not None else time.time()), why, _hash(token)])
