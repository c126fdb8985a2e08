"""Durable screenings per second through POST /api/v1/screenings, against a floor app.

    python benchmarks/bench_throughput.py [--backend sqlite|postgresql|both]
                                          [--connections 16] [--threads 8] [--duration 10]
                                          [--rounds 3] [--client wrk|python] [--fsync-delay-ms 0]
                                          [--database-url postgresql:///postgres?host=…]
                                          [--workers 1,2] [--worker-class gthread]

SQLite (the default): starts the real `teller-guard serve` (waitress, one process: SQLite mode
serves a branch from one) on a temporary instance with an
API token created through teller_guard.api_tokens before the start, and, in the same run, a
floor app: bare Flask under waitress with the same --threads, one SQLite insert of the posted
JSON per request, with the same durability settings (WAL, synchronous=FULL; one connection per
server thread, the cheapest a Flask app can do). Both get the same load: --connections
keep-alive clients (`wrk`, Debian package `wrk`, when installed; else Python threads) posting
complete screenings (facts, five questions, three checks; 9 in 10 benign, 1 in 10 a
"safe account" case; a new payee account every request).

PostgreSQL (`--backend postgresql`): a new database on the server of --database-url, made
with `teller-guard migrate`'s code; the real app under gunicorn (`teller_guard.wsgi:app`)
with each --workers count, and beside it a floor served the same way (gunicorn, same workers,
worker class and threads): bare Flask, one INSERT of the posted JSON per request into
PostgreSQL on the same server with the same durability (a commit per request, the server's
synchronous_commit), one connection per server thread. CPU is read for the gunicorn processes
and, separately, for the PostgreSQL backends serving the benchmark's database.

Rounds alternate floor and product; printed figures are medians over rounds: screenings/s
(2xx responses per second), p50 and p99 latency, server CPU milliseconds per request (read
from /proc, so the client's share of the 2 cores is not counted), and the cost ratio
product/floor (floor's rate / product's rate). After the run every 201 is checked against
the database (rows >= 2xx responses) and the ledger is verified.

Goal for the embedded SQLite mode on a 2-core machine: >= 500 durable screenings/s with
p99 <= 50 ms at 16 connections. On PostgreSQL: a screening costs <= 1.3x the floor's request.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_PER_SECOND = 500
GOAL_P99_MS = 50
GOAL_POSTGRESQL_RATIO = 1.3
DEFAULT_DATABASE_URL = "postgresql:///postgres?host=/var/run/postgresql"
PATH = "/api/v1/screenings"

FACTS = {"amount": "3000", "channel": "counter_transfer", "payee_account": "ACCOUNT",
         "payee_name": "王小明", "payee_province": "河北省", "payee_city": "邢台市",
         "payee_type": "personal", "payee_known": "known", "customer_age": 45,
         "occupation": "other"}
BENIGN = {"teller": "teller1", "facts": FACTS,
          "answers": {"purpose": "family_living", "knows_payee": "in_person",
                      "relationship": "family"},
          "three_checks": {"paying_stranger": False, "possibly_scam": "no"}}
SAFE_ACCOUNT = {
    "teller": "teller1",
    "facts": {**FACTS, "amount": "20万", "payee_name": "李四", "payee_province": "广东省",
              "payee_city": "深圳市", "payee_known": "new", "customer_age": 66,
              "occupation": "retired"},
    "answers": {"purpose": "safe_account", "purpose_text": "公安说要转到安全账户配合调查",
                "knows_payee": "phone_only", "relationship": "stranger", "use_confirmed": True,
                "destination_text": "安全账户", "verified_by_phone": False},
    "three_checks": {"paying_stranger": True, "possibly_scam": "no", "family_consulted": False},
    "observations": ["on_phone"],
}
TEMPLATES = [BENIGN] * 9 + [SAFE_ACCOUNT]


def use_branches(count: int) -> None:
    """Spread the requests over `count` branches' tellers (teller1 of branch 0001, teller2 of
    0002, …), one after the other: each branch appends to its own ledger chain."""
    global TEMPLATES
    base = [BENIGN] * 9 + [SAFE_ACCOUNT]
    TEMPLATES = [{**template, "teller": f"teller{number}"} for template in base
                 for number in range(1, count + 1)]


def add_branch_tellers(database, key: bytes, count: int) -> None:
    """Branches 0002… with one teller each (teller2, …), as prepare_* made teller1 in 0001."""
    from teller_guard import settings, users

    for number in range(2, count + 1):
        branch = settings.create_branch(database, key, f"{number:04d}", settings.DEMO_SETTINGS)
        users.create_user(database, key, f"teller{number}", "teller-pass-1", "teller",
                          f"柜员{number}", f"T{number:03d}", branch_id=branch)

WRK_SCRIPT = r"""
local templates = TEMPLATES_JSON
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer TOKEN"}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("tid", count)
end
function init(args)
  salt = tonumber(args[1]) or 0
  n = 0
