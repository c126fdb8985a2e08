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

from .storage import accounts

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
    accounts.start_login_session(db, _hash(token), user_id, now,
                                 forget_before=now - KEEP_ENDED_DAYS * 86400)
    return token


def find(db, token: str) -> Found | None:
    """The session and its user, in one query: this runs on every request."""
    user = accounts.login_session(db, _hash(token))
    if user is None:
        return None
    started_at, ended_at = user.pop("session_started_at"), user.pop("session_ended_at")
    return Found(user=user, started_at=started_at, ended=ended_at is not None)


def end(db, token: str, why: str, now: float | None = None) -> None:
    accounts.end_login_session(db, _hash(token), int(now if now is not None else time.time()),
                               why)
