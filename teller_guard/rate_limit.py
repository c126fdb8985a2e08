"""Per-token API rate limit, one limit for every server process of an instance.

A sliding one-minute window, estimated from this minute's and the last minute's counts (the
last minute's count weighted by the share of it still inside the window). The counts live in
a small file in the instance folder, read and written under an exclusive file lock, so
`serve --workers N` enforces one limit rather than N. Where fcntl is missing (Windows, which
has no --workers) the counts are kept in this process's memory.
"""

from __future__ import annotations

import errno
import mmap
import os
import struct
import threading
import time

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

SLOT = struct.Struct("<qqqq")  # token id, minute number, count this minute, count last minute
SLOTS = 1024  # open addressing by token id; a slot idle for two minutes is free again
clock = time.time  # wall time: the same in every server process


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
    def __init__(self, path: str | None):
        self.path = path if fcntl is not None else None
        self._threads = threading.Lock()  # a file lock does not exclude threads sharing its fd
        self._memory: dict[int, tuple[int, int, int]] = {}
        self._file: tuple[int, int, mmap.mmap] | None = None  # (pid, descriptor, its map)

    def allow(self, token_id: int, per_minute: int, now: float | None = None) -> bool:
        """Count one request of the token unless that would exceed `per_minute`."""
        return self.wait(token_id, per_minute, now) is None

    def wait(self, token_id: int, per_minute: int, now: float | None = None) -> float | None:
        """Count one request of the token and return None, or return how many seconds until
        one would be let through (for Retry-After; may be 0 at the very edge) without counting
        it."""
        now = clock() if now is None else now
        with self._threads:
            if self.path is None:
                return self._allow(self._memory.get(token_id, (0, 0, 0)), per_minute, now,
                                   lambda counts: self._memory.__setitem__(token_id, counts))
            descriptor, table = self._table()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                index, counts = self._find(table, token_id, int(now // 60))
                return self._allow(counts, per_minute, now, lambda new: SLOT.pack_into(
                    table, index * SLOT.size, token_id, *new))
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)

    @staticmethod
    def _allow(counts, per_minute: int, now: float, store) -> float | None:
        minute, current, previous, in_window = advance(counts, now)
        allowed = in_window < per_minute
        store((minute, current + allowed, previous))
        return None if allowed else seconds_until_allowed(minute, current, previous, per_minute,
                                                          now)

    def _table(self) -> tuple[int, mmap.mmap]:
        """The counts file, mapped shared (two system calls per request: lock and unlock). A
        descriptor inherited through fork() would share its lock with the parent: reopen."""
        if self._file is None or self._file[0] != os.getpid():
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                _allocate(descriptor, SLOTS * SLOT.size)
            except OSError:
                os.close(descriptor)
                raise
            self._file = (os.getpid(), descriptor, mmap.mmap(descriptor, SLOTS * SLOT.size))
        return self._file[1], self._file[2]

    @staticmethod
    def _find(table: mmap.mmap, token_id: int, now_minute: int) -> tuple[int, tuple[int, int, int]]:
        """The token's slot and counts, or a free one (empty, or idle for two minutes)."""
        free = None
        for probe in range(SLOTS):
            index = (token_id + probe) % SLOTS
            slot_token, minute, current, previous = SLOT.unpack_from(table, index * SLOT.size)
            if slot_token == token_id:
                return index, (minute, current, previous)
            if free is None and (slot_token == 0 or minute < now_minute - 1):
                free = index
                if slot_token == 0:  # nothing was ever stored past an empty slot
                    break
        return (free if free is not None else token_id % SLOTS), (0, 0, 0)


def _allocate(descriptor: int, size: int) -> None:
    """Give the counts file real disk blocks before it is mapped. A file only extended with
    ftruncate is sparse: the first store into one of its pages on a full disk raised SIGBUS
    and killed the whole server process. Allocating up front turns that into an OSError
    (ENOSPC: the request gets the 503 of a full disk) when the file is opened."""
    if os.fstat(descriptor).st_size < size:
        os.ftruncate(descriptor, size)
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is None:  # e.g. macOS: write the zeros (only where the file is still sparse)
        if os.fstat(descriptor).st_blocks * 512 < size:
            for offset in range(0, size, 4096):
                if not any(os.pread(descriptor, 4096, offset)):
                    os.pwrite(descriptor, bytes(min(4096, size - offset)), offset)
        return
    try:
        fallocate(descriptor, 0, size)
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.EOPNOTSUPP):  # a file system without it
            return
        raise
