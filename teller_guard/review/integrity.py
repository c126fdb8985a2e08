"""`teller-guard verify`: the ledger chain is intact, every row agrees with its events, and the
chain agrees with its anchors outside the database.

The chain (audit.verify_chain) proves nobody edited, inserted or deleted ledger rows. The
sessions table is current state that anyone with the database file could edit, so each row is
compared with its own events (the newest event of each kind):

- a row must have a `screening.started` event with the same reference, teller_id is that
  event's actor (else: inserted) and api_token_id its `api_token_id` (the filing API token,
  which decides what a token may read);
- level, score, action, typologies, typology (the first of them) and rules_version equal the
  latest `screening.assessed` (none if never assessed);
- supervisor_id, supervisor_decision (from the event kind) and supervisor_reason equal the
  latest supervisor event when it came after the latest assessment, else they are empty;
- outcome and duration_seconds equal the latest `screening.outcome`, amount_fen too once there
  is one, and status is `finished` exactly when there is one;
- review_status equals `to` of the latest `review.transition` (pending or empty if none);
  assignee_id equals the latest `review.assigned`;
- slips_printed and alerts_printed count the `print.slip` and `print.alert` events;
- in_queue is 1 when the events require review (latest level high/critical, a supervisor
  override, a police alert): hiding a case from security is exactly what tampering would try;
- `content` (started_at, form with facts and answers, amount, channel, other_region, payee
  and customer hash and mask, the assessment text) and `pii_vault` (the full personal data)
  match the keyed digest (`state`, digests.py) of the latest started/step_saved/assessed event.
  Events written before that digest existed carry none: those rows are checked on everything
  else. A vault emptied by retention is accepted for sessions older than the latest
  `retention.redacted` cut-off;
- events that point at a session id with no row mean the row was deleted.

Users, branch settings and API tokens are checked against their events in
integrity_records.py, and the chain against its anchors in anchor.py.
"""

from __future__ import annotations

import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .. import anchor, audit, digests
from ..db import connect
from . import integrity_records

CHAIN_WORDS = {
    "edited": "账本第 {id} 行被改动",
    "inserted": "账本第 {id} 行是绕过系统插入的",
    "deleted": "账本第 {id} 行之前有记录被删除",
    "head": "账本第 {id} 行之后的记录被删除，或链头被改动",
}
SESSION_WORDS = {
    "edited": "业务 #{id} 与账本不一致（{detail}），被绕过系统改动",
    "inserted": "业务 #{id} 在账本中没有开始记录，是绕过系统插入的",
    "deleted": "业务 #{id} 在账本中有记录，但业务表中已被删除",
}
ALERT_KINDS = ("screening.supervisor_override", "print.alert", "alert.queued", "alert.sent")
SUPERVISOR_KINDS = ("screening.supervisor_confirmed", "screening.supervisor_override")
# The newest event of these kinds, per session (alias -> kinds).
LATEST = {
    "st": ("screening.started",),
    "a": ("screening.assessed",),
    "sv": SUPERVISOR_KINDS,
    "o": ("screening.outcome",),
    "t": ("review.transition",),
    "ag": ("review.assigned",),
    "f": ("screening.started", "screening.step_saved", "screening.assessed"),  # with `state`
}


def _case_kind(kinds, then: str) -> str:
    # CASE e.kind WHEN … reads the kind once per event (faster than kind IN (…) per group).
    return "CASE e.kind " + " ".join(f"WHEN '{kind}' THEN {then}" for kind in kinds) + " END"


def _grouped() -> str:
    """Per session: the id of its newest event of each LATEST group, whether any event asks
    for review, and the number of prints. Only ids and kinds are read here; each newest event's
    data is read once, by id, in the outer query."""
    latest = ", ".join(f"max({_case_kind(kinds, 'e.id')}) AS {alias}"
                       for alias, kinds in LATEST.items())
    return (f"SELECT s.id AS id, {latest}, "  # noqa: S608 - our constants
            f"IFNULL(max({_case_kind(ALERT_KINDS, '1')}), 0) AS alerted, "
            f"count({_case_kind(['print.slip'], '1')}) AS slips, "
            f"count({_case_kind(['print.alert'], '1')}) AS alerts "
            "FROM sessions s LEFT JOIN ledger e ON e.session_id = s.id GROUP BY s.id")


STATE_KEY = '"state": "'  # how the `state` of an event's data reads in the ledger


def _state_call() -> str:
    """SQL: 0, or the digests.STATE_* bits of what disagrees with the latest `state`.

    The digest is found by text rather than json_extract (a whole parse of the data for each
    value, per session): the ledger stores data as json.dumps(sort_keys=True) does, where
    `"state": "` can only be that key (a quote inside a value is escaped), and verify reads
    only genuine rows' data (the chain walk reports any other). Rows from before the digest
    have no such key and are not checked here."""
    at = f"instr(f.data, '{STATE_KEY}')"
    return (f"(CASE WHEN IFNULL({at}, 0) = 0 THEN 0 ELSE tg_check_state("
            f"substr(f.data, {at} + {len(STATE_KEY)}, {2 * digests.DIGEST_CHARS}), "
            f"CAST({digests.SESSION_TEXT_SQL} || char(29) || {digests.VAULT_TEXT_SQL} AS BLOB), "
            "s.started_at < :redacted_before) END)")


