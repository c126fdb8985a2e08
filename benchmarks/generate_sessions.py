"""Generate N synthetic screening sessions, with their ledger events, into an instance.

    python benchmarks/generate_sessions.py --instance /tmp/bench -n 1000000
    python benchmarks/generate_sessions.py --instance /tmp/bench-pg -n 1000000 \
        --database-url postgresql:///bench?host=/var/run/postgresql

With --database-url the rows go into that PostgreSQL database (created beforehand, empty or
made by an earlier run; the instance folder holds the keys), with COPY instead of INSERT.

Rows follow docs/architecture.md: sessions columns, screening.started / .assessed /
.supervisor_* / .outcome, print.slip / print.alert, review.transition / .assigned events, and
pii_vault rows (fake values) for queued sessions. Everything is written in one transaction with
bulk inserts; the hash chain is computed here with audit.canonical/row_hash exactly as
audit.append does, so `teller-guard verify` passes on the result.

Sessions are spread evenly over the last --days days (business hours, local time), ids in time
order. Ledger `at` of review events is later than the session, but the events are written right
after their session's own events (the chain order need not follow `at`).
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teller_guard import audit, create_app, db, digests, pii_key  # noqa: E402

LEVEL_WEIGHTS = {"low": 70, "medium": 18, "high": 9, "critical": 3}
SCORE_RANGE = {"low": (0, 19), "medium": (20, 39), "high": (40, 69), "critical": (70, 100)}
ACTION = {"low": "proceed", "medium": "print_slip", "high": "supervisor_hold",
          "critical": "stop_and_report"}
LEVEL_LABEL = {"low": "低风险", "medium": "中风险", "high": "高风险", "critical": "极高风险"}
OUTCOME_WEIGHTS = {
    "low": {"proceeded": 99, "delayed": 1},
    "medium": {"proceeded": 80, "delayed": 10, "cancelled": 10},
    "high": {"proceeded": 25, "cancelled": 40, "delayed": 20, "postponed": 10, "police_called": 5},
    "critical": {"police_called": 45, "cancelled": 40, "postponed": 10, "proceeded": 5},
}
DURATION_RANGE = {"low": (30, 120), "medium": (60, 300), "high": (180, 900),
                  "critical": (300, 1800)}
TYPOLOGIES = {  # id: (name, weight) — 刷单, 投资, 贷款, 客服, 公检法 are most cases
    "task_rebate": ("刷单返利", 25), "fake_investment": ("虚假投资理财", 18),
    "fake_loan": ("虚假网络贷款", 15), "fake_customer_service": ("冒充电商物流客服", 12),
    "gov_impersonation": ("冒充公检法", 10), "romance_investment": ("杀猪盘/网络交友诱导投资", 6),
    "boss_impersonation": ("冒充领导熟人", 5), "fake_prize_refund": ("虚假中奖退税补贴", 3),
    "fake_emergency": ("虚构绑架出事", 2), "account_renting": ("出租出借账户", 2),
    "fake_military_purchase": ("冒充军警采购", 1), "game_trade": ("游戏装备网购交易", 1),
}
CLOSED_WEIGHTS = {"false_alarm": 35, "dissuaded": 35, "confirmed_fraud": 20, "police_handled": 10}
AMOUNTS_YUAN = (500, 1000, 2000, 3000, 5000, 8000, 10000, 20000, 30000, 50000, 80000, 100000,
                200000)
RULES_VERSION = "synthetic-1"
TELLERS = 20


def pick(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Writer:
    """Buffers rows and keeps the chain head, so events are hashed exactly as audit.append does."""

    def __init__(self, database, key: bytes):
        self.db = database
        self.key = key
        # The events go to branch 1's chain; ids follow the largest of every chain's.
        head = database.execute("SELECT last_id, last_hash FROM ledger_head WHERE id = 1").fetchone()
        # PostgreSQL's schema makes an empty head row
        self.last_hash = head[1] if head and head[0] else audit.GENESIS
        self.last_id = database.execute("SELECT COALESCE(max(id), 0) FROM ledger").fetchone()[0]
        self.ledger: list[tuple] = []
        self.sessions: list[tuple] = []
        self.vault: list[tuple] = []
        self.events = 0
        self.digest_key = digests.digest_key(key)

    def event(self, kind, actor_id, session_id, data, at) -> None:
        self.last_id += 1
        data_json = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        digest = audit.row_hash(self.key, self.last_hash, audit.canonical(
            self.last_id, at, actor_id, kind, session_id, data_json, CHAIN))
        self.ledger.append((self.last_id, at, actor_id, kind, session_id, data_json,
                            self.last_hash, digest, CHAIN))
        self.last_hash = digest
        self.events += 1

    def flush(self) -> None:
        # sessions before their events and vault rows (foreign keys)
        if self.db.dialect == "postgresql":
            self._copy()
            return
        if self.sessions:
            marks = ", ".join("?" * len(self.sessions[0]))
            self.db.conn.executemany(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({marks})", self.sessions)
        self.db.conn.executemany(
            "INSERT INTO ledger (id, at, actor_id, kind, session_id, data, prev_hash, hash, chain) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.ledger)
        self.db.conn.executemany(
            "INSERT INTO pii_vault (session_id, field, value, stored_at) VALUES (?, ?, ?, ?)",
            self.vault)
        self.sessions.clear()
        self.ledger.clear()
        self.vault.clear()

    def _copy(self) -> None:
        """PostgreSQL: COPY is about ten times as fast as multi-row INSERTs here."""
        cursor = self.db.conn.raw.cursor()
        for table, names, rows in (("sessions", SESSION_COLUMNS, self.sessions),
                                   ("ledger", LEDGER_COLUMNS, self.ledger),
                                   ("pii_vault", VAULT_COLUMNS, self.vault)):
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            rows.clear()

    def seal(self) -> None:
        self.db.execute(
            "INSERT INTO ledger_head (id, last_id, last_hash, seal) VALUES (1, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET last_id = excluded.last_id, "
            "last_hash = excluded.last_hash, seal = excluded.seal",
            [self.last_id, self.last_hash,
             audit.head_seal(self.key, self.last_id, self.last_hash, CHAIN)])
        if self.db.dialect == "postgresql":  # appends after these take ids from the sequence
            self.db.execute("SELECT setval('ledger_id_seq', ?)", [self.last_id])


SESSION_COLUMNS = (
    "id, reference, teller_id, started_at, updated_at, finished_at, duration_seconds, step, "
    "status, form, amount_fen, channel, other_region, payee_hash, payee_masked, customer_hash, "
    "customer_masked, level, score, action, typology, typologies, rules_version, assessment, "
    "supervisor_id, supervisor_decision, supervisor_reason, outcome, outcome_at, in_queue, "
    "review_status, assignee_id, slips_printed, alerts_printed, branch_id"
)


LEDGER_COLUMNS = "id, at, actor_id, kind, session_id, data, prev_hash, hash, chain"
CHAIN = 1  # branch 1's chain (the sessions are its tellers')
VAULT_COLUMNS = "session_id, field, value, stored_at"


def ensure_users(database, key: bytes) -> dict[str, list[int]]:
    """Tellers, a supervisor and two security officers; reused when they exist. They share one
    hash of a random password nobody knows (hashing is deliberately slow)."""
    wanted = [(f"bench_teller{n:02d}", "teller", f"柜员{n:02d}", f"T{n:03d}")
              for n in range(1, TELLERS + 1)]
    wanted += [("bench_supervisor", "supervisor", "主管甲", "S001"),
               ("bench_security1", "security", "安保甲", "B001"),
               ("bench_security2", "security", "安保乙", "B002")]
    password_hash = generate_password_hash(secrets.token_urlsafe(24))
    ids: dict[str, list[int]] = {"teller": [], "supervisor": [], "security": []}
    now = audit.now_iso()
    for username, role, name, staff_no in wanted:
        row = database.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()
        if row is None:
            user_id = database.execute(
                "INSERT INTO users (username, display_name, staff_no, role, password_hash, active, "
                "failed_logins, created_at, password_changed_at, branch_id) "
                "VALUES (?, ?, ?, ?, ?, 1, 0, ?, ?, ?) RETURNING id",
                [username, name, staff_no, role, password_hash, now, now, CHAIN]).fetchone()[0]
            # Branch 1's staff: a user with no branch is head office's, and head office's
            # branch roles see nothing (the review pages would be measured empty).
            audit.append(database, key, audit.AuditEvent(
                "user.created", None, data={
                    "user_id": user_id, "username": username, "role": role, "branch": CHAIN,
                    "password": digests.secret_hash(digests.digest_key(key), password_hash)}))
        else:
            user_id = row[0]
        ids[role].append(user_id)
    return ids


def session_times(rng: random.Random, count: int, days: int, end: datetime) -> list[datetime]:
    """Sorted start times in business hours (09:00–17:00) over the last `days` days."""
    first_day = (end - timedelta(days=days - 1)).replace(hour=9, minute=0, second=0)
    moments = []
    for _ in range(count):
        day = rng.randrange(days)
        moments.append(first_day + timedelta(days=day, seconds=rng.randrange(8 * 3600)))
    moments.sort()
    return [min(moment, end) for moment in moments]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def one_session(writer: Writer, rng: random.Random, session_id: int, started: datetime,
                users: dict, now: datetime) -> None:
    teller = rng.choice(users["teller"])
    supervisor = users["supervisor"][0]
    reviewers = users["security"]
    level = pick(rng, LEVEL_WEIGHTS)
    state = rng.choices(("draft", "assessed", "finished"), weights=(1, 1, 98))[0]
    if started > now - timedelta(hours=1) and state == "finished":
        state = rng.choice(("draft", "assessed", "finished"))
    amount_fen = rng.choice(AMOUNTS_YUAN) * 100 + rng.randrange(100) * 100
    reference = f"TG{started:%Y%m%d}-{session_id:06d}"
    lo, hi = DURATION_RANGE[level]
    duration = rng.randint(lo, hi)
    finished = started + timedelta(seconds=duration)
    masked_payee = f"6222 **** **** {rng.randrange(10000):04d}"
    masked_customer = rng.choice("王李张刘陈杨赵黄周吴") + "*"
    form = {"facts": {"amount": f"{amount_fen / 100:.2f}", "channel": "counter_transfer",
                      "payee_account": masked_payee, "customer_name": masked_customer,
                      "payee_type": "personal", "payee_known": rng.choice(("new", "known")),
                      "customer_age": rng.randint(18, 85), "occupation": "other"}}
    row = {
        "id": session_id, "reference": reference, "teller_id": teller, "started_at": iso(started),
        "updated_at": iso(started), "finished_at": None, "duration_seconds": None,
        "step": "questions", "status": "draft", "form": None, "amount_fen": amount_fen,
        "channel": "counter_transfer", "other_region": int(rng.random() < 0.15),
        "payee_hash": secrets.token_hex(8), "payee_masked": masked_payee,
        "customer_hash": secrets.token_hex(8), "customer_masked": masked_customer,
        "level": None, "score": None, "action": None, "typology": None, "typologies": None,
        "rules_version": None, "assessment": None, "supervisor_id": None,
        "supervisor_decision": None, "supervisor_reason": None, "outcome": None,
        "outcome_at": None, "in_queue": 0, "review_status": None, "assignee_id": None,
        "slips_printed": 0, "alerts_printed": 0, "branch_id": CHAIN,
    }
    started_data = {"reference": reference}
    events = [("screening.started", teller, started_data, started)]
    assessed_data = None
    if state != "draft":
        score = rng.randint(*SCORE_RANGE[level])
        typologies = []
        if level != "low":
            typologies = [pick(rng, {k: v[1] for k, v in TYPOLOGIES.items()})]
        fired = [f"rule_{typologies[0]}" if typologies else "large_amount"]
        assessed_at = started + timedelta(seconds=duration * 2 // 3)
        form["answers"] = {"answers": {"purpose": "other"}, "observations": []}
        assessment = {
            "score": score, "level": level, "level_label": LEVEL_LABEL[level], "hard_stop": False,
            "fired": [{"rule_id": fired[0], "points": score, "reason_zh": "合成数据的规则说明"}],
            "typologies": [{"id": t, "name_zh": TYPOLOGIES[t][0]} for t in typologies],
            "action": {"code": ACTION[level], "label_zh": ""}, "rules_version": RULES_VERSION,
        }
        row.update(level=level, score=score, action=ACTION[level],
                   typology=typologies[0] if typologies else None,
                   typologies=json.dumps(typologies), rules_version=RULES_VERSION,
                   assessment=json.dumps(assessment, ensure_ascii=False), status="assessed",
                   step="result", in_queue=int(level in ("high", "critical")),
                   updated_at=iso(assessed_at))
        assessed_data = {
            "level": level, "score": score, "action": ACTION[level], "typologies": typologies,
            "rules_version": RULES_VERSION, "fired": fired, "amount_fen": amount_fen}
        events.append(("screening.assessed", teller, assessed_data, assessed_at))
        if level == "high" or (level == "critical" and rng.random() < 0.1):
            decision = "confirmed" if level == "high" else "override"
            reason = "" if decision == "confirmed" else "客户提供了购房合同，主管核实后放行"
            row.update(supervisor_id=supervisor, supervisor_decision=decision,
                       supervisor_reason=reason or None)
            if decision == "override":
                row["in_queue"] = 1
            events.append((f"screening.supervisor_{decision}", supervisor,
                           {"supervisor_id": supervisor, "reason": reason}, assessed_at))
        if level != "low":
            row["slips_printed"] = 1
            events.append(("print.slip", teller, {"paper": "a5", "reprint": False}, assessed_at))
    if state == "finished":
        outcome = pick(rng, OUTCOME_WEIGHTS[level])
        if outcome == "proceeded" and level == "critical" and row["supervisor_decision"] != "override":
            outcome = "cancelled"
        row.update(outcome=outcome, outcome_at=iso(finished), finished_at=iso(finished),
                   duration_seconds=duration, status="finished", step="done",
                   updated_at=iso(finished))
        if outcome == "police_called":
            row["in_queue"] = 1
            row["alerts_printed"] = 1
            events.append(("print.alert", teller, {"paper": "a4", "reprint": False}, finished))
        events.append(("screening.outcome", teller, {
            "outcome": outcome, "amount_fen": amount_fen, "duration_seconds": duration}, finished))
    if row["in_queue"]:
        row["review_status"] = "pending"
        age_days = (now - started).days
        if age_days > 2:
            reviewer = rng.choice(reviewers)
            opened = finished + timedelta(hours=rng.randint(1, 40))
            events.append(("review.transition", reviewer,
                           {"from": "pending", "to": "in_review", "note": ""}, opened))
            events.append(("review.assigned", reviewer, {"assignee_id": reviewer}, opened))
            row.update(review_status="in_review", assignee_id=reviewer)
            if age_days > 14 or rng.random() < 0.5:
                closed = pick(rng, CLOSED_WEIGHTS)
                events.append(("review.transition", reviewer, {
                    "from": "in_review", "to": closed, "note": "合成数据：已电话回访客户"},
                    opened + timedelta(hours=2)))
                row["review_status"] = closed
    vault = {}
    if row["in_queue"]:
        vault = {"customer_name": "测试客户" + str(session_id),
                 "customer_id_number": f"110101199001{session_id % 10000:04d}12",
                 "payee_account": f"62220000{session_id:011d}"}
        for field_name, value in vault.items():
            writer.vault.append((session_id, field_name, value, iso(started)))
    row["form"] = json.dumps(form, ensure_ascii=False)
    # The digest of the row as written, in the events the service writes it with (digests.py).
    row_state = digests.state(writer.digest_key, row, vault)
    for data in (started_data, assessed_data):
        if data is not None:
            data["state"] = row_state
    writer.sessions.append(tuple(row[name.strip()] for name in SESSION_COLUMNS.split(",")))
    for kind, actor, data, at in events:
        writer.event(kind, actor, session_id, data, iso(at))


def generate(instance: Path, count: int, days: int = 730, seed: int = 7,
             progress=None, database_url: str | None = None) -> dict:
    """Add `count` sessions to the instance (or to the PostgreSQL database at `database_url`,
    with the instance's keys); returns counts and seconds taken."""
    app = create_app({"DATABASE_URL": database_url} if database_url else None,
                     instance_path=instance)
    path = app.config["DATABASE"]
    db.prepare(path)
    key = app.extensions["teller_guard"]["ledger_key"]
    database = db.connect(path)
    if database.dialect == "sqlite":
        database.execute("PRAGMA cache_size = -400000")  # 400 MB: the indexes stay in memory
    rng = random.Random(seed)
    started_clock = time.perf_counter()
    now = datetime.now().astimezone().replace(microsecond=0)
    try:
        with db.write_transaction(database):
            # As a served instance would have: the payee hashes here are random, which the
            # first key check would take for a key changed under stored data.
            pii_key.check_unchanged(database, app.extensions["teller_guard"]["pii_key"])
            users = ensure_users(database, key)
            first_id = (database.execute("SELECT max(id) FROM sessions").fetchone()[0] or 0) + 1
            writer = Writer(database, key)
            for offset, moment in enumerate(session_times(rng, count, days, now)):
                one_session(writer, rng, first_id + offset, moment, users, now)
                if len(writer.sessions) >= 20_000:
                    writer.flush()
                    if progress:
                        progress(offset + 1, count)
            writer.flush()
            writer.seal()
        if database.dialect == "sqlite":
            database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:  # fresh statistics for the planner, and the visibility map for index-only scans
            database.execute("VACUUM ANALYZE")
    finally:
        database.conn.close()
    return {"sessions": count, "events": writer.events,
            "seconds": time.perf_counter() - started_clock, "database": path}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", required=True, type=Path, help="instance folder")
    parser.add_argument("-n", "--count", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730, help="spread over the last N days")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="a PostgreSQL database instead of the instance's "
                                               "SQLite file")
    args = parser.parse_args(argv)

    def progress(done, total):
        print(f"  {done:,} / {total:,}", file=sys.stderr, flush=True)

    result = generate(args.instance, args.count, args.days, args.seed, progress,
                      args.database_url)
    print(f"generated {result['sessions']:,} sessions and {result['events']:,} ledger events "
          f"in {result['seconds']:.1f} s into {result['database']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
