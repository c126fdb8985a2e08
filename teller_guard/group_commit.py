"""Group commit: write jobs from many request threads share one transaction and one fsync.

Each screening touches about 20 database pages (the session row, eight indexes, the vault, the
ledger and its head, the statistics rows); committed one by one, every page went to the WAL
and was synced once per screening. Here, while one thread commits, the jobs of other threads
queue up; the next thread to go ("the leader") takes them all and runs them in one
transaction on its own connection. If that transaction fails, each job is run again alone, so
a job that fails gets its own exception and the others are kept. Callers sleep until the
commit that holds their job is done, so a success still means "on disk".

No extra thread: the leader is one of the waiting request threads. Groups are formed only while
COMMIT averages 1 ms or more (a slow fsync): on a disk with a fast fsync the jobs are committed
one by one, in the order they came. The leader uses write_transaction(), so it queues behind
the other writers of the server exactly like any other write.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from . import db as database_module

T = TypeVar("T")

MAX_BATCH = 64
GROUP_ABOVE_SECONDS = 0.001  # this machine's fsync takes about 0.2 ms, a SATA SSD's 1-3 ms


class _Job:
    __slots__ = ("work", "wake", "done", "committed", "result", "error")

    def __init__(self, work: Callable):
        self.work = work
        self.wake = threading.Event()  # set when done, or when this job's thread is to lead
        self.done = False
        self.committed = False
        self.result = None
        self.error: BaseException | None = None


class GroupCommitter:
    """Queues the write jobs of one database file in this process."""

    def __init__(self, max_batch: int = MAX_BATCH, group_above_seconds: float = GROUP_ABOVE_SECONDS):
        self.max_batch = max_batch
        self.group_above_seconds = group_above_seconds
        self.commit_seconds = 0.0  # moving average of COMMIT (mostly the fsync)
        self.clock = time.perf_counter
        self._queue: list[_Job] = []
        self._guard = threading.Lock()
        self._leading = False
        self.commits = 0  # transactions committed (fewer than jobs when they were grouped)

    def batch_size(self) -> int:
        """Group only when a transaction's overhead is worth sharing: waking a whole group at
        once makes the threads fight over the GIL (about 0.15 ms more CPU per screening here),
        which a fast disk does not pay back; a slow fsync does. (Time spent waiting for the
        lock is no measure: it includes waiting for the GIL.)"""
        return self.max_batch if self.commit_seconds >= self.group_above_seconds else 1

    def run(self, db, work: Callable[[database_module.Database], T]) -> T:
        """Run `work(connection)` inside a write transaction and return its result once that
        transaction is committed; raise its exception if it failed (nothing it wrote is kept)
        or the commit's if the commit failed. `db` is used if this thread ends up leading.
        `work` may run twice (a retry after another job failed): it must only write through
        the connection it is given, whose transaction is rolled back before the retry."""
        job = _Job(work)
        with self._guard:
            self._queue.append(job)
            lead = not self._leading
            self._leading = True
        if not lead:
            job.wake.wait()  # each thread is woken once: with its job done, or to lead
        if not job.done:
            self._lead(db)
        if not job.committed:
            raise job.error or RuntimeError("写入未完成")
        return job.result

    def _lead(self, db) -> None:
        with self._guard:  # this thread's job is first in the queue
            size = self.batch_size()
            batch, self._queue[:] = self._queue[:size], self._queue[size:]
        try:
            self._commit(db, batch)
        finally:
            with self._guard:
                for job in batch:
                    job.done = True
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for job in batch:
                job.wake.set()
            if successor is not None:
                successor.wake.set()

    def _commit(self, db, batch: list[_Job]) -> None:
        """All jobs in one transaction; if that fails, each job again in its own, so a bad job
        fails alone. (No SAVEPOINT per job: two more statements per screening cost more than
        the rare retry.)"""
        try:
            with database_module.write_transaction(db):
                for job in batch:
                    job.result = job.work(db)
                work_done = self.clock()
            self.commit_seconds = 0.8 * self.commit_seconds + 0.2 * (self.clock() - work_done)
            self.commits += 1
            for job in batch:
                job.committed = True
            return
        except Exception as exc:  # noqa: BLE001 - any failure: the job's own, or the commit's
            if len(batch) == 1 or _lock_timeout(exc):
                for job in batch:
                    job.error = exc
                return
        for job in batch:
            self._commit(db, [job])


def _lock_timeout(exc: Exception) -> bool:
    """Waiting for the write lock timed out: alone, each job would wait that long again."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


_committers: dict[str, GroupCommitter] = {}
_committers_guard = threading.Lock()


def committer_for(path: str) -> GroupCommitter:
    """`path` as db.connect() resolved it (its real_path): one committer per file."""
    found = _committers.get(path)
    if found is None:
        with _committers_guard:
            found = _committers.setdefault(path, GroupCommitter())
    return found


def write(db: database_module.Database, work: Callable[[database_module.Database], T]) -> T:
    """Run `work` in a committed write transaction, grouped with other threads' writes to the
    same file. Inside a transaction already, or on an in-memory database, it runs right there
    on `db` (an outer transaction owns the commit)."""
    path = getattr(db, "real_path", None)
    if path is None or db.conn.in_transaction:
        with database_module.write_transaction(db):
            return work(db)
    return committer_for(path).run(db, work)