end
function request()
  n = n + 1
  local account = string.format("9%03d%02d%09d", salt, tid, n)
  local body = (string.gsub(templates[(n % #templates) + 1], "ACCOUNT", account))
  return wrk.format("POST", "PATH", headers, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests,
    summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# --- the floor app (run as: bench_throughput.py --serve-floor DB PORT THREADS) -------------

def serve_floor(database: str, port: int, threads: int) -> None:
    import waitress
    from flask import Flask, jsonify, request

    setup = sqlite3.connect(database)
    setup.execute("PRAGMA journal_mode = WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, body TEXT)")
    setup.close()
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            local.conn = conn
        return local.conn

    app = Flask("floor")

    @app.post(PATH)
    def create():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"error": "not an object"}), 400
        row_id = connection().execute(
            "INSERT INTO posts (body) VALUES (?)",
            [json.dumps(body, ensure_ascii=False)]).lastrowid
        return jsonify({"id": row_id}), 201

    @app.get("/ready")
    def ready():
        return "ok"

    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, ident="floor")


def postgres_floor():
    """The PostgreSQL floor as a WSGI app for gunicorn (`bench_throughput:postgres_floor()`,
    database in BENCH_FLOOR_URL): one INSERT per request, committed on its own (autocommit:
    a commit and a WAL flush per request, as the server's synchronous_commit has it)."""
    import psycopg
    from flask import Flask, jsonify, request

    url = os.environ["BENCH_FLOOR_URL"]
    local = threading.local()

    def connection() -> psycopg.Connection:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(url, autocommit=True)
        return local.conn

    app = Flask("floor")

    @app.post(PATH)
    def create():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"error": "not an object"}), 400
        row_id = connection().execute(
            "INSERT INTO posts (body) VALUES (%s) RETURNING id",
            [json.dumps(body, ensure_ascii=False)]).fetchone()[0]
        return jsonify({"id": row_id}), 201

    @app.get("/ready")
    def ready():
        return "ok"

    return app


# --- helpers ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early ({process.returncode}): {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise SystemExit(f"server not ready after {timeout} s: {url}")


def teller_guard_command() -> str:
    """The installed console script next to this interpreter (so its pid is the server's)."""
    beside = Path(sys.executable).parent / "teller-guard"
    return str(beside) if beside.exists() else shutil.which("teller-guard") or "teller-guard"


