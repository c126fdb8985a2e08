"""Slowing down password guessing without locking anybody out.

Locking an account after N failures let anyone lock the admin (or, through the supervisor
form, a teller lock their supervisor), and answered locked accounts faster and differently
than unknown names. Instead, failures are counted per scope — client address, the name typed
(a keyed hash), the purpose (login or the supervisor form) and, for the supervisor form, the
teller logged in at that terminal — and after `max_failures` within `window_minutes` that scope
alone waits 30 s, then 60 s, … up to `backoff_max_seconds` after each further failure. The
account itself is never locked: its owner logs in from their own terminal as usual.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from .storage import accounts

KEEP_DAYS = 7  # rows older than this are deleted at the next failure
FIRST_BACK_OFF_SECONDS = 30
RECENT_HOURS = 24  # what the admin page lists


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5
    window_minutes: int = 15
    backoff_max_seconds: int = 300

    @classmethod
    def from_config(cls, config) -> Limits:
        return cls(config["LOGIN_MAX_FAILURES"], config["LOGIN_FAILURE_WINDOW_MINUTES"],
                   config["LOGIN_BACKOFF_MAX_SECONDS"])


@dataclass(frozen=True)
class Scope:
    address: str
    name_key: str
    purpose: str = "login"
    actor_id: int | None = None  # the teller logged in, for the supervisor form


def name_key(key: bytes, username: str) -> str:
    """The typed name as a keyed hash: comparable between attempts, but a name that is no
    account (often a password typed into the wrong field) is never stored."""
    normalized = username.strip().casefold().encode("utf-8")
    return hmac.new(key, b"login name|" + normalized, hashlib.sha256).hexdigest()[:32]


def back_off_seconds(failures: int, limits: Limits) -> int:
    """How long a scope waits after its latest failure, given its failures in the window."""
    if failures < limits.max_failures:
        return 0
    return min(FIRST_BACK_OFF_SECONDS * 2 ** (failures - limits.max_failures),
               limits.backoff_max_seconds)


def _failures(db, scope: Scope, limits: Limits, now: int) -> tuple[int, int | None]:
    found = accounts.failures_since(db, scope.name_key, scope.address, scope.purpose,
                                    scope.actor_id, now - limits.window_minutes * 60)
    return found["failures"], found["last_at"]


def wait_seconds(db, scope: Scope, limits: Limits, now: float | None = None) -> int:
    """Seconds this scope must still wait before a password is checked (0: go ahead)."""
    now = int(now if now is not None else time.time())
    count, last = _failures(db, scope, limits, now)
    if last is None:
        return 0
    return max(0, last + back_off_seconds(count, limits) - now)


def record_failure(db, scope: Scope, user_id: int | None, limits: Limits,
                   now: float | None = None) -> bool:
    """Store one failure (inside the caller's write transaction); True when this failure is
    the one that starts the back-off."""
    now = int(now if now is not None else time.time())
    accounts.add_login_failure(db, at=now, address=scope.address, name_key=scope.name_key,
                               user_id=user_id, purpose=scope.purpose, actor_id=scope.actor_id,
                               forget_before=now - KEEP_DAYS * 86400)
    count, _ = _failures(db, scope, limits, now)
    return count == limits.max_failures


def recent(db, limits: Limits, now: float | None = None) -> list[dict]:
    """Failures of the last day per scope, newest first, for the admin page: the account's
    user name when it exists, never a typed name that is no account."""
    now = int(now if now is not None else time.time())
    result = []
    for row in accounts.failures_per_scope(db, now - RECENT_HOURS * 3600):
        scope = Scope(row["address"], row["name_key"], row["purpose"], row["actor_id"])
        result.append({"address": row["address"], "purpose": row["purpose"],
                       "last_at": row["last_at"], "failures": row["failures"],
                       "username": row["username"], "actor": row["actor"],
                       "waiting": wait_seconds(db, scope, limits, now)})
    return result
