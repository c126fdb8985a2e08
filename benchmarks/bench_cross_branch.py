"""Cross-branch signals at scale (issue 16, item 5): the two lookups every screening makes
(a payee paid at other branches, a customer screened at other branches) and the head-office
radar, on PostgreSQL with N sessions over 10,000 branches.

    export TELLER_GUARD_TEST_DATABASE_URL='postgresql:///postgres?host=/var/run/postgresql'
    python benchmarks/bench_cross_branch.py [--sessions 1000000] [--lookups 1000]
        [--compare-plain] [--keep-database] [--database-url URL]

A throwaway database is made as tests/postgres_support.create_database does, the schema at
HEAD (db.prepare), then the sessions are generated in the server (INSERT ... SELECT
generate_series; the table's triggers and its other indexes are left out while loading, then
the schema's two signal indexes and the started_at index are built and the table vacuumed, as
autovacuum would have it). Goal: each lookup ≤ 2 ms at 10M sessions.

Timed through the app's own functions (watchlist.signals.payee_branches / customer_branches:
query, branch names, dataclass) and, for the query alone, storage.watchlist. Medians and p99
over --lookups random payees/customers (half with a session in the window, half from the
whole two years), plus a hot collecting payee (5,000 sessions at 500 branches this week).
--compare-plain times the payee query again on the plain (payee_hash, started_at) index of
revision 0009, the baseline. The database is dropped afterwards unless --keep-database.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from teller_guard import db  # noqa: E402
from teller_guard.storage import schema  # noqa: E402
from teller_guard.storage import watchlist as watchlist_store  # noqa: E402
from teller_guard.watchlist import radar, signals  # noqa: E402

BRANCHES = 10_000
DAYS = 730
HOT_SESSIONS, HOT_BRANCHES = 5_000, 500
READ = signals.SESSIONS_READ


def payee_hash(number: int) -> str:
    return (hashlib.md5(f"p{number}".encode()).hexdigest()  # noqa: S324 - synthetic ids
            + hashlib.md5(f"q{number}".encode()).hexdigest())  # noqa: S324


def customer_hash(number: int) -> str:
    return (hashlib.md5(f"c{number}".encode()).hexdigest()  # noqa: S324
            + hashlib.md5(f"d{number}".encode()).hexdigest())  # noqa: S324


def sql_hash(letters: str, expression: str) -> str:
    first, second = letters
    return f"md5('{first}' || ({expression})::text) || md5('{second}' || ({expression})::text)"


def offset_text(now: datetime) -> str:
    return now.isoformat(timespec="seconds")[19:]  # "+08:00" as started_at carries it


def generate(database, sessions: int, now: datetime) -> float:
    payees, customers = max(sessions // 2, 1), max(sessions // 3, 1)
    started = time.perf_counter()
    database.execute("INSERT INTO users (username, role, password_hash, branch_id) "
                     "VALUES ('bench', 'teller', 'x', 1)")
    database.execute(
        "INSERT INTO branches (code, name, bank_name, province, city, large_amount, elderly_age, "
        "slip_paper) SELECT lpad(n::text, 5, '0'), '第' || n || '支行', '示例银行', '河北省', "
        "'邢台市', '50000', 60, 'a5' FROM generate_series(2, ?) AS n", [BRANCHES])
    indexes = [row[0] for row in database.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'sessions' "
        "AND indexname != 'sessions_pkey'").fetchall()]
    for name in indexes:
        database.execute(f"DROP INDEX {name}")
    database.execute("ALTER TABLE sessions DISABLE TRIGGER ALL")  # statistics and foreign keys
    database.execute("SELECT setseed(0.7)")
    base = now.replace(tzinfo=None).isoformat(timespec="seconds")
    offset = offset_text(now)
    started_at = ("to_char(timestamp '{base}' - (({n}::float8 / {total}) * {days} * 86400) "
                  "* interval '1 second', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '{offset}'")
    database.execute(
        "INSERT INTO sessions (reference, teller_id, started_at, status, payee_hash, "
        "payee_masked, customer_hash, level, amount_fen, branch_id) "
        f"SELECT 'B' || n, 1, {started_at.format(base=base, n=f'({sessions} - n)', total=sessions, days=DAYS, offset=offset)}, "  # noqa: E501
        "CASE WHEN random() < 0.02 THEN 'discarded' ELSE 'finished' END, "
        f"{sql_hash('pq', f'floor(random() * {payees})::bigint')}, '6222 **** **** 0000', "
        f"{sql_hash('cd', f'floor(random() * {customers})::bigint')}, "
        "(ARRAY['low','low','low','low','low','low','low','medium','medium','high'])"
        "[1 + floor(random() * 10)::int], (1 + floor(random() * 200))::bigint * 50000, "
        f"1 + floor(random() * {BRANCHES})::int FROM generate_series(1, ?) AS n", [sessions])
    # The hot collecting payee: this week, at HOT_BRANCHES branches, all different customers.
    database.execute(
        "INSERT INTO sessions (reference, teller_id, started_at, status, payee_hash, "
        "payee_masked, customer_hash, level, amount_fen, branch_id) "
        f"SELECT 'H' || n, 1, {started_at.format(base=base, n='n', total=HOT_SESSIONS, days=6, offset=offset)}, "  # noqa: E501
        f"'finished', '{payee_hash(-1)}', '6222 **** **** 9999', "
        f"{sql_hash('cd', '-n')}, 'high', 5000000, 2 + (n % {HOT_BRANCHES}) "
        "FROM generate_series(1, ?) AS n", [HOT_SESSIONS])
    loaded = time.perf_counter()
    database.execute("ALTER TABLE sessions ENABLE TRIGGER ALL")
    for index in schema.sessions.indexes:
        if index.name in ("idx_sessions_payee_hash_started_at",
                          "idx_sessions_customer_hash_started_at", "idx_sessions_started_at"):
            include = index.dialect_options["postgresql"].get("include") or []
            columns = ", ".join(column.name for column in index.columns)
            database.execute(f"CREATE INDEX {index.name} ON sessions ({columns})"
                             + (f" INCLUDE ({', '.join(include)})" if include else ""))
    indexed = time.perf_counter()
    database.execute("VACUUM ANALYZE sessions")
    database.execute("VACUUM ANALYZE branches")
    print(f"generated {sessions:,} sessions (+{HOT_SESSIONS:,} hot) over {BRANCHES:,} branches: "
          f"load {loaded - started:.0f} s, indexes {indexed - loaded:.0f} s, "
          f"vacuum {time.perf_counter() - indexed:.0f} s", flush=True)
    return time.perf_counter() - started


def timed(call, arguments) -> list[float]:
    times = []
    for argument in arguments:
        begin = time.perf_counter()
        call(*argument)
        times.append((time.perf_counter() - begin) * 1000)
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"  {label:<58} median {statistics.median(times):7.3f} ms   p99 {p99:7.3f} ms   "
          f"({len(times)} calls)", flush=True)


def samples(database, sessions: int, lookups: int, now: datetime, rng: random.Random):
    low = (now - timedelta(days=7)).isoformat(timespec="seconds")
    recent = database.execute(
        "SELECT payee_hash, customer_hash, branch_id FROM sessions TABLESAMPLE SYSTEM (1) "
        "WHERE started_at >= ? LIMIT ?", [low, lookups // 2]).fetchall()
    if len(recent) < lookups // 2:
        recent = database.execute(
            "SELECT payee_hash, customer_hash, branch_id FROM sessions WHERE started_at >= ? "
            "ORDER BY random() LIMIT ?", [low, lookups // 2]).fetchall()
    anywhere = [(payee_hash(rng.randrange(max(sessions // 2, 1))),
                 customer_hash(rng.randrange(max(sessions // 3, 1))),
                 rng.randrange(1, BRANCHES + 1)) for _ in range(lookups - len(recent))]
    return [tuple(row) for row in recent] + anywhere


def explain(database, sql: str, params: list) -> str:
    plan = [row[0] for row in database.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)]
    scan = next((line.strip() for line in plan if "Scan" in line), plan[0].strip())
    fetches = next((line.strip() for line in plan if "Heap Fetches" in line), "")
    execution = next((line.strip() for line in plan if "Execution Time" in line), "")
    return f"{scan.split('  (')[0]}; {fetches}; {execution}"


def measure(database, sessions: int, lookups: int, now: datetime, compare_plain: bool) -> None:
    rng = random.Random(7)
    chosen = samples(database, sessions, lookups, now, rng)
    hot = payee_hash(-1)
    week = signals._text_window(now, 7)
    month = signals._text_window(now, 30)
    print(f"lookups at {sessions:,} sessions ({len(chosen)} payees/customers, "
          f"half seen this week):", flush=True)
    for _ in range(2):  # warm the caches and the connection once, as a running server has them
        timed(lambda p, c, b: signals.payee_branches(database, p, b, now), chosen[:50])
    for round_number in range(1, 3):  # the machine is shared: the rounds show the noise
        report(f"payee at other branches (signals.payee_branches), round {round_number}", timed(
            lambda p, c, b: signals.payee_branches(database, p, b, now), chosen))
        report(f"customer at other branches (signals.customer_branches), round {round_number}",
               timed(lambda p, c, b: signals.customer_branches(database, c, b, now), chosen))
    report("payee at other branches (signals.payee_branches, 7 days)", timed(
        lambda p, c, b: signals.payee_branches(database, p, b, now), chosen))
    report("  its query alone (storage.watchlist.payee_other_branches)", timed(
        lambda p, c, b: watchlist_store.payee_other_branches(database, p, *week, b, READ), chosen))
    report("customer at other branches (signals.customer_branches, 30 d)", timed(
        lambda p, c, b: signals.customer_branches(database, c, b, now), chosen))
    report("  its query alone (storage.watchlist.customer_other_branches)", timed(
        lambda p, c, b: watchlist_store.customer_other_branches(database, c, *month, b), chosen))
    report(f"hot payee ({HOT_SESSIONS:,} sessions at {HOT_BRANCHES} branches this week)", timed(
        lambda: signals.payee_branches(database, hot, 1, now), [()] * 101))
    report("  its query alone", timed(
        lambda: watchlist_store.payee_other_branches(database, hot, *week, 1, READ), [()] * 101))
    print("plans:")
    print("  payee:   " + explain(database, PAYEE_SQL, [chosen[0][0], *week, chosen[0][2]]))
    print("  hot:     " + explain(database, PAYEE_SQL, [hot, *week, 1]))
    print("  customer:" + explain(database, CUSTOMER_SQL, [chosen[0][1], *month, chosen[0][2]]))
    radar_times = timed(lambda: radar.payees(database, now, 7), [()] * 5)
    print(f"radar, 7 days (head-office page query): median {statistics.median(radar_times):.0f} ms "
          f"over 5; {len(radar.payees(database, now, 7))} payees listed", flush=True)
    if compare_plain:
        database.execute("DROP INDEX idx_sessions_payee_hash_started_at")
        database.execute("CREATE INDEX idx_sessions_payee_hash_started_at "
                         "ON sessions (payee_hash, started_at)")
        database.execute("ANALYZE sessions")
        timed(lambda p, c, b: watchlist_store.payee_other_branches(database, p, *week, b, READ),
              chosen[:50])
        print("baseline: the plain (payee_hash, started_at) index of revision 0009:")
        report("  payee query alone", timed(
            lambda p, c, b: watchlist_store.payee_other_branches(database, p, *week, b, READ), chosen))
        report("  hot payee query alone", timed(
            lambda: watchlist_store.payee_other_branches(database, hot, *week, 1, READ), [()] * 101))
        print("  plan hot: " + explain(database, PAYEE_SQL, [hot, *week, 1]))


PAYEE_SQL = ("SELECT branch_id, count(*) FROM (SELECT branch_id FROM sessions "
             "WHERE payee_hash = ? AND started_at >= ? AND started_at <= ? "
             "AND status != 'discarded' AND branch_id != ? ORDER BY started_at DESC LIMIT 1000) "
             "AS newest GROUP BY branch_id")  # storage.watchlist.payee_other_branches
CUSTOMER_SQL = ("SELECT branch_id, level, count(*), max(started_at) FROM sessions "
                "WHERE customer_hash = ? AND started_at >= ? AND started_at <= ? "
                "AND status != 'discarded' AND branch_id != ? GROUP BY branch_id, level")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--compare-plain", action="store_true")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--database-url", help="an already generated database (no generating)")
    args = parser.parse_args()
    print("command: python benchmarks/bench_cross_branch.py " + " ".join(sys.argv[1:]))
    now = datetime.now().astimezone().replace(microsecond=0)
    url = args.database_url
    if url is None:
        if not os.environ.get("TELLER_GUARD_TEST_DATABASE_URL"):
            sys.exit("set TELLER_GUARD_TEST_DATABASE_URL (a PostgreSQL server) or --database-url")
        from postgres_support import create_database, drop_database

        url = create_database("tg_bench_xbranch")
        print(f"database: {db.describe(url)}", flush=True)
    database = db.connect(url)
    try:
        if args.database_url is None:
            db.prepare(url)
            generate(database, args.sessions, now)
        size = database.execute("SELECT pg_size_pretty(pg_total_relation_size('sessions'))"
                                ).fetchone()[0]
        print(f"sessions table with its indexes: {size}")
        measure(database, args.sessions, args.lookups, now, args.compare_plain)
    finally:
        database.conn.close()
        if args.database_url is None and not args.keep_database:
            drop_database(url)
            print("database dropped")


if __name__ == "__main__":
    main()
