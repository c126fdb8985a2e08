"""Server-side timings of the review area on a large instance.

    python benchmarks/generate_sessions.py --instance /tmp/bench1m -n 1000000
    python benchmarks/bench_review.py --instance /tmp/bench1m

Prints the median (and max) of --runs requests through Flask's test client (routing, SQL,
templates; no network) for the queue's first page, filtered and deep pages, and the statistics
page; then the wall time of `teller-guard verify` (chain + sessions check) on the instance.
Targets: queue pages <= 50 ms, statistics <= 500 ms, verify over 1M rows <= 10 s.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teller_guard import create_app, db  # noqa: E402
from teller_guard.review import integrity  # noqa: E402

QUEUE_TARGET_MS = 50
STATS_TARGET_MS = 500
VERIFY_TARGET_S = 10


def logged_in_client(app):
    """A client holding a security officer's session (no password hashing in the loop)."""
    database = db.connect(app.config["DATABASE"])
    try:
        row = database.execute(
            "SELECT id, role FROM users WHERE role IN ('security', 'admin') AND active = 1 "
            "ORDER BY role = 'security' DESC, id LIMIT 1").fetchone()
    finally:
        database.conn.close()
    if row is None:
        sys.exit("no security or admin account in this instance: run generate_sessions.py first")
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(user_id=row[0], role=row[1], last_seen=int(time.time()) + 86400)
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", required=True, type=Path)
    parser.add_argument("--runs", type=int, default=21, help="requests per page (median of them)")
    parser.add_argument("--verify-runs", type=int, default=1)
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    app = create_app(instance_path=args.instance)
    db.prepare(app.config["DATABASE"])
    database = db.connect(app.config["DATABASE"])
    sessions, queued, ledger = database.execute(
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM sessions WHERE in_queue = 1), "
        "(SELECT max(id) FROM ledger)").fetchone()
    database.conn.close()
    print(f"instance {args.instance}: {sessions:,} sessions, {queued:,} queued, "
          f"{ledger or 0:,} ledger rows; median of {args.runs} requests, ms (max)")
    client = logged_in_client(app)

    failures = 0
    for label, path in queue_paths(app):
        median, worst = time_get(client, path, args.runs)
        flag = "" if median <= QUEUE_TARGET_MS else "  <-- over target"
        failures += bool(flag)
        print(f"  {label:32s} {median:8.1f} ms ({worst:7.1f}){flag}   GET {path}")
    today = date.today()
    for label, path in (("statistics, last 30 days", "/review/statistics"),
                        ("statistics, last year", f"/review/statistics?date_from={today - timedelta(days=364)}"
                                                  f"&date_to={today}"),
                        ("statistics, everything", f"/review/statistics?date_from={oldest_day(app)}"
                                                   f"&date_to={today}")):
        median, worst = time_get(client, path, args.runs)
        flag = "" if median <= STATS_TARGET_MS else "  <-- over target"
        failures += bool(flag)
        print(f"  {label:32s} {median:8.1f} ms ({worst:7.1f}){flag}   GET {path}")

    if not args.skip_verify:
        key = app.extensions["teller_guard"]["ledger_key"]
        timings = []
        for _ in range(args.verify_runs):
            report = integrity.verify(app.config["DATABASE"], key)
            timings.append(report.seconds)
        seconds = statistics.median(timings)
        per_million = seconds / max(report.ledger_rows, 1) * 1_000_000
        print(f"  verify (teller-guard verify --instance {args.instance}): {seconds:.1f} s for "
              f"{report.ledger_rows:,} ledger rows and {report.session_rows:,} sessions "
              f"= {per_million:.1f} s per million ledger rows; {report.summary()}")
        if per_million > VERIFY_TARGET_S:
            failures += 1
            print("    <-- over target (10 s per million rows)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
