"""Server-side timings of the review area on a large instance.

    python benchmarks/generate_sessions.py --instance /tmp/bench1m -n 1000000
    python benchmarks/bench_review.py --instance /tmp/bench1m

    # PostgreSQL: a throwaway database on the server of TELLER_GUARD_TEST_DATABASE_URL, filled
    # with --sessions generated sessions, benchmarked and dropped (--keep-database keeps it;
    # --database-url benchmarks an existing one instead)
    python benchmarks/bench_review.py --backend postgresql --instance /tmp/bench-pg \
        --sessions 1000000 --skip-pages --verify-runs 3 --verify-parts

Prints the median (and max) of --runs requests through Flask's test client (routing, SQL,
templates; no network) for the queue's first page, filtered and deep pages, and the statistics
page; then the wall time of `teller-guard verify` (chain + sessions check) on the instance.
Targets: queue pages <= 50 ms, statistics <= 100 ms, verify over 1M rows <= 10 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teller_guard import audit, create_app, db, login_sessions, storage  # noqa: E402
from teller_guard.review import integrity  # noqa: E402

QUEUE_TARGET_MS = 50
STATS_TARGET_MS = 100  # issue 14
VERIFY_TARGET_S = 10


def logged_in_client(app):
    """A client holding a security officer's session (no password hashing in the loop)."""
    database = db.connect(app.config["DATABASE"])
    try:
        row = database.execute(
            "SELECT id, role FROM users WHERE role IN ('security', 'admin') AND active = 1 "
            "ORDER BY role = 'security' DESC, id LIMIT 1").fetchone()
        if row is None:
            sys.exit("no security or admin account in this instance: run generate_sessions.py "
                     "first")
        with storage.transaction(database):  # sessions live on the server (login_sessions.py)
            token = login_sessions.start(database, row[0])
    finally:
        database.conn.close()
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(sid=token, user_id=row[0], role=row[1], last_seen=int(time.time()) + 86400)
    return client


def time_get(client, path: str, runs: int) -> tuple[float, float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")
    return statistics.median(timings), max(timings)


def oldest_day(app) -> date:
    database = db.connect(app.config["DATABASE"])
    try:
        oldest = database.execute("SELECT min(day) FROM stats_day_level").fetchone()[0]
    finally:
        database.conn.close()
    return date.fromisoformat(oldest) if oldest else date.today()


def queue_paths(app) -> list[tuple[str, str]]:
    database = db.connect(app.config["DATABASE"])
    try:
        teller = database.execute("SELECT teller_id FROM sessions WHERE in_queue = 1 "
                                  "ORDER BY id DESC LIMIT 1").fetchone()
        middle = database.execute("SELECT id FROM sessions WHERE in_queue = 1 ORDER BY id "
                                  "LIMIT 1 OFFSET (SELECT count(*) / 2 FROM sessions "
                                  "WHERE in_queue = 1)").fetchone()
    finally:
        database.conn.close()
    today = date.today()
    year_ago = today - timedelta(days=365)
    first = oldest_day(app)
    return [
        ("queue, first page", "/review/"),
        ("level = 极高风险", "/review/?level=critical"),
        ("status = 误报", "/review/?status=false_alarm"),
        ("status = 待复核", "/review/?status=pending"),
        ("teller", f"/review/?teller={teller[0] if teller else 1}"),
        ("typology = 游戏装备 (rare)", "/review/?typology=game_trade"),
        ("outcome = 已报警", "/review/?outcome=police_called"),
        ("one month a year ago", f"/review/?date_from={year_ago}&date_to={year_ago + timedelta(days=30)}"),
        ("oldest week", f"/review/?date_from={first}&date_to={first + timedelta(days=6)}"),
        ("reference prefix (one month)", f"/review/?reference=TG{year_ago:%Y%m}"),
        ("combined filters", f"/review/?level=high&status=false_alarm&date_from={year_ago}"),
        ("page in the middle (keyset)", f"/review/?after={middle[0] if middle else 1}"),
    ]


SERVER_VARIABLE = "TELLER_GUARD_TEST_DATABASE_URL"


def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""  # keeps postgresql:///db?host=/socket
    return f"{parts.scheme}://{parts.netloc}/{name}{query}"


def throwaway_database() -> str:
    """A new database on the server named by TELLER_GUARD_TEST_DATABASE_URL; its URL."""
    server = os.environ.get(SERVER_VARIABLE)
    if not server:
        sys.exit(f"--backend postgresql needs {SERVER_VARIABLE} (a server where this role may "
                 "create databases), e.g. postgresql:///postgres?host=/var/run/postgresql")
    name = f"tg_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = db.connect(server)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.conn.close()
    return with_database(server, name)


def name_of(target) -> str:
    """The database file, or the PostgreSQL database's name (never the URL's password)."""
    from urllib.parse import urlsplit

    return f"PostgreSQL {urlsplit(target).path.lstrip('/')}" if db.is_postgresql(target) \
        else str(target)


def drop_database(url: str) -> None:
    from urllib.parse import urlsplit

    admin = db.connect(os.environ[SERVER_VARIABLE])
    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        admin.conn.close()


def generate(instance: Path, url: str, count: int) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate_sessions", Path(__file__).resolve().parent / "generate_sessions.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)

    def progress(done, total):
        if done % 100_000 < 20_000:
            print(f"  generated {done:,} / {total:,}", file=sys.stderr, flush=True)

    result = generator.generate(instance, count, progress=progress, database_url=url)
    print(f"generated {result['sessions']:,} sessions and {result['events']:,} ledger events in "
          f"{result['seconds']:.0f} s", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", required=True, type=Path)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sessions", type=int, default=1_000_000,
                        help="postgresql: sessions to generate into the throwaway database")
    parser.add_argument("--database-url", help="postgresql: benchmark this database (already "
                                               "generated with the instance's keys) instead")
    parser.add_argument("--keep-database", action="store_true",
                        help="postgresql: do not drop the throwaway database")
    parser.add_argument("--runs", type=int, default=21, help="requests per page (median of them)")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--verify-runs", type=int, default=1)
    parser.add_argument("--verify-parts", action="store_true",
                        help="also time the chain walk and the sessions check alone")
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    if args.backend == "sqlite":
        return run(args, None)
    url = args.database_url
    if url is None:
        url = throwaway_database()
        print(f"throwaway database {name_of(url)}", flush=True)
    try:
        if args.database_url is None:
            generate(args.instance, url, args.sessions)
        return run(args, url)
    finally:
        if args.database_url is None and not args.keep_database:
            drop_database(url)
            print(f"dropped {name_of(url)}")


