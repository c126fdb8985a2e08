"""Watchlist at scale: import of a 1M-line file and lookups in a 1M-entry watchlist.

    python benchmarks/bench_watchlist.py [--entries 1000000] [--import-rounds 3] [--lookups 20000]

Measures, on a fresh SQLite file in a temporary folder (WAL, synchronous=FULL, as in production):

- import: `csv_import.import_file` (decode, validate, hash, one write transaction, ledger
  event) on a generated CSV of --entries lines, median of --import-rounds fresh databases; also
  how long the write lock is held, since tellers' writes wait for it (busy timeout 10 s);
  baseline in the same run: a raw `executemany` of the same, already hashed rows;
- lookup: `signals.is_watchlisted` on random hashes, half listed, half not, per-call median;
  baseline: a raw primary-key SELECT on the bare sqlite3 connection; also the search page's
  path (normalise + keyed hash + lookup) and `cross_session_facts` with 200,000 sessions;
- the list page's queries (count and first keyset page).

Targets: lookup median <= 1 ms; import of 1M lines <= 60 s. Figures are medians (shared
2-core machine).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import resource
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from teller_guard import audit, db, pii  # noqa: E402
from teller_guard.config import DEFAULTS  # noqa: E402
from teller_guard.watchlist import csv_import, signals, store  # noqa: E402

LOOKUP_TARGET_MS = 1.0
IMPORT_TARGET_S = 60.0
PII_KEY = pii.pii_key("bench secret")
LEDGER_KEY = audit.chain_key("bench secret")


def account_numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    numbers = set()
    while len(numbers) < count:
        numbers.add(f"62{rng.randrange(10**16, 10**17)}")  # 19-digit UnionPay-like
    return sorted(numbers, key=lambda _: rng.random())


def csv_file(numbers: list[str]) -> bytes:
    lines = ["账号,来源,日期,备注"]
    lines += [f"{number},市公安局反诈中心,2026-03-{index % 28 + 1:02d},协查通报"
              for index, number in enumerate(numbers)]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def remove_database(folder: Path, name: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(folder / f"{name}.db{suffix}")


def fresh_database(folder: Path, name: str):
    path = folder / f"{name}.db"
    remove_database(folder, name)
    db.prepare(path)
    return db.connect(path)


class LockTimer:
    """Wraps csv_import.write_transaction to measure how long the write lock is held."""

    def __init__(self):
        self.held = []
        self.original = csv_import.write_transaction

    @contextlib.contextmanager
    def __call__(self, database):
        start = time.perf_counter()
        with self.original(database):
            yield database
        self.held.append(time.perf_counter() - start)


def bench_import(folder: Path, data: bytes, rounds: int) -> tuple[list[float], list[float], object]:
    timer = LockTimer()
    csv_import.write_transaction = timer
    totals, report = [], None
    try:
        for round_number in range(rounds):
            database = fresh_database(folder, f"import{round_number}")
            start = time.perf_counter()
            report = csv_import.import_file(database, pii_key=PII_KEY, ledger_key=LEDGER_KEY,
                                            data=data, actor_id=None, today=date(2026, 3, 31))
            totals.append(time.perf_counter() - start)
            database.conn.close()
            if round_number < rounds - 1:
                remove_database(folder, f"import{round_number}")
    finally:
        csv_import.write_transaction = timer.original
    return totals, timer.held, report


def bench_raw_executemany(folder: Path, numbers: list[str], rounds: int,
                          sort: bool) -> list[float]:
    rows = [(pii.keyed_hash(PII_KEY, number), pii.mask_account(number), "市公安局反诈中心",
             "2026-03-01", "协查通报", 1, "2026-03-31T10:00:00+08:00") for number in numbers]
    if sort:
        rows.sort()
    times = []
    for round_number in range(rounds):
        database = fresh_database(folder, f"raw{round_number}")
        start = time.perf_counter()
        database.conn.execute("BEGIN IMMEDIATE")
        database.conn.executemany(
            "INSERT INTO watchlist (account_hash, account_masked, source, listed_on, note, "
            "import_id, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        database.conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
        database.conn.close()
        remove_database(folder, f"raw{round_number}")
    return times


def per_call_ms(function, arguments: list) -> float:
    for argument in arguments[:200]:  # warm-up
        function(argument)
    durations = []
    for argument in arguments:
        start = time.perf_counter_ns()
        function(argument)
        durations.append(time.perf_counter_ns() - start)
    return statistics.median(durations) / 1e6


def add_sessions(database, numbers: list[str], count: int) -> None:
    """Synthetic sessions over 60 days: 20,000 payees, 100,000 customers."""
    rng = random.Random(7)
    now = datetime.now().astimezone()
    payees = [pii.keyed_hash(PII_KEY, number) for number in numbers[:20_000]]
    customers = [pii.keyed_hash(PII_KEY, f"customer{n}") for n in range(100_000)]
    database.execute("INSERT INTO users (id, username, role, password_hash) "
                     "VALUES (1, 'bench', 'teller', 'x')")
    rows = [(f"TG{n:08d}", 1, (now - timedelta(minutes=rng.randrange(60 * 24 * 60))).isoformat(
        timespec="seconds"), "finished", rng.choice(payees), "6222 **** **** 0000",
        rng.choice(customers), rng.choice(["low", "low", "low", "medium", "high", "critical"]),
        "proceeded") for n in range(count)]
    database.conn.execute("BEGIN IMMEDIATE")
    database.conn.executemany(
        "INSERT INTO sessions (reference, teller_id, started_at, status, payee_hash, "
        "payee_masked, customer_hash, level, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    database.conn.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--import-rounds", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=200_000)
    args = parser.parse_args()

    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} cpus, {platform.machine()}")
    numbers = account_numbers(args.entries, seed=1)
    data = csv_file(numbers)
    print(f"file: {args.entries:,} lines, {len(data) / 1e6:.1f} MB")

    with tempfile.TemporaryDirectory(prefix="bench_watchlist_") as folder_name:
        folder = Path(folder_name)
        start = time.perf_counter()
        parsed = csv_import.parse(csv_import.decode(data), PII_KEY, date(2026, 3, 31))
        parse_seconds = time.perf_counter() - start
        assert len(parsed.entries) == args.entries and not parsed.errors
        del parsed
        totals, lock_held, report = bench_import(folder, data, args.import_rounds)
        assert report.imported and report.added == args.entries
        raw_median = statistics.median(bench_raw_executemany(folder, numbers, args.import_rounds, False))
        raw_sorted = statistics.median(bench_raw_executemany(folder, numbers, args.import_rounds, True))
        import_median = statistics.median(totals)
        print(f"import_file ({args.import_rounds} rounds): median {import_median:6.2f} s "
              f"[{', '.join(f'{t:.2f}' for t in totals)}]")
        print(f"  of which decode+validate+hash (separate run): {parse_seconds:6.2f} s")
        print(f"  write lock held:                             "
              f"{statistics.median(lock_held):6.2f} s (median)")
        print(f"baseline raw executemany, hashed rows in file order:  {raw_median:6.2f} s "
              f"-> import is {import_median / raw_median:.2f}x")
        print(f"baseline raw executemany, hashed rows sorted by hash: {raw_sorted:6.2f} s "
              f"-> import is {import_median / raw_sorted:.2f}x")

        database = db.connect(folder / f"import{args.import_rounds - 1}.db")
        rng = random.Random(3)
        listed = [pii.keyed_hash(PII_KEY, number) for number in rng.sample(numbers, args.lookups // 2)]
        unlisted = [pii.keyed_hash(PII_KEY, f"6{n:018d}") for n in range(args.lookups // 2)]
        hashes = listed + unlisted
        rng.shuffle(hashes)
        assert all(signals.is_watchlisted(database, value) for value in listed[:100])
        lookup = per_call_ms(lambda value: signals.is_watchlisted(database, value), hashes)
        raw_conn = sqlite3.connect(folder / f"import{args.import_rounds - 1}.db")
        raw_lookup = per_call_ms(lambda value: raw_conn.execute(
            "SELECT 1 FROM watchlist WHERE account_hash = ?", (value,)).fetchone(), hashes)
        typed = [f"{number[:4]} {number[4:8]} {number[8:12]} {number[12:]}"
                 for number in rng.sample(numbers, 2000)]
        search = per_call_ms(lambda text: store.find(
            database, store.account_hash(PII_KEY, store.account_digits(text))), typed)
        print(f"is_watchlisted, {args.entries:,} entries ({len(hashes):,} calls, half listed): "
              f"median {lookup * 1000:7.1f} us")
        print(f"baseline raw sqlite3 primary-key SELECT:                 "
              f"median {raw_lookup * 1000:7.1f} us -> {lookup / raw_lookup:.1f}x")
        print(f"search path (normalise + keyed hash + find):             median {search * 1000:7.1f} us")

        add_sessions(database, numbers, args.sessions)
        now = datetime.now().astimezone()
        pairs = [(signals_payee, pii.keyed_hash(PII_KEY, f"customer{rng.randrange(100_000)}"))
                 for signals_payee in (pii.keyed_hash(PII_KEY, number)
                                       for number in rng.sample(numbers[:20_000], 2000))]
        facts = per_call_ms(lambda pair: signals.cross_session_facts(
            database, pair[0], pair[1], now, DEFAULTS), pairs)
        print(f"cross_session_facts, {args.sessions:,} sessions (~{args.sessions // 20_000} per payee "
              f"in 60 days): median {facts * 1000:7.1f} us")

        count_ms = per_call_ms(lambda _: store.count(database), list(range(7)))
        page_ms = per_call_ms(lambda _: store.page(database), list(range(50)))
        print(f"list page queries: count(*) {count_ms:6.1f} ms, first keyset page {page_ms:6.2f} ms (medians)")
        size_mb = sum(path.stat().st_size for path in folder.glob(f"import{args.import_rounds - 1}.db*")) / 1e6
        print(f"database with {args.entries:,} entries: {size_mb:.0f} MB (incl. WAL)")
        raw_conn.close()
        database.conn.close()

    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    lookup_ok = lookup <= LOOKUP_TARGET_MS
    import_ok = import_median <= IMPORT_TARGET_S
    print(f"target lookup <= {LOOKUP_TARGET_MS} ms: {'met' if lookup_ok else 'MISSED'}; "
          f"target import <= {IMPORT_TARGET_S:.0f} s: {'met' if import_ok else 'MISSED'}")


if __name__ == "__main__":
    main()
