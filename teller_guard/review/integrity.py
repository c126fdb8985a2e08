"""`teller-guard verify`: the ledger chain is intact, and every sessions row agrees with its events.

The chain (audit.verify_chain) proves nobody edited, inserted or deleted ledger rows. The
sessions table is current state that anyone with the database file could edit, so each row is
compared with what its own events say:

- a row must have a `screening.started` event with the same reference (else: inserted);
- level and score equal the latest `screening.assessed` (none if never assessed);
- outcome equals the latest `screening.outcome`, and so does amount_fen once there is one;
- review_status equals `to` of the latest `review.transition` (pending or empty if none);
- assignee_id equals the latest `review.assigned`;
- in_queue is 1 when the events require review (latest level high/critical, a supervisor
  override, a police alert): hiding a case from security is exactly what tampering would try;
- events that point at a session id with no row mean the row was deleted.
"""

from __future__ import annotations

import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import audit
from ..db import connect

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


def _latest(kind: str, path: str, guarded: bool = False) -> str:
    """SQL for the value at `path` in the newest `kind` event of the session (e = ledger rows of
    one session): NULL when there is no such event, '' when it has no value, '=value' otherwise.
    The zero-padded id in front makes max() pick the newest event. `guarded`: data that is not
    JSON (rewritten around the app) has no value, where json_extract would end the query."""
    value = f"json_extract(e.data, '{path}')"
    if guarded:
        value = f"CASE WHEN json_valid(e.data) THEN {value} END"
    return (f"substr(max(CASE WHEN e.kind = '{kind}' THEN printf('%012d', e.id) || "
            f"IFNULL('=' || {value}, '') END), 13)")


def _stored(column: str) -> str:
    return f"IFNULL('=' || s.{column}, '')"


_ALERTED = f"max(e.kind IN ({', '.join(repr(kind) for kind in ALERT_KINDS)}))"


def _checks(guarded: bool) -> dict[str, str]:
    """field -> SQL that is true when the row disagrees with its events."""
    def latest(kind: str, path: str) -> str:
        return _latest(kind, path, guarded)

    level, outcome = latest("screening.assessed", "$.level"), latest("screening.outcome", "$.outcome")
    return {
        "reference": f"{latest('screening.started', '$.reference')} IS NOT {_stored('reference')}",
        "level": f"IFNULL({level}, '') != {_stored('level')}",
        "score": f"IFNULL({latest('screening.assessed', '$.score')}, '') != {_stored('score')}",
        "outcome": f"IFNULL({outcome}, '') != {_stored('outcome')}",
        "amount_fen": f"IFNULL({latest('screening.outcome', '$.amount_fen')}, "
                      f"{_stored('amount_fen')}) != {_stored('amount_fen')}",
        "review_status": f"IFNULL({latest('review.transition', '$.to')}, '=pending') != "
                         "IFNULL('=' || s.review_status, '=pending')",
        "assignee_id": f"IFNULL({latest('review.assigned', '$.assignee_id')}, '') != "
                       f"{_stored('assignee_id')}",
        "in_queue": f"IFNULL(s.in_queue, 0) != 1 AND (IFNULL({level}, '') IN ('=high', "
                    f"'=critical') OR IFNULL({outcome}, '') = '=police_called' "
                    f"OR IFNULL({_ALERTED}, 0))",
    }


def _mismatches_sql(guarded: bool) -> str:
    """One pass: each session with its own events (the session_id index keeps them together);
    only the rows that disagree come back. `started` is NULL for a row no event created."""
    checks = _checks(guarded)
    return (
        "SELECT s.id, " + _latest("screening.started", "$.reference", guarded)  # noqa: S608
        + " AS started, " + ", ".join(f"({sql}) AS bad_{field}" for field, sql in checks.items())
        + " FROM sessions s LEFT JOIN ledger e ON e.session_id = s.id GROUP BY s.id HAVING "
        + " OR ".join(f"bad_{field}" for field in checks) + " ORDER BY s.id"
    )


CHECKS = _checks(guarded=False)
MISMATCHES_SQL = _mismatches_sql(guarded=False)
# The same, for a ledger where some row's data is not JSON: json_valid on every row makes it
# slower, so it runs only after the fast one stopped on such a row.
MISMATCHES_SQL_GUARDED = _mismatches_sql(guarded=True)

ORPHANS_SQL = (
    "SELECT DISTINCT session_id FROM ledger WHERE session_id IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM sessions WHERE id = ledger.session_id) ORDER BY session_id"
)


@dataclass(frozen=True)
class SessionProblem:
    session_id: int
    problem: str  # edited | inserted | deleted
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        return SESSION_WORDS[self.problem].format(id=self.session_id, detail="、".join(self.fields))


def check_sessions(db) -> tuple[int, list[SessionProblem]]:
    """Compare every sessions row with its events; returns (rows checked, problems)."""
    problems = []
    own_transaction = not db.conn.in_transaction
    if own_transaction:
        db.execute("BEGIN")  # one snapshot for all three queries
    try:
        try:
            rows = db.execute(MISMATCHES_SQL).fetchall()
        except sqlite3.OperationalError as error:
            if "malformed JSON" not in str(error):
                raise
            rows = db.execute(MISMATCHES_SQL_GUARDED).fetchall()
        for row in rows:
            if row[1] is None:
                problems.append(SessionProblem(row[0], "inserted"))
            else:
                fields = tuple(field for field, bad in zip(CHECKS, row[2:], strict=True) if bad)
                problems.append(SessionProblem(row[0], "edited", fields))
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

    @property
    def ok(self) -> bool:
        return not self.chain_problems and not self.session_problems

    def lines(self) -> list[str]:
        lines = [f"[账本] {CHAIN_WORDS[problem.problem].format(id=problem.row_id)} ({problem.problem})"
                 for problem in self.chain_problems]
        lines += [f"[业务] {problem.describe()} ({problem.problem})"
                  for problem in self.session_problems]
        return lines

    def summary(self) -> str:
        verdict = "通过" if self.ok else "未通过"
        return (f"校验{verdict}：账本 {self.ledger_rows} 行，问题 {len(self.chain_problems)} 处；"
                f"业务 {self.session_rows} 条，问题 {len(self.session_problems)} 处；"
                f"用时 {self.seconds:.2f} 秒")


def _check_sessions_at(path) -> tuple[int, list[SessionProblem]]:
    database = connect(path)
    try:
        return check_sessions(database)
    finally:
        database.conn.close()


def verify(path, key: bytes) -> Report:
    """Check the chain and the sessions table side by side: the sessions check is one SQL
    statement (SQLite runs it without holding the GIL) on its own connection and thread."""
    started = time.perf_counter()
    database = connect(path)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            sessions_check = pool.submit(_check_sessions_at, path)
            ledger_rows, chain_problems = audit.verify_chain(database, key,
                                                             workers=os.cpu_count() or 1)
            session_rows, session_problems = sessions_check.result()
    finally:
        database.conn.close()
    return Report(ledger_rows, chain_problems, session_rows, session_problems,
                  time.perf_counter() - started)