def cpu_seconds(pid: int) -> float:
    """CPU of the server process, user and system."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                found.append(int(entry.name))
    return found


def tree_cpu(pids) -> dict[int, float]:
    """CPU seconds of each of these processes still running."""
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue
    return found


def post_one(base: str, token: str, body: dict) -> tuple[int, dict]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(base + PATH, data=data, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def prepare_instance(instance: Path) -> str:
    """Migrated database, demo branch settings, one teller, an API token; returns the token."""
    from teller_guard import api_tokens, create_app, db, settings, users

    instance.mkdir(parents=True)
    # The API's per-token rate limit (600/min by default) would cap the benchmark.
    (instance / "config.toml").write_text("api_rate_limit_per_minute = 1000000000\n")
    app = create_app(instance_path=instance)
    db.prepare(app.config["DATABASE"])
    database = db.connect(app.config["DATABASE"])
    key = app.extensions["teller_guard"]["ledger_key"]
    settings.save(database, key, settings.DEMO_SETTINGS)
    users.create_user(database, key, "teller1", "teller-pass-1", "teller", "王柜员", "T001")
    add_branch_tellers(database, key, len({body["teller"] for body in TEMPLATES}))
    _, token = api_tokens.create(database, key, "bench", actor_id=None)
    database.conn.close()
    return token


QUIET_QUEUE_LOGGER = """
import logging
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
"""


def quiet_environment(work: Path) -> dict:
    """waitress logs "Task queue depth is N" for every request that waits for a thread: with
    more connections than threads that is one warning per request. Both servers get a
    sitecustomize that quiets it (the command run is still the real `teller-guard serve`)."""
    site = work / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(QUIET_QUEUE_LOGGER)
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


SLOW_FSYNC_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

static void pause_like_a_slow_disk(void) {
    const char *micros = getenv("SLOW_FSYNC_MICROSECONDS");
    if (micros) usleep((useconds_t)atoi(micros));
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    pause_like_a_slow_disk();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    pause_like_a_slow_disk();
    return real(fd);
}
"""


def slow_fsync_library(work: Path) -> str:
    """Build the shim that makes every fsync wait longer, as on a disk slower than this one."""
    source, library = work / "slow_fsync.c", work / "slow_fsync.so"
    source.write_text(SLOW_FSYNC_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"],
                   check=True)
    return str(library)


class Server:
    def __init__(self, name: str, command: list[str], ready_path: str, port: int, log: Path,
                 env: dict | None = None):
        self.name, self.port = name, port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log.open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=env)
        wait_ready(self.base + ready_path, self.process)

    def processes(self) -> list[int]:
        """The server's processes: waitress's one, or gunicorn's master and workers."""
        return [self.process.pid, *children(self.process.pid)]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def run_wrk(server: Server, token: str, connections: int, duration: float, salt: int,
            script_dir: Path) -> dict:
    templates = "{" + ", ".join(
        "[==[" + json.dumps(body, ensure_ascii=False) + "]==]" for body in TEMPLATES) + "}"
    script = (WRK_SCRIPT.replace("TEMPLATES_JSON", templates).replace("TOKEN", token)
              .replace("PATH", PATH))
    script_path = script_dir / "post.lua"
    script_path.write_text(script, encoding="utf-8")
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
               "-s", str(script_path), server.base, "--", str(salt)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    requests, micros, non2xx, connect, read, write, timeout, p50, p99 = map(int, line.split()[1:])
    return {"requests": requests, "seconds": micros / 1e6, "ok": requests - non2xx,
            "errors": non2xx + connect + read + write + timeout, "p50_ms": p50 / 1000,
            "p99_ms": p99 / 1000, "command": command}