def run(args, url: str | None) -> int:
    app = create_app({"DATABASE_URL": url} if url else None, instance_path=args.instance)
    db.prepare(app.config["DATABASE"])
    database = db.connect(app.config["DATABASE"])
    sessions, queued, ledger = database.execute(
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM sessions WHERE in_queue = 1), "
        "(SELECT max(id) FROM ledger)").fetchone()
    database.conn.close()
    print(f"instance {args.instance} ({name_of(app.config['DATABASE'])}): {sessions:,} "
          f"sessions, {queued:,} queued, {ledger or 0:,} ledger rows; median of {args.runs} "
          "requests, ms (max)")
    failures = 0 if args.skip_pages else pages(app, args.runs)
    if not args.skip_verify:
        failures += verify(app, args)
    return 1 if failures else 0


def must_show_screenings(client, oldest: date) -> None:
    """A page that shows nothing is fast and worthless to time: the officer must see the
    screenings (a user without a branch, say, sees none of a branch's)."""
    queue = client.get("/review/").get_data(as_text=True)
    figures = client.get(f"/review/statistics?date_from={oldest}&date_to={date.today()}")
    found = re.search(r"问询总数</dt>\s*<dd[^>]*>([\d,]+)", figures.get_data(as_text=True))
    total = int(found.group(1).replace(",", "")) if found else 0
    if "TG" not in queue or not total:
        sys.exit("the review pages show no screenings to this officer: nothing to measure")


def pages(app, runs: int) -> int:
    client = logged_in_client(app)
    must_show_screenings(client, oldest_day(app))
    failures = 0
    for label, path in queue_paths(app):
        median, worst = time_get(client, path, runs)
        flag = "" if median <= QUEUE_TARGET_MS else "  <-- over target"
        failures += bool(flag)
        print(f"  {label:32s} {median:8.1f} ms ({worst:7.1f}){flag}   GET {path}")
    today = date.today()
    for label, path in (("statistics, last 30 days", "/review/statistics"),
                        ("statistics, last year", f"/review/statistics?date_from={today - timedelta(days=364)}"
                                                  f"&date_to={today}"),
                        ("statistics, everything", f"/review/statistics?date_from={oldest_day(app)}"
                                                   f"&date_to={today}")):
        median, worst = time_get(client, path, runs)
        flag = "" if median <= STATS_TARGET_MS else "  <-- over target"
        failures += bool(flag)
        print(f"  {label:32s} {median:8.1f} ms ({worst:7.1f}){flag}   GET {path}")
    return failures


def timed(work) -> tuple[float, float]:
    """Wall and CPU seconds (this process and its children, e.g. chain workers) of work()."""
    started, before = time.perf_counter(), os.times()
    work()
    after = os.times()
    cpu = sum(after[:4]) - sum(before[:4])
    return time.perf_counter() - started, cpu


def verify(app, args) -> int:
    target = app.config["DATABASE"]
    key = app.extensions["teller_guard"]["ledger_key"]
    reports, walls, cpus = [], [], []
    for _ in range(args.verify_runs):
        wall, cpu = timed(lambda: reports.append(integrity.verify(target, key)))
        walls.append(wall)
        cpus.append(cpu)
    report = reports[-1]
    seconds = statistics.median(walls)
    per_million = seconds / max(report.ledger_rows, 1) * 1_000_000
    print(f"  verify ({name_of(target)}): median {seconds:.1f} s of {len(walls)} runs "
          f"({', '.join(f'{wall:.1f}' for wall in walls)} s; this process's CPU "
          f"{statistics.median(cpus):.1f} s) for {report.ledger_rows:,} ledger rows and "
          f"{report.session_rows:,} sessions = {per_million:.1f} s per million ledger rows; "
          f"{report.summary()}")
    if args.verify_parts:
        for label, work in (("chain walk alone", lambda: chain_alone(target, key)),
                            ("sessions check alone", lambda: sessions_alone(target, key))):
            parts = [timed(work) for _ in range(args.verify_runs)]
            print(f"    {label}: median {statistics.median(p[0] for p in parts):.1f} s "
                  f"({', '.join(f'{p[0]:.1f}' for p in parts)} s; this process's CPU "
                  f"{statistics.median(p[1] for p in parts):.1f} s)")
    if per_million > VERIFY_TARGET_S:
        print("    <-- over target (10 s per million rows)")
        return 1
    return 0


def chain_alone(target, key: bytes) -> None:
    database = db.connect(target)
    try:
        audit.verify_chain(database, key, workers=os.cpu_count() or 1)
    finally:
        database.conn.close()


def sessions_alone(target, key: bytes) -> None:
    database = db.connect(target)
    try:
        integrity.check_sessions(database, key)
    finally:
        database.conn.close()


if __name__ == "__main__":
    sys.exit(main())
