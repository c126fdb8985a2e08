"""The API's per-token limit: a sliding minute, one count for all of the server's threads (in
the process's memory), or for all processes on one PostgreSQL database (in the database; every
thread with a connection of its own, as processes would have)."""

import threading

import pytest

from teller_guard import db, rate_limit

MINUTE = 60 * 29_000_000  # the start of a minute (a fixed clock: no test straddles two)


@pytest.fixture(params=["memory", "postgresql"])
def limiter(request):
    if request.param == "memory":
        return rate_limit.RateLimiter()
    return request.getfixturevalue("database_limiter")


@pytest.fixture
def database_limiter(request):
    server = request.getfixturevalue("postgres_template")
    server.reset()
    local, opened = threading.local(), []

    def connection():
        if not hasattr(local, "database"):
            local.database = db.connect(server.url)
            opened.append(local.database)
        return local.database

    yield rate_limit.DatabaseRateLimiter(connection)
    for database in opened:
        database.conn.close()


def test_the_limit_holds_within_a_minute(limiter):
    allowed = [limiter.allow(7, 5, now=MINUTE + second) for second in range(10)]
    assert allowed == [True] * 5 + [False] * 5


def test_tokens_are_counted_apart(limiter):
    assert [limiter.allow(1, 2, now=MINUTE) for _ in range(3)] == [True, True, False]
    assert [limiter.allow(2, 2, now=MINUTE) for _ in range(3)] == [True, True, False]


def test_last_minute_counts_while_it_is_still_inside_the_window(limiter):
    for _ in range(10):
        assert limiter.allow(3, 10, now=MINUTE + 50)
    # 30 s into the next minute, half of last minute's 10 are still in the window: 5 more.
    allowed = [limiter.allow(3, 10, now=MINUTE + 90) for _ in range(8)]
    assert allowed == [True] * 5 + [False] * 3
    # Two minutes later everything has left the window.
    assert limiter.allow(3, 10, now=MINUTE + 200)


def test_refused_requests_do_not_count(limiter):
    assert [limiter.allow(4, 1, now=MINUTE) for _ in range(50)] == [True] + [False] * 49
    assert limiter.allow(4, 1, now=MINUTE + 120)  # nothing left over from the refusals


def test_a_refusal_says_when_to_retry(limiter):
    assert limiter.wait(6, 2, now=MINUTE + 10) is None
    assert limiter.wait(6, 2, now=MINUTE + 10) is None
    # Two this minute, none the last: the window clears when this minute becomes the last.
    assert limiter.wait(6, 2, now=MINUTE + 10) == pytest.approx(50)


def test_threads_share_one_count(limiter):
    """The server's threads all count into one limit: 240 asked at once, 100 let through."""
    allowed = []
    start = threading.Barrier(8)

    def client():
        start.wait()
        allowed.append(sum(limiter.allow(5, 100, now=MINUTE) for _ in range(30)))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 100


def test_a_clock_behind_the_stored_minute_counts_into_it(database_limiter):
    """Processes on several hosts share the counts: one whose clock is behind another's does
    not throw away the minute the other has counted into."""
    assert [database_limiter.allow(8, 3, now=MINUTE + 61) for _ in range(2)] == [True, True]
    assert [database_limiter.allow(8, 3, now=MINUTE + 59) for _ in range(2)] == [True, False]