def _value(alias: str, path: str, guarded: bool) -> str:
    """`guarded`: data that is not JSON (rewritten around the app) has no values, where
    json_extract would end the query."""
    extract = f"json_extract({alias}.data, '{path}')"
    return f"(CASE WHEN json_valid({alias}.data) THEN {extract} END)" if guarded else extract


def _checks(guarded: bool) -> dict[str, str]:
    """field -> SQL that is true when the row disagrees with its events (the digest check
    needs the tg_check_state function)."""
    def value(alias: str, path: str) -> str:
        return _value(alias, path, guarded)

    supervised = "g.sv > IFNULL(g.a, 0)"  # a new assessment clears the supervisor's decision
    checks = {
        "reference": f"{value('st', '$.reference')} IS NOT s.reference",
        "teller_id": "st.actor_id IS NOT s.teller_id",
        "api_token_id": f"{value('st', '$.api_token_id')} IS NOT s.api_token_id",
        "level": f"{value('a', '$.level')} IS NOT s.level",
        "score": f"{value('a', '$.score')} IS NOT s.score",
        "action": f"{value('a', '$.action')} IS NOT s.action",
        "typologies": f"{value('a', '$.typologies')} IS NOT "
                      "(CASE WHEN json_valid(s.typologies) THEN json(s.typologies) END)",
        "typology": f"{value('a', '$.typologies[0]')} IS NOT s.typology",
        "rules_version": f"{value('a', '$.rules_version')} IS NOT s.rules_version",
        "supervisor_id": f"(CASE WHEN {supervised} THEN {value('sv', '$.supervisor_id')} END) "
                         "IS NOT s.supervisor_id",
        "supervisor_decision": f"(CASE WHEN {supervised} THEN (CASE sv.kind WHEN "
                               "'screening.supervisor_override' THEN 'override' ELSE "
                               "'confirmed' END) END) IS NOT s.supervisor_decision",
        "supervisor_reason": f"IFNULL(CASE WHEN {supervised} THEN {value('sv', '$.reason')} END, "
                             "'') IS NOT IFNULL(s.supervisor_reason, '')",
        "outcome": f"{value('o', '$.outcome')} IS NOT s.outcome",
        "amount_fen": f"g.o IS NOT NULL AND {value('o', '$.amount_fen')} IS NOT s.amount_fen",
        "duration_seconds": f"{value('o', '$.duration_seconds')} IS NOT s.duration_seconds",
        "status": "(g.o IS NOT NULL) != (s.status IS 'finished')",
        "review_status": f"IFNULL({value('t', '$.to')}, 'pending') IS NOT "
                         "IFNULL(s.review_status, 'pending')",
        "assignee_id": f"{value('ag', '$.assignee_id')} IS NOT s.assignee_id",
        "in_queue": f"IFNULL(s.in_queue, 0) != 1 AND ({value('a', '$.level')} IN ('high', "
                    f"'critical') OR {value('o', '$.outcome')} IS 'police_called' OR g.alerted)",
        "slips_printed": "g.slips IS NOT IFNULL(s.slips_printed, 0)",
        "alerts_printed": "g.alerts IS NOT IFNULL(s.alerts_printed, 0)",
    }
    call = _state_call()
    checks["content"] = f"{call} & {digests.STATE_CONTENT}"
    checks["pii_vault"] = f"{call} & {digests.STATE_VAULT}"
    return checks


def _mismatches_sql(guarded: bool) -> str:
    """One pass over the sessions; only the rows that disagree come back. `started` is NULL
    for a row no event created. The WHERE stops at a row's first disagreement and calls the
    digest check once; the fields are worked out again only for the rows that disagree."""
    checks = _checks(guarded)
    joins = " ".join(f"LEFT JOIN ledger {alias} ON {alias}.id = g.{alias}" for alias in LATEST)
    tests = [f"({sql})" for name, sql in checks.items() if name not in ("content", "pii_vault")]
    tests.append(f"{_state_call()} != 0")  # both digests in one call
    return (
        "SELECT s.id, st.id AS started, "  # noqa: S608 - our constants
        + ", ".join(f"({sql}) AS bad_{name}" for name, sql in checks.items())
        + f" FROM ({_grouped()}) g JOIN sessions s ON s.id = g.id {joins}"
        + " WHERE st.id IS NULL OR " + " OR ".join(tests) + " ORDER BY s.id"
    )


