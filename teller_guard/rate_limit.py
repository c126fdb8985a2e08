"""Per-token API rate limit: a sliding one-minute window, estimated from this minute's and the
last minute's counts (the last minute's count weighted by the share of it still inside the
window): two numbers per token rather than a timestamp per request.

SQLite mode serves a branch from one process, which counts in its memory (`RateLimiter`).
On PostgreSQL several processes, on several hosts, serve one database, so the counts are kept
in it (`DatabaseRateLimiter`, table api_rate_counts): one limit per token, whichever process
answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .storage import api as api_store

clock = time.time  # minutes start on the wall clock's minute, which fixed-clock tests rely on


def advance(counts: tuple[int, int, int], now: float) -> tuple[int, int, int, float]:
    """(minute, this minute's count, last minute's count) moved on to `now`, and the number of
    requests in the last 60 seconds they stand for."""
    minute, current, previous = counts
    now_minute = int(now // 60)
    if now_minute == minute + 1:
        current, previous = 0, current
    elif now_minute != minute:
        current, previous = 0, 0
    share_of_last_minute_in_window = 1 - (now / 60 - now_minute)
    return now_minute, current, previous, previous * share_of_last_minute_in_window + current


def seconds_until_allowed(minute: int, current: int, previous: int, per_minute: int,
                          now: float) -> float:
    """When the estimate `previous * (1 - share of this minute gone) + current` first drops
    below `per_minute`, in seconds from `now` (the counts as `advance` left them at `now`)."""
    if per_minute <= 0:
        return 60.0
    if current < per_minute and previous > 0:  # later this minute, as last minute fades
        at = 60 * (minute + 1 - (per_minute - current) / previous)
        if at < 60 * (minute + 1):
            return max(at - now, 0.0)
    # Next minute this minute's count is "last minute's" and fades the same way.
    fade = max(0.0, 1 - per_minute / current) if current else 0.0
    return max(60 * (minute + 1 + fade) - now, 0.0)


class RateLimiter:
    """The counts of every token, shared by the server's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        # token id -> (minute, current, previous); only tokens that passed authentication are
        # counted, so it holds at most the instance's API tokens.
        self._counts: dict[int, tuple[int, int, int]] = {}

    def allow(self, token_id: int, per_minute: int, now: float | None = None) -> bool:
        """Count one request of the token unless that would exceed `per_minute`."""
        return self.wait(token_id, per_minute, now) is None

    def wait(self, token_id: int, per_minute: int, now: float | None = None) -> float | None:
        """Count one request of the token and return None, or return how many seconds until
        one would be let through (for Retry-After; may be 0 at the very edge) without counting
        it."""
        now = clock() if now is None else now
        with self._lock:
            minute, current, previous, in_window = advance(
                self._counts.get(token_id, (0, 0, 0)), now)
            if in_window < per_minute:
                self._counts[token_id] = (minute, current + 1, previous)
                return None
            self._counts[token_id] = (minute, current, previous)
            return seconds_until_allowed(minute, current, previous, per_minute, now)


class DatabaseRateLimiter:
    """The same limit, counted in the database: every process serving it shares the counts.
    `connection()` gives the database to count in (the request's connection); each count is
    one statement of its own, outside any transaction of the request."""

    def __init__(self, connection: Callable):
        self.connection = connection

    def allow(self, token_id: int, per_minute: int, now: float | None = None) -> bool:
        return self.wait(token_id, per_minute, now) is None

    def wait(self, token_id: int, per_minute: int, now: float | None = None) -> float | None:
        now = clock() if now is None else now
        minute = int(now // 60)
        share_of_last_minute_in_window = 1 - (now / 60 - minute)
        db = self.connection()
        if api_store.count_request(db, token_id, minute, share_of_last_minute_in_window,
                                   per_minute):
            return None
        # Refused (rare): read the counts as stored and say when one will be let through.
        stored = api_store.request_counts(db, token_id) or (minute, 0, 0)
        minute, current, previous, _ = advance(stored, max(now, stored[0] * 60))
        return seconds_until_allowed(minute, current, previous, per_minute, now)
