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


_SCOPE_SQL = ("name_key = ? AND address = ? AND purpose = ? AND actor_id IS ? AND at > ?")


def _failures(db, scope: Scope, limits: Limits, now: int) -> tuple[int, int | None]:
    count, last = db.execute(
        f"SELECT count(*), max(at) FROM login_failures WHERE {_SCOPE_SQL}",  # noqa: S608 - constant
        [scope.name_key, scope.address, scope.purpose, scope.actor_id,
         now - limits.window_minutes * 60]).fetchone()
    return count, last


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
    db.execute("DELETE FROM login_failures WHERE at < ?", [now - KEEP_DAYS * 86400])
    db.execute("INSERT INTO login_failures (at, address, name_key, user_id, purpose, actor_id) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               [now, scope.address, scope.name_key, user_id, scope.purpose, scope.actor_id])
    count, _ = _failures(db, scope, limits, now)
    return count == limits.max_failures


def recent(db, limits: Limits, now: float | None = None) -> list[dict]:
    """Failures of the last day per scope, newest first, for the admin page: the account's
    user name when it exists, never a typed name that is no account."""
    now = int(now if now is not None else time.time())
    rows = db.execute(
        "SELECT f.address, f.purpose, max(f.at) AS last_at, count(*) AS failures, "
        "u.username, a.username AS actor, f.name_key, f.actor_id "
        "FROM login_failures f LEFT JOIN users u ON u.id = f.user_id "
        "LEFT JOIN users a ON a.id = f.actor_id WHERE f.at > ? "
        "GROUP BY f.name_key, f.address, f.purpose, f.actor_id ORDER BY last_at DESC LIMIT 100",
        [now - RECENT_HOURS * 3600]).fetchall()
    result = []
    for address, purpose, last_at, failures, username, actor, key, actor_id in rows:
        scope = Scope(address, key, purpose, actor_id)
        result.append({"address": address, "purpose": purpose, "last_at": last_at,
                       "failures": failures, "username": username, "actor": actor,
                       "waiting": wait_seconds(db, scope, limits, now)})
    return result