ORPHANS_SQL = (
    "SELECT DISTINCT session_id FROM ledger WHERE session_id IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM sessions WHERE id = ledger.session_id) ORDER BY session_id"
)
# Sessions that started before this date may have had their vault emptied by retention.
REDACTED_BEFORE_SQL = (
    "SELECT max(CASE WHEN json_valid(data) THEN json_extract(data, '$.before') END) FROM ledger "
    "WHERE session_id IS NULL AND kind = 'retention.redacted'"
)


@dataclass(frozen=True)
class SessionProblem:
    session_id: int
    problem: str  # edited | inserted | deleted
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        return SESSION_WORDS[self.problem].format(id=self.session_id, detail="、".join(self.fields))


def check_sessions(db, key: bytes) -> tuple[int, list[SessionProblem]]:
    """Compare every sessions row with its events; returns (rows checked, problems). The
    ledger `key` checks the digests of content and personal data."""
    db.conn.create_function("tg_check_state", 3, digests.checker(digests.digest_key(key)),
                            deterministic=True)
    problems = []
    own_transaction = not db.conn.in_transaction
    if own_transaction:
        db.execute("BEGIN")  # one snapshot for all the queries
    try:
        parameters = {"redacted_before": db.execute(REDACTED_BEFORE_SQL).fetchone()[0] or ""}
        fields = list(_checks(False))
        try:
            rows = db.execute(_mismatches_sql(False), parameters).fetchall()
        except sqlite3.OperationalError as error:
            if "malformed JSON" not in str(error):
                raise
            # json_valid on every row makes it slower, so it runs only after the fast one
            # stopped on data that is not JSON.
            rows = db.execute(_mismatches_sql(True), parameters).fetchall()
        for row in rows:
            if row[1] is None:
                problems.append(SessionProblem(row[0], "inserted"))
            else:
                bad = tuple(name for name, flag in zip(fields, row[2:], strict=True) if flag)
                problems.append(SessionProblem(row[0], "edited", bad))
        problems.extend(SessionProblem(row[0], "deleted") for row in db.execute(ORPHANS_SQL))
        count = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    finally:
        if own_transaction:
            db.execute("COMMIT")
    problems.sort(key=lambda problem: problem.session_id)
    return count, problems


@dataclass(frozen=True)
class Report:
    ledger_rows: int
    chain_problems: list
    session_rows: int
    session_problems: list[SessionProblem]
    seconds: float
    records: integrity_records.Result = field(default_factory=integrity_records.Result)
    anchors: anchor.CheckResult = field(default_factory=anchor.CheckResult)

    @property
    def ok(self) -> bool:
        return not (self.chain_problems or self.session_problems or self.records.problems
                    or self.anchors.problems)

    def lines(self) -> list[str]:
        lines = [f"[账本] {CHAIN_WORDS[problem.problem].format(id=problem.row_id)} ({problem.problem})"
                 for problem in self.chain_problems]
        lines += [f"[业务] {problem.describe()} ({problem.problem})"
                  for problem in self.session_problems]
        lines += [problem.line() for problem in self.records.problems]
        lines += [problem.line() for problem in self.anchors.problems]
        lines += [f"[提示] {warning}" for warning in self.anchors.warnings]
        return lines

    def summary(self) -> str:
        verdict = "通过" if self.ok else "未通过"
        return (f"校验{verdict}：账本 {self.ledger_rows} 行，问题 {len(self.chain_problems)} 处；"
                f"业务 {self.session_rows} 条，问题 {len(self.session_problems)} 处；"
                f"用户、设置与令牌 {self.records.rows} 条，问题 {len(self.records.problems)} 处；"
                f"锚点 {self.anchors.count} 个，问题 {len(self.anchors.problems)} 处；"
                f"用时 {self.seconds:.2f} 秒")


def _check_sessions_at(path, key: bytes) -> tuple[int, list[SessionProblem]]:
    database = connect(path)
    try:
        return check_sessions(database, key)
    finally:
        database.conn.close()


def verify(path, key: bytes, anchor_dir=None) -> Report:
    """Check the chain and the sessions table side by side (the sessions check is one SQL
    statement on its own connection and thread; SQLite runs it without holding the GIL except
    for the digest function), then users, settings and tokens, then the anchors in
    `anchor_dir` (None: not configured, a warning)."""
    started = time.perf_counter()
    database = connect(path)
    try:
        missing = integrity_records.missing_tables(database)
        if missing:  # dropped around the app: nothing else can be checked reliably
            return Report(0, [], 0, [], time.perf_counter() - started,
                          integrity_records.missing_result(missing))
        with ThreadPoolExecutor(max_workers=1) as pool:
            sessions_check = pool.submit(_check_sessions_at, path, key)
            ledger_rows, chain_problems = audit.verify_chain(database, key,
                                                             workers=os.cpu_count() or 1)
            session_rows, session_problems = sessions_check.result()
        records = integrity_records.check(database, key, ledger_rows)
        anchors = anchor.check(database, key, anchor_dir)
    finally:
        database.conn.close()
    return Report(ledger_rows, chain_problems, session_rows, session_problems,
                  time.perf_counter() - started, records, anchors)
