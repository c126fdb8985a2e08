"""A full disk: writes are refused with a clear message, reads go on, and it passes by itself.

SQLite answers a write that needs space it cannot get with SQLITE_FULL ("database or disk is
full") and rolls the transaction back, so nothing half-written stays; the next write simply
tries again, so nothing has to be reset when space returns. Requests answer 503 with MESSAGE
(errors.py); the log gets one line a minute, with how many writes were refused meanwhile, not a
traceback per request.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
import time

MESSAGE = ("磁盘空间不足，暂时无法保存，请联系管理员清理磁盘。此前已保存的内容没有丢失；"
           "空间恢复后，返回上一页重新提交即可。")
LOG_EVERY_SECONDS = 60.0
_SPACE_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def is_disk_full(error: BaseException) -> bool:
    if getattr(error, "sqlstate", None) == "53100":  # PostgreSQL: disk_full
        return True
    if isinstance(error, sqlite3.OperationalError):
        return (getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                or "database or disk is full" in str(error))
    return isinstance(error, OSError) and error.errno in _SPACE_ERRNOS


class LogThrottle:
    """Log the first refused write, then at most one line per `every` seconds."""

    def __init__(self, every: float = LOG_EVERY_SECONDS, clock=time.monotonic):
        self.every, self.clock = every, clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._refused = 0

    def note(self, logger, where: str) -> None:
        with self._lock:
            self._refused += 1
            now = self.clock()
            if self._last is not None and now - self._last < self.every:
                return
            refused, self._refused, self._last = self._refused, 0, now
        logger.error("disk full: %d write(s) refused since the last message (latest: %s); "
                     "reads are still served, writes resume by themselves when space returns",
                     refused, where)


throttle = LogThrottle()  # one per process: every request thread and background thread
