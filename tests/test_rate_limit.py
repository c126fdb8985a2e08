"""The API's per-token limit: a sliding minute, one count for every server process."""

import subprocess
import sys
import textwrap

import pytest

from teller_guard import rate_limit

MINUTE = 60 * 29_000_000  # the start of a minute (a fixed clock: no test straddles two)


@pytest.fixture(params=["file", "memory"])
def limiter(request, tmp_path):
    return rate_limit.RateLimiter(str(tmp_path / "rate.bin") if request.param == "file" else None)


def test_the_limit_holds_within_a_minute(limiter):
    allowed = [limiter.allow(7, 5, now=MINUTE + second) for second in range(10)]
    assert allowed == [True] * 5 + [False] * 5


def test_tokens_are_counted_apart(limiter):
    assert [limiter.allow(1, 2, now=MINUTE) for _ in range(3)] == [True, True, False]
    assert [limiter.allow(2, 2, now=MINUTE) for _ in range(3)] == [True, True, False]
    # Two tokens that share a first slot (1 and 1 + SLOTS) still keep their own counts.
    assert limiter.allow(1 + rate_limit.SLOTS, 1, now=MINUTE) is True
    assert limiter.allow(1, 2, now=MINUTE) is False


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


def test_two_limiters_on_one_file_share_the_count(tmp_path):
    """Two workers each open the file: one limit between them, not one each."""
    path = str(tmp_path / "rate.bin")
    first, second = rate_limit.RateLimiter(path), rate_limit.RateLimiter(path)
    allowed = [limiter.allow(9, 6, now=MINUTE) for _ in range(6) for limiter in (first, second)]
    assert allowed.count(True) == 6


@pytest.mark.skipif(sys.platform == "win32", reason="the shared file needs fcntl")
def test_processes_share_the_limit(tmp_path):
    path = tmp_path / "rate.bin"
    script = textwrap.dedent(f"""
        from teller_guard.rate_limit import RateLimiter
        limiter = RateLimiter({str(path)!r})
        print(sum(limiter.allow(5, 100, now={MINUTE}) for _ in range(80)))
    """)
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
               for _ in range(3)]
    counts = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    assert sum(counts) == 100  # 240 asked, 100 allowed across the three processes
