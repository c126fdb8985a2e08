"""Group commit: jobs from many threads share a transaction, each keeps its own result or
error, and nothing is reported done before it is committed."""

import sqlite3
import threading

import pytest

from teller_guard import db, group_commit


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "group.db"
    setup = db.connect(path)
    setup.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
    yield setup, path
    setup.conn.close()


def insert(name):
    def work(writer):
        return writer.execute("INSERT INTO items (name) VALUES (?)", [name]).lastrowid
    return work


def names(path):
    conn = sqlite3.connect(path)
    try:
        return sorted(row[0] for row in conn.execute("SELECT name FROM items"))
    finally:
        conn.close()


def test_a_write_is_committed_before_it_returns(database):
    setup, path = database
    row_id = group_commit.write(setup, insert("a"))
    assert names(path) == ["a"]  # seen by another connection: committed
    assert row_id == 1


def run_batched(committer, committer_path, jobs):
    """Hold the leader with a first job, queue `jobs` (name -> work) behind it, then let it go:
    the queued jobs meet in one batch. Returns name -> result or exception."""
    release, started = threading.Event(), threading.Event()
    outcomes = {}

    def hold(writer):
        started.set()
        release.wait(10)
        return insert("hold")(writer)

    def submit(name, work):
        connection = db.connect(committer_path)
        try:
            outcomes[name] = committer.run(connection, work)
        except Exception as exc:  # noqa: BLE001 - the test looks at which exception came back
            outcomes[name] = exc
        finally:
            connection.conn.close()

    threads = [threading.Thread(target=submit, args=("hold", hold))]
    threads[0].start()
    assert started.wait(10)
    for name, work in jobs.items():
        threads.append(threading.Thread(target=submit, args=(name, work)))
        threads[-1].start()
    for _ in range(2000):
        if len(committer._queue) == len(jobs):
            break
        threading.Event().wait(0.005)
    queued = len(committer._queue)
    release.set()
    for thread in threads:
        thread.join(10)
    assert queued == len(jobs), "the jobs must all wait behind the held one"
    return outcomes


def test_jobs_queued_during_a_commit_share_the_next_one(database):
    _, path = database
    committer = group_commit.GroupCommitter(group_above_seconds=0)
    outcomes = run_batched(committer, path, {f"n{number:02d}": insert(f"n{number:02d}")
                                       for number in range(20)})
    assert committer.commits == 2  # the held job, then all twenty together
    assert names(path) == ["hold"] + [f"n{number:02d}" for number in range(20)]
    assert sorted(outcomes.values()) == list(range(1, 22))


def test_a_failing_job_is_undone_alone_and_gets_its_own_error(database):
    _, path = database
    committer = group_commit.GroupCommitter(group_above_seconds=0)

    def half_then_fail(writer):
        insert("half")(writer)
        raise ValueError("bad job")

    # "dup" repeats the name of the job committed before the batch (not one inside it, whose
    # place in the queue depends on which thread gets there first).
    outcomes = run_batched(committer, path, {"a": insert("a"), "bad": half_then_fail,
                                             "dup": insert("hold"), "b": insert("b")})
    assert isinstance(outcomes["bad"], ValueError)
    assert isinstance(outcomes["dup"], sqlite3.IntegrityError)  # UNIQUE name: also alone
    assert names(path) == ["a", "b", "hold"]  # nothing of "half"; the others kept
    assert committer.commits == 3  # hold, then the batch failed and a and b went alone


def test_when_the_commit_fails_each_job_is_tried_alone(database):
    """A deferred foreign key is checked at COMMIT: the whole batch is rolled back, then each
    job runs alone, so only the bad one fails."""
    setup, path = database
    setup.execute("CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER "
                  "REFERENCES items(id) DEFERRABLE INITIALLY DEFERRED)")
    committer = group_commit.GroupCommitter(group_above_seconds=0)

    def orphan(writer):
        writer.execute("INSERT INTO children (parent) VALUES (999)")

    outcomes = run_batched(committer, path, {"ok": insert("ok"), "orphan": orphan})
    assert outcomes["ok"] == 2
    assert isinstance(outcomes["orphan"], sqlite3.IntegrityError)
    assert names(path) == ["hold", "ok"]
    assert committer.run(setup, insert("next")) == 3


def test_inside_a_transaction_the_write_runs_on_the_callers_connection(database):
    setup, path = database
    with db.write_transaction(setup):
        group_commit.write(setup, insert("inner"))
        assert setup.execute("SELECT count(*) FROM items").fetchone()[0] == 1
        setup.conn.execute("ROLLBACK")  # the outer transaction owns the outcome
        setup.conn.execute("BEGIN")
    assert names(path) == []


def test_many_threads_store_every_job_exactly_once(database):
    setup, path = database
    errors = []

    def worker(number):
        connection = db.connect(path)  # one per thread, as each request has its own
        try:
            for item in range(25):
                group_commit.write(connection, insert(f"{number}-{item}"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.conn.close()

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(names(path)) == 12 * 25
    assert group_commit.committer_for(setup.real_path).commits <= 12 * 25


def test_a_lock_timeout_fails_the_batch_without_a_retry_per_job(database, monkeypatch):
    """Retrying each job alone would make every caller wait for the lock once more."""
    _, path = database
    committer = group_commit.GroupCommitter(group_above_seconds=0)
    attempts = []
    real = db.write_transaction

    def locked_once_open(connection):
        attempts.append(1)
        if len(attempts) == 2:  # the batch after the held job
            raise sqlite3.OperationalError("database is locked")
        return real(connection)

    monkeypatch.setattr(db, "write_transaction", locked_once_open)
    outcomes = run_batched(committer, path, {"a": insert("a"), "b": insert("b")})
    assert all(isinstance(outcomes[name], sqlite3.OperationalError) for name in ("a", "b"))
    assert len(attempts) == 2 and names(path) == ["hold"]


class SlowDisk:
    """A clock that moves 5 ms between readings: COMMIT seems to take 5 ms."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.005
        return self.now


def test_on_a_fast_disk_jobs_are_not_grouped(database):
    """Grouping costs CPU (every grouped thread wakes at once); with commits far below the
    threshold each job gets its own transaction."""
    _, path = database
    committer = group_commit.GroupCommitter(group_above_seconds=10)
    outcomes = run_batched(committer, path, {f"n{number}": insert(f"n{number}")
                                             for number in range(5)})
    assert committer.commits == 6 and sorted(outcomes.values()) == list(range(1, 7))


def test_slow_commits_turn_grouping_on(database):
    _, path = database
    committer = group_commit.GroupCommitter(group_above_seconds=0.001)
    committer.clock = SlowDisk()
    outcomes = run_batched(committer, path, {f"n{number}": insert(f"n{number}")
                                             for number in range(5)})
    assert committer.commit_seconds >= 0.001
    assert committer.commits == 2 and sorted(outcomes.values()) == list(range(1, 7))