def run_python_clients(server: Server, token: str, connections: int, duration: float,
                       salt: int, script_dir: Path) -> dict:
    import http.client

    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.perf_counter() + duration

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            body = json.dumps(TEMPLATES[n % len(TEMPLATES)], ensure_ascii=False).replace(
                "ACCOUNT", f"9{salt:03d}{index:02d}{n:09d}").encode("utf-8")
            started = time.perf_counter()
            try:
                conn.request("POST", PATH, body, {"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                ok = False
            latencies[index].append(time.perf_counter() - started)
            errors[index] += not ok
        conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    every = sorted(value for values in latencies for value in values)
    requests = len(every)
    return {"requests": requests, "seconds": seconds, "ok": requests - sum(errors),
            "errors": sum(errors), "p50_ms": every[len(every) // 2] * 1000,
            "p99_ms": every[min(len(every) - 1, int(len(every) * 0.99))] * 1000,
            "command": [f"{connections} Python client threads (http.client, keep-alive)"]}


def measure(server: Server, client, token, connections, duration, salt, script_dir,
            database_processes=None) -> dict:
    """One round; `database_processes()` lists the PostgreSQL backends to count the CPU of."""
    pids = server.processes()
    cpu_before = tree_cpu(pids)
    backends_before = tree_cpu(database_processes()) if database_processes else {}
    result = client(server, token, connections, duration, salt, script_dir)
    time.sleep(0.2)  # let in-flight requests finish before reading the CPU counter
    per_request = 1000 / max(1, result["ok"])
    cpu_after = tree_cpu(pids)
    result["cpu_ms"] = sum(cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after) \
        * per_request
    if database_processes:
        # A backend opened during the round counts from zero: it was not there before it.
        after = tree_cpu(database_processes())
        result["db_cpu_ms"] = sum(after[pid] - backends_before.get(pid, 0.0)
                                  for pid in after) * per_request
    result["rate"] = result["ok"] / result["seconds"]
    return result


def median(results: list[dict], key: str) -> float:
    return statistics.median(result[key] for result in results)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite",
                        help="the embedded SQLite mode (waitress, one process), PostgreSQL "
                             "(gunicorn, --workers processes) or both, one after the other")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8,
                        help="waitress threads (SQLite), gunicorn threads per worker "
                             "(PostgreSQL, gthread); the same for product and floor")
    parser.add_argument("--duration", type=float, default=10, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--branches", type=int, default=1,
                        help="tellers of this many branches take turns (each its own ledger chain)")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--client", choices=("wrk", "python"),
                        default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--queue-warnings", action="store_true",
                        help="leave waitress's per-request queue-depth warnings on (both servers)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance")
    parser.add_argument("--fsync-delay-ms", type=float, default=0,
                        help="add this much to every fsync/fdatasync of both servers (an "
                             "LD_PRELOAD shim built with gcc), to stand for a slower disk "
                             "(SQLite only: PostgreSQL's server is not started here)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="a PostgreSQL server where this account may create databases")
    parser.add_argument("--workers", default="1,2",
                        help="gunicorn worker counts to measure, comma-separated")
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"),
                        help="gunicorn worker class, product and floor")
    parser.add_argument("--serve-floor", nargs=3, metavar=("DB", "PORT", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_floor:
        database, port, threads = args.serve_floor
        serve_floor(database, int(port), int(threads))
        return 0
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    use_branches(args.branches)
    status = 0
    if args.backend in ("sqlite", "both"):
        status |= run_sqlite(args)
    if args.backend in ("postgresql", "both"):
        status |= run_postgresql(args)
    return status


def run_sqlite(args) -> int:
    client = run_wrk if args.client == "wrk" else run_python_clients
    work = Path(tempfile.mkdtemp(prefix="tg-bench-"))
    instance = work / "instance"
    token = prepare_instance(instance)
    servers = []
    env = None if args.queue_warnings else quiet_environment(work)
    if args.fsync_delay_ms:
        env = {**(env or os.environ), "LD_PRELOAD": slow_fsync_library(work),
               "SLOW_FSYNC_MICROSECONDS": str(round(args.fsync_delay_ms * 1000))}
    try:
        port = free_port()
        product = Server("teller_guard", [
            teller_guard_command(), "serve", "--instance", str(instance),
            "--port", str(port), "--threads", str(args.threads)], "/login", port,
            work / "product.log", env)
        servers.append(product)
        port = free_port()
        floor = Server("floor", [sys.executable, str(Path(__file__).resolve()), "--serve-floor",
                                 str(work / "floor.db"), str(port), str(args.threads)],
                       "/ready", port, work / "floor.log", env)
        servers.append(floor)

        for body in (BENIGN, SAFE_ACCOUNT):  # pre-flight: both kinds are accepted
            sample = json.loads(json.dumps(body).replace("ACCOUNT", "955800000000001"))
            status, reply = post_one(product.base, token, sample)
            if status != 201:
                raise SystemExit(f"pre-flight screening failed: {status} {reply}")
            status, _ = post_one(floor.base, token, sample)
            assert status == 201

        salt = 0
        for server in (floor, product):  # warm-up, not counted
            salt += 1
            measure(server, client, token, args.connections, args.warmup, salt, work)
        results = {"floor": [], "teller_guard": []}
        for _ in range(args.rounds):
            for server in (floor, product):
                salt += 1
                results[server.name].append(measure(server, client, token, args.connections,
                                                    args.duration, salt, work))
        time.sleep(0.5)
        total_ok = sum(r["ok"] for rs in results.values() for r in rs)
    finally:
        for server in servers:
            server.stop()

    # Durability and chain: every 2xx of the product is a stored, assessed session.
    from teller_guard import audit, db
    database = db.connect(instance / "teller_guard.db")
    stored, assessed = database.execute(
        "SELECT count(*), sum(level IS NOT NULL AND score IS NOT NULL) FROM sessions").fetchone()
    secret = (instance / "secret_key").read_text().strip()
    checked, problems = audit.verify_chain(database, audit.chain_key(secret))
    integrity = database.execute("PRAGMA integrity_check").fetchone()[0]
    database.conn.close()
    acknowledged = sum(r["ok"] for r in results["teller_guard"])

    floor_rate, product_rate = median(results["floor"], "rate"), median(results["teller_guard"],
                                                                          "rate")
    ratio = floor_rate / product_rate
    command = results["teller_guard"][0]["command"]
    print("== SQLite, embedded: teller-guard serve (waitress, one process) ==")
    print(f"client:  {shlex.join(command) if args.client == 'wrk' else command[0]}")
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; waitress --threads {args.threads}; {args.connections} "
          f"connections; {args.rounds} rounds x {args.duration:g} s each (medians below); "
          f"waitress queue-depth warnings {'on' if args.queue_warnings else 'quieted'}"
          + (f"; every fsync +{args.fsync_delay_ms:g} ms" if args.fsync_delay_ms else ""))
    for name in ("floor", "teller_guard"):
        rs = results[name]
        rounds = ", ".join(f"{r['rate']:,.0f}" for r in rs)
        print(f"{name:>13}: {median(rs, 'rate'):>7,.0f} req/s  p50 {median(rs, 'p50_ms'):6.1f} ms"
              f"  p99 {median(rs, 'p99_ms'):6.1f} ms  server CPU {median(rs, 'cpu_ms'):.2f} ms/req"
              f"  errors {sum(r['errors'] for r in rs)}  (rounds: {rounds})")
    cpu_ratio = median(results["teller_guard"], "cpu_ms") / median(results["floor"], "cpu_ms")
    print(f"cost per screening vs floor: {ratio:.2f}x by throughput, {cpu_ratio:.2f}x by server "
          f"CPU")
    print(f"durability: {acknowledged:,} screenings answered 2xx in measured rounds; "
          f"{stored:,} sessions stored, {assessed:,} with level and score "
          f"(all rounds incl. warm-up and pre-flight: {total_ok:,} 2xx on both servers); "
          f"integrity_check {integrity}; ledger {checked:,} rows, "
          f"{'verifies' if not problems else f'{len(problems)} PROBLEMS'}")
    ok_rate = "meets" if product_rate >= GOAL_PER_SECOND else "BELOW"
    p99 = median(results["teller_guard"], "p99_ms")
    ok_p99 = "meets" if p99 <= GOAL_P99_MS else "ABOVE"
    print(f"goal >= {GOAL_PER_SECOND:,}/s: {ok_rate}; goal p99 <= {GOAL_P99_MS} ms: {ok_p99} "
          f"(at {args.connections} connections)")
    if args.keep:
        print(f"instance kept: {instance}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if stored >= acknowledged and not problems and integrity == "ok" else 1


# --- PostgreSQL: gunicorn processes, product and floor ------------------------------------------

def database_url(server_url: str, name: str) -> str:
    """The server's URL naming another database (keeps ?host=… of a Unix socket)."""
    parts = urlsplit(server_url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{name}{query}"


def create_database(server_url: str, prefix: str) -> str:
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return database_url(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tree_environment(extra: dict) -> dict:
    """The environment of a server started here: this tree first on the path."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TELLER_GUARD_", "PROMETHEUS_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**env, **extra}


def prepare_postgresql(instance: Path, url: str) -> str:
    """`teller-guard migrate` (as the README has it run before gunicorn), then branch settings,
    one teller and an API token; returns the token."""
    from teller_guard import api_tokens, create_app, db, settings, users

    instance.mkdir(parents=True)
    (instance / "config.toml").write_text("api_rate_limit_per_minute = 1000000000\n")
    subprocess.run([sys.executable, "-c", "from teller_guard.cli import main; main()", "migrate",
                    "--instance", str(instance)], check=True, stdout=subprocess.DEVNULL,
                   env=tree_environment({"TELLER_GUARD_DATABASE_URL": url}))
    app = create_app({"DATABASE_URL": url}, instance_path=instance)
    database = db.connect(url)
    try:
        key = app.extensions["teller_guard"]["ledger_key"]
        settings.save(database, key, settings.DEMO_SETTINGS)
        users.create_user(database, key, "teller1", "teller-pass-1", "teller", "王柜员", "T001")
        add_branch_tellers(database, key, len({body["teller"] for body in TEMPLATES}))
        _, token = api_tokens.create(database, key, "bench", actor_id=None)
    finally:
        database.conn.close()
    return token


def gunicorn_command(args, workers: int, port: int, app: str) -> list[str]:
    import gunicorn

    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", args.worker_class,
               "-b", f"127.0.0.1:{port}"]
    if args.worker_class == "gthread":  # (sync with --threads > 1 would be gthread)
        command += ["--threads", str(args.threads)]
    if gunicorn.version_info >= (27,):
        command.append("--no-control-socket")
    return [*command, app]


def wait_booted(server: Server, workers: int, timeout: float = 90) -> None:
    """gunicorn answers once one worker is up: wait until it has all of them and they have
    stopped importing (their CPU time stands still)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = children(server.process.pid)
        before = tree_cpu(pids)
        time.sleep(0.5)
        after = tree_cpu(pids)
        if len(pids) == workers and all(after.get(pid, 0) - before[pid] < 0.05 for pid in before):
            return
    raise SystemExit(f"{server.name}: {workers} workers not booted after {timeout} s")


def backends_of(monitor, url: str):
    """A function listing the PostgreSQL backend processes connected to `url`'s database."""
    name = urlsplit(url).path.lstrip("/")

    def pids() -> list[int]:
        return [row[0] for row in monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [name]).fetchall()]

    return pids


def run_postgresql(args) -> int:
    import psycopg

    client = run_wrk if args.client == "wrk" else run_python_clients
    work = Path(tempfile.mkdtemp(prefix="tg-bench-pg-"))
    instance = work / "instance"
    product_url = create_database(args.database_url, "tg_bench")
    floor_url = create_database(args.database_url, "tg_bench_floor")
    with psycopg.connect(floor_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, body TEXT)")
    token = prepare_postgresql(instance, product_url)
    monitor = psycopg.connect(args.database_url, autocommit=True)
    counts = [int(n) for n in args.workers.split(",")]
    results: dict[tuple[str, int], list[dict]] = {}
    salt = 100
    try:
        for workers in counts:
            servers = []
            try:
                port = free_port()
                product = Server("teller_guard", gunicorn_command(
                    args, workers, port, "teller_guard.wsgi:app"), "/healthz", port,
                    work / f"product-{workers}.log", tree_environment({
                        "TELLER_GUARD_INSTANCE": str(instance),
                        "TELLER_GUARD_DATABASE_URL": product_url}))
                servers.append(product)
                port = free_port()
                floor = Server("floor", [*gunicorn_command(
                    args, workers, port, "bench_throughput:postgres_floor()")[:-1],
                    "--chdir", str(Path(__file__).resolve().parent),
                    "bench_throughput:postgres_floor()"], "/ready", port,
                    work / f"floor-{workers}.log", tree_environment({"BENCH_FLOOR_URL": floor_url}))
                servers.append(floor)
                for server in servers:
                    wait_booted(server, workers)
                sample = json.loads(json.dumps(BENIGN).replace("ACCOUNT", "955800000000002"))
                status, reply = post_one(product.base, token, sample)
                if status != 201:
                    raise SystemExit(f"pre-flight screening failed: {status} {reply}")
                backends = {"floor": backends_of(monitor, floor_url),
                            "teller_guard": backends_of(monitor, product_url)}
                for server in (floor, product):  # warm-up: every thread opens its connection
                    salt += 1
                    measure(server, client, token, args.connections, max(args.warmup, 3), salt,
                            work)
                for _ in range(args.rounds):
                    for server in (floor, product):
                        salt += 1
                        results.setdefault((server.name, workers), []).append(measure(
                            server, client, token, args.connections, args.duration, salt, work,
                            backends[server.name]))
            finally:
                for server in servers:
                    server.stop()
        return report_postgresql(args, results, counts, product_url, floor_url, instance)
    finally:
        monitor.close()
        if args.keep:
            print(f"kept: {work}, databases {product_url} and {floor_url}")
        else:
            drop_database(args.database_url, product_url)
            drop_database(args.database_url, floor_url)
            shutil.rmtree(work, ignore_errors=True)


def report_postgresql(args, results, counts, product_url, floor_url, instance) -> int:
    import psycopg

    from teller_guard import audit, db

    database = db.connect(product_url)
    try:
        stored, assessed = database.execute(
            "SELECT count(*), count(*) FILTER (WHERE level IS NOT NULL AND score IS NOT NULL) "
            "FROM sessions").fetchone()
        secret = (instance / "secret_key").read_text().strip()
        checked, problems = audit.verify_chain(database, audit.chain_key(secret))
        chains = database.execute("SELECT chain, count(*) FROM ledger GROUP BY chain "
                                  "ORDER BY chain").fetchall()
    finally:
        database.conn.close()
    print(f"ledger rows per chain: {dict(chains)}")
    with psycopg.connect(floor_url) as floor_db:
        floor_rows = floor_db.execute("SELECT count(*) FROM posts").fetchone()[0]
    with psycopg.connect(product_url) as settings_db:
        synchronous = settings_db.execute("SHOW synchronous_commit").fetchone()[0]
    command = results[("teller_guard", counts[0])][0]["command"]
    threads = f" --threads {args.threads}" if args.worker_class == "gthread" else ""
    print(f"== PostgreSQL: gunicorn -k {args.worker_class}{threads}, teller_guard.wsgi:app "
          "against the floor, same server ==")
    print(f"client:  {shlex.join(command) if args.client == 'wrk' else command[0]}")
    print(f"python {platform.python_version()}, {os.cpu_count()} cores (PostgreSQL on the same "
          f"machine, synchronous_commit={synchronous}), load average "
          f"{os.getloadavg()[0]:.2f}; {args.connections} connections; {args.rounds} rounds x "
          f"{args.duration:g} s each (medians below); tellers of {args.branches} branch(es)")
    acknowledged = 0
    for workers in counts:
        for name in ("floor", "teller_guard"):
            rs = results[(name, workers)]
            rounds = ", ".join(f"{r['rate']:,.0f}" for r in rs)
            print(f"{name:>13} -w {workers}: {median(rs, 'rate'):>7,.0f} req/s  "
                  f"p50 {median(rs, 'p50_ms'):6.1f} ms  p99 {median(rs, 'p99_ms'):6.1f} ms  "
                  f"CPU/req gunicorn {median(rs, 'cpu_ms'):.2f} ms + PostgreSQL "
                  f"{median(rs, 'db_cpu_ms'):.2f} ms  errors {sum(r['errors'] for r in rs)}  "
                  f"(rounds: {rounds})")
        product, floor = results[("teller_guard", workers)], results[("floor", workers)]
        acknowledged += sum(r["ok"] for r in product)
        ratio = median(floor, "rate") / median(product, "rate")
        cpu = (median(product, "cpu_ms") + median(product, "db_cpu_ms")) / \
            (median(floor, "cpu_ms") + median(floor, "db_cpu_ms"))
        verdict = "meets" if ratio <= GOAL_POSTGRESQL_RATIO else "ABOVE"
        print(f"   -w {workers} cost per screening vs floor: {ratio:.2f}x by throughput, "
              f"{cpu:.2f}x by CPU (gunicorn + PostgreSQL); goal <= {GOAL_POSTGRESQL_RATIO}x: "
              f"{verdict}")
    print(f"durability: {acknowledged:,} screenings answered 2xx in measured rounds; "
          f"{stored:,} sessions stored, {assessed:,} with level and score (warm-up and "
          f"pre-flight included); floor {floor_rows:,} rows; ledger {checked:,} rows, "
          f"{'verifies' if not problems else f'{len(problems)} PROBLEMS'}")
    return 0 if stored >= acknowledged and assessed == stored and not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
