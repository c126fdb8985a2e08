"""`teller-guard verify`: the ledger chain is intact, every row agrees with its events, and the
chain agrees with its anchors outside the database.

The chains (audit.verify_chain: each branch's and the bank's) prove nobody edited, inserted or
deleted ledger rows; `--branch CODE` / `--bank` walk one chain alone (and its anchors). The
sessions table is current state that anyone with the database file could edit, so each row is
compared with its own events (the newest event of each kind):

- a row must have a `screening.started` event with the same reference, teller_id is that
  event's actor (else: inserted) and api_token_id its `api_token_id` (the filing API token,
  which decides what a token may read); branch_id, when set (the app always sets it), is the
  chain of that event (issue 16: a case moved to another branch's scope by hand shows);
- level, score, action, typologies, typology (the first of them) and rules_version equal the
  latest `screening.assessed` (none if never assessed);
- supervisor_id, supervisor_decision (from the event kind) and supervisor_reason equal the
  latest supervisor event when it came after the latest assessment, else they are empty;
- outcome and duration_seconds equal the latest `screening.outcome`, amount_fen too once there
  is one, and status is `finished` exactly when there is one, `discarded` exactly when
  there is a `screening.discarded` event (a row marked discarded by hand would drop out of
  the statistics and signals);
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
integrity_records.py, and the chain against its anchors in anchor.py. The SQL of these checks
is in storage/integrity.py.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .. import anchor, audit, digests
from ..db import connect
from ..storage import branches as branch_store
from ..storage import integrity as stored
from ..storage.ledger import BANK_CHAIN
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
    count, rows, orphans = stored.session_mismatches(db, digests.digest_key(key))
    problems = []
    for row in rows:
        if row["started"] is None:
            problems.append(SessionProblem(row["id"], "inserted"))
        else:
            bad = tuple(name for name in stored.CHECKED_FIELDS if row[f"bad_{name}"])
            problems.append(SessionProblem(row["id"], "edited", bad))
    problems.extend(SessionProblem(session_id, "deleted") for session_id in orphans)
    problems.sort(key=lambda problem: problem.session_id)
    return count, problems


def chain_names(db) -> dict[int, str]:
    """chain -> how a problem names it: 总行 for the bank's, 网点 CODE for a branch's."""
    names = {row["id"]: f"网点 {row['code']}" for row in branch_store.all_branches(db)}
    names[BANK_CHAIN] = "总行"
    return names


def chain_line(problem, names: dict) -> str:
    where = names.get(problem.chain, f"链 {problem.chain}")
    return f"[账本] {where}：{CHAIN_WORDS[problem.problem].format(id=problem.row_id)} ({problem.problem})"


@dataclass(frozen=True)
class Report:
    ledger_rows: int
    chain_problems: list
    session_rows: int
    session_problems: list[SessionProblem]
    seconds: float
    records: integrity_records.Result = field(default_factory=integrity_records.Result)
    anchors: anchor.CheckResult = field(default_factory=anchor.CheckResult)
    chain_names: dict = field(default_factory=dict)
    only: str | None = None  # the one chain checked (`--branch`, `--bank`), as chain_names says

    @property
    def ok(self) -> bool:
        return not (self.chain_problems or self.session_problems or self.records.problems
                    or self.anchors.problems)

    def lines(self) -> list[str]:
        lines = [chain_line(problem, self.chain_names) for problem in self.chain_problems]
        lines += [f"[业务] {problem.describe()} ({problem.problem})"
                  for problem in self.session_problems]
        lines += [problem.line() for problem in self.records.problems]
        lines += [problem.line() for problem in self.anchors.problems]
        lines += [f"[提示] {warning}" for warning in self.anchors.warnings]
        return lines

    def summary(self) -> str:
        verdict = "通过" if self.ok else "未通过"
        if self.only is not None:
            return (f"校验{verdict}（仅{self.only}的账本链）：账本 {self.ledger_rows} 行，问题 "
                    f"{len(self.chain_problems)} 处；锚点 {self.anchors.count} 个，问题 "
                    f"{len(self.anchors.problems)} 处；用时 {self.seconds:.2f} 秒")
        return (f"校验{verdict}：账本 {self.ledger_rows} 行，问题 {len(self.chain_problems)} 处；"
                f"业务 {self.session_rows} 条，问题 {len(self.session_problems)} 处；"
                f"用户、设置与令牌 {self.records.rows} 条，问题 {len(self.records.problems)} 处；"
                f"锚点 {self.anchors.count} 个，问题 {len(self.anchors.problems)} 处；"
                f"用时 {self.seconds:.2f} 秒")


def _check_sessions_at(path, key: bytes, snapshot: str | None
                       ) -> tuple[int, list[SessionProblem]]:
    database = connect(path)
    try:
        stored.join_snapshot(database, snapshot)
        return check_sessions(database, key)
    finally:
        database.conn.close()  # ends its transaction too: it only read


def verify(path, key: bytes, anchor_dir=None, chain: int | None = None) -> Report:
    """Check the chain and the sessions table side by side (the sessions check is one SQL
    statement on its own connection and thread; SQLite runs it without holding the GIL except
    for the digest function, PostgreSQL in its server process), then users, settings and
    tokens, then the anchors in `anchor_dir` (None: not configured, a warning). On PostgreSQL
    everything is read in one snapshot (a REPEATABLE READ transaction that the sessions check
    joins), so appends while verify runs cannot make the parts disagree. With `chain` (a
    branch's id, 0 the bank's): that chain and its anchors only."""
    started = time.perf_counter()
    database = connect(path)
    snapshot = None
    try:
        snapshot = stored.begin_snapshot(database)
        missing = integrity_records.missing_tables(database)
        if chain is not None and not missing:
            return _verify_one_chain(database, key, anchor_dir, chain, started)
        if missing:  # dropped around the app: nothing else can be checked reliably
            return Report(0, [], 0, [], time.perf_counter() - started,
                          integrity_records.missing_result(missing))
        with ThreadPoolExecutor(max_workers=1) as pool:
            sessions_check = pool.submit(_check_sessions_at, path, key, snapshot)
            ledger_rows, chain_problems = audit.verify_chain(database, key,
                                                             workers=os.cpu_count() or 1)
            session_rows, session_problems = sessions_check.result()
        records = integrity_records.check(database, key, ledger_rows)
        anchors = anchor.check(database, key, anchor_dir)
        names = chain_names(database)
    finally:
        stored.end_snapshot(database, snapshot)
        database.conn.close()
    return Report(ledger_rows, chain_problems, session_rows, session_problems,
                  time.perf_counter() - started, records, anchors, names)


def _verify_one_chain(database, key: bytes, anchor_dir, chain: int, started: float) -> Report:
    rows, problems = audit.verify_chain(database, key, workers=os.cpu_count() or 1, chain=chain)
    anchors = anchor.check(database, key, anchor_dir, chain=chain)
    names = chain_names(database)
    return Report(rows, problems, 0, [], time.perf_counter() - started, anchors=anchors,
                  chain_names=names, only=names.get(chain, f"链 {chain}"))
