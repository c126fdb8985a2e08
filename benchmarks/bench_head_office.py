"""Head office's bank-wide statistics and queue on PostgreSQL at scale.

    python benchmarks/bench_head_office.py --sessions 1000000
    python benchmarks/bench_head_office.py --sessions 10000000 --branches 40 --tellers 8

Makes a throwaway database on the server of TELLER_GUARD_TEST_DATABASE_URL (or --server),
creates the schema, --branches branches in a few provinces with --tellers tellers each, and
--sessions screenings spread over the last 365 days with INSERT … SELECT generate_series
(levels, outcomes, typologies, durations and dispositions in about the proportions of
benchmarks/generate_sessions.py; 极高 ones escalated). The statistics triggers are switched
off while generating; the daily tables are then filled with the backfill statements of
revision 0013 (timed: what upgrading such a database costs). No ledger rows: the statistics
and the queue never read the ledger.

Then prints the median (and max) of --runs for: storage + folding of the statistics (bank,
one branch, one teller; a year, by day and by month), the statistics page and the queue pages
through Flask's test client, and the cost of the new trigger on single-row writes. The
database is dropped at the end unless --keep-database. Target: bank-wide year <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teller_guard import create_app, db, labels, login_sessions, storage  # noqa: E402
from teller_guard.head_office import stats, views  # noqa: E402
from teller_guard.storage import branch_stats, head_office  # noqa: E402

TARGET_S = 1.0
PROVINCES = [("河北省", "邢台市"), ("河北省", "石家庄市"), ("广东省", "深圳市"), ("广东省", "广州市"),
             ("浙江省", "杭州市"), ("四川省", "成都市"), ("湖北省", "武汉市"), ("山东省", "济南市")]
TYPOLOGIES = ["task_rebate", "fake_investment", "fake_loan", "fake_customer_service",
              "gov_impersonation", "romance_investment", "boss_impersonation",
              "fake_prize_refund", "fake_emergency", "account_renting",
              "fake_military_purchase", "game_trade"]


def database_url(server: str, name: str) -> str:
    parts = urlsplit(server)
    # urlunsplit would drop the empty host of postgresql:///db?host=/socket/dir
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{name}{query}"


def setup(database, branches: int, tellers: int) -> tuple[int, list[int]]:
    """Branches 2.. and their tellers (branch 1 is the schema's); returns the first teller id
    and the branch ids."""
    branch_ids = [1]
    for number in range(2, branches + 1):
        province, city = PROVINCES[number % len(PROVINCES)]
        branch_ids.append(database.execute(
            "INSERT INTO branches (code, name, bank_name, province, city, large_amount, "
            "elderly_age, slip_paper) VALUES (?, ?, '示例银行', ?, ?, '50000', 60, 'a5') "
            "RETURNING id", [f"{number:04d}", f"第{number}支行", province, city]).fetchone()[0])
    first = None
    for branch_id in branch_ids:
        for number in range(tellers):
            teller = database.execute(
                "INSERT INTO users (username, display_name, staff_no, role, password_hash, "
                "branch_id) VALUES (?, ?, ?, 'teller', 'x', ?) RETURNING id",
                [f"t{branch_id}_{number}", f"柜员{branch_id}-{number}", f"S{branch_id}{number}",
                 branch_id]).fetchone()[0]
            first = first or teller
    database.execute("INSERT INTO users (username, display_name, role, password_hash) "
                     "VALUES ('ho', '总行反诈', 'ho_security', 'x')")
    return first, branch_ids


GENERATE = """
INSERT INTO sessions (reference, teller_id, branch_id, started_at, updated_at, status, level,
    outcome, typology, amount_fen, duration_seconds, in_queue, review_status, escalated_at,
    escalated_why)
SELECT 'B' || g, {first} + mod(g, {tellers}), {branch_first} + mod(g, {tellers}) / {per_branch},
    started, started, 'finished', level,
    CASE level WHEN 'low' THEN CASE WHEN r2 < 0.99 THEN 'proceeded' ELSE 'delayed' END
      WHEN 'medium' THEN CASE WHEN r2 < 0.8 THEN 'proceeded' WHEN r2 < 0.9 THEN 'delayed'
                         ELSE 'cancelled' END
      WHEN 'high' THEN CASE WHEN r2 < 0.4 THEN 'cancelled' WHEN r2 < 0.45 THEN 'police_called'
                       WHEN r2 < 0.7 THEN 'proceeded' ELSE 'delayed' END
      ELSE CASE WHEN r2 < 0.45 THEN 'police_called' WHEN r2 < 0.85 THEN 'cancelled'
           ELSE 'postponed' END END,
    CASE WHEN level = 'low' THEN NULL
         ELSE (ARRAY[{typologies}])[1 + floor(r3 * {typology_count})::int] END,
    (500 + floor(r3 * 200000)::bigint) * 100,
    CASE WHEN level IN ('low', 'medium') THEN 30 + floor(r2 * 270)::int
         ELSE 180 + floor(r2 * 1620)::int END,
    CASE WHEN level IN ('high', 'critical') THEN 1 ELSE 0 END,
    CASE WHEN level NOT IN ('high', 'critical') THEN NULL WHEN r3 < 0.3 THEN 'pending'
         WHEN r3 < 0.5 THEN 'false_alarm' WHEN r3 < 0.7 THEN 'dissuaded'
         WHEN r3 < 0.9 THEN 'confirmed_fraud' ELSE 'police_handled' END,
    CASE WHEN level = 'critical' THEN started END,
    CASE WHEN level = 'critical' THEN 'critical' END
FROM (
  SELECT g, r2, r3,
    to_char(timestamp '{start}' + (g * 365.0 / {total}) * interval '1 day'
            + mod(g, 28800) * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS') || '+08:00' AS started,
    CASE WHEN r1 < 0.70 THEN 'low' WHEN r1 < 0.88 THEN 'medium' WHEN r1 < 0.97 THEN 'high'
         ELSE 'critical' END AS level
  FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3
        FROM generate_series({low}, {high}) g) AS raw) AS x
"""


def generate(database, total: int, first_teller: int, branch_ids: list[int], tellers: int,
             batch: int = 1_000_000) -> float:
    start = date.today() - timedelta(days=365)
    began = time.perf_counter()
    for low in range(1, total + 1, batch):
        high = min(total, low + batch - 1)
        with storage.transaction(database):
            database.execute(GENERATE.format(
                first=first_teller, tellers=tellers * len(branch_ids), branch_first=branch_ids[0],
                per_branch=tellers, typologies=", ".join(f"'{t}'" for t in TYPOLOGIES),
                typology_count=len(TYPOLOGIES), start=f"{start:%Y-%m-%d} 09:00:00",
                total=total, low=low, high=high))
        print(f"  {high:,} sessions ({time.perf_counter() - began:.0f} s)", flush=True)
    return time.perf_counter() - began


def timed(function, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times)


def logged_in_client(app, database):
    user_id = database.execute("SELECT id FROM users WHERE username = 'ho'").fetchone()[0]
    with storage.transaction(database):
        token = login_sessions.start(database, user_id)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(sid=token, user_id=user_id, role="ho_security",
                       last_seen=int(time.time()) + 86400)
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--tellers", type=int, default=8, help="tellers per branch")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--server", default=os.environ.get("TELLER_GUARD_TEST_DATABASE_URL"))
    parser.add_argument("--instance", default="/tmp/bench-head-office")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    if not args.server:
        sys.exit("set TELLER_GUARD_TEST_DATABASE_URL or --server (a PostgreSQL URL)")
    name = f"tg_bench_ho_{os.getpid()}"
    admin = db.connect(args.server)
    admin.execute(f"CREATE DATABASE {name}")
    url = database_url(args.server, name)
    try:
        run(args, url)
    finally:
        if not args.keep_database:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            print(f"dropped {name}")
        admin.conn.close()


def run(args, url: str) -> None:
    db.prepare(url)
    database = db.connect(url)
    first_teller, branch_ids = setup(database, args.branches, args.tellers)
    database.execute("ALTER TABLE sessions DISABLE TRIGGER USER")
    print(f"generating {args.sessions:,} sessions, {len(branch_ids)} branches x "
          f"{args.tellers} tellers")
    generated = generate(database, args.sessions, first_teller, branch_ids, args.tellers)
    began = time.perf_counter()
    with storage.transaction(database):
        for statement in branch_stats.backfill_statements():
            database.execute(statement)
    backfill = time.perf_counter() - began
    database.execute("ALTER TABLE sessions ENABLE TRIGGER USER")
    database.execute("ANALYZE")
    sizes = {name: database.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # noqa: S608
             for name in branch_stats.TABLES}
    print(f"generated in {generated:.0f} s; 0013's backfill of the branch_stats tables {backfill:.1f} s")
    print("rows: " + ", ".join(f"{name} {count:,}" for name, count in sizes.items()))

    today = date.today()
    year = (today - timedelta(days=364), today)
    branch = branch_ids[len(branch_ids) // 2]
    teller = database.execute("SELECT id FROM users WHERE branch_id = ? ORDER BY id LIMIT 1",
                              [branch]).fetchone()[0]
    print(f"\n{'what':58} median      max   (of {args.runs})")

    def show(label: str, function) -> float:
        median, worst = timed(function, args.runs)
        mark = "" if median <= TARGET_S else "  ** over 1 s"
        print(f"{label:58} {median * 1000:7.1f} ms {worst * 1000:7.1f} ms{mark}", flush=True)
        return median

    for label, scope in (("bank", head_office.Scope()), ("branch", head_office.Scope(branch)),
                         ("teller", head_office.Scope(branch, teller))):
        for granularity in ("day", "month"):
            show(f"statistics, {label}, a year, by {granularity} (SQL + fold)",
                 lambda scope=scope, granularity=granularity: stats.fold(
                     head_office.statistics(database, scope, *year, granularity)))

    app = create_app({"DATABASE_URL": url}, instance_path=args.instance)
    client = logged_in_client(app, database)
    span = f"date_from={year[0]}&date_to={year[1]}"

    def page(path: str):
        def get():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        return get

    show("page: bank-wide statistics, a year, by week", page(f"/head-office/statistics?{span}&by=week"))
    show("page: one branch, a year, by month",
         page(f"/head-office/statistics?{span}&by=month&branch={branch}"))
    names = {row["id"]: row["name"] for row in head_office.branches(database)}
    show("CSV text: bank-wide statistics, a year, by day", lambda: views.statistics_csv_lines(
        stats.fold(head_office.statistics(database, head_office.Scope(), *year, "day")),
        names, labels.typology_labels(), "网点"))
    show("page: head-office queue, first page", page("/head-office/"))
    show("page: queue, one branch + pending", page(f"/head-office/?branch={branch}&status=pending"))
    show("page: queue, province 广东省", page("/head-office/?province=广东省"))

    # The trigger's cost on a single-row write: 200 level changes with it and without it.
    ids = [row[0] for row in database.execute(
        "SELECT id FROM sessions ORDER BY id DESC LIMIT 200").fetchall()]

    def updates():
        for session_id in ids:
            with storage.transaction(database):
                database.execute("UPDATE sessions SET level = CASE level WHEN 'low' THEN 'medium' "
                                 "ELSE 'low' END WHERE id = ?", [session_id])

    with_trigger = show("200 single-row UPDATEs of level, all triggers", updates)
    database.execute(f"ALTER TABLE sessions DISABLE TRIGGER {branch_stats.POSTGRESQL_TRIGGER}")
    without = show("200 single-row UPDATEs of level, without branch_stats", updates)
    database.execute(f"ALTER TABLE sessions ENABLE TRIGGER {branch_stats.POSTGRESQL_TRIGGER}")
    print(f"branch_stats trigger per UPDATE: {(with_trigger - without) / len(ids) * 1000:.2f} ms")
    database.conn.close()


if __name__ == "__main__":
    main()
