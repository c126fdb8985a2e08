"""Helpers for the review tests: sessions written the way docs/architecture.md says the
screening service writes them (a sessions row plus its ledger events, in one transaction).
The few tests here check the helper itself against `teller-guard verify`'s rules."""

from __future__ import annotations

import json
from itertools import count

from teller_guard import audit, db
from teller_guard.review import integrity

_numbers = count(1)
QUEUE_LEVELS = ("high", "critical")


def user_id(database, username: str) -> int:
    return database.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()[0]


def ledger_key(app) -> bytes:
    return app.extensions["teller_guard"]["ledger_key"]


def make_session(app, database, teller="teller", *, level="high", score=None, outcome="cancelled",
                 amount_fen=5_000_000, typology="gov_impersonation", started_at=None,
                 duration_seconds=120, override=False, vault=None, payee_masked="6222 **** **** 1234",
                 customer_masked="张*", form=None) -> int:
    """Insert one screened session. level=None leaves it a draft; outcome=None unfinished."""
    key = ledger_key(app)
    teller_id = user_id(database, teller)
    number = next(_numbers)
    started_at = started_at or f"2026-11-{(number % 28) + 1:02d}T10:{number % 60:02d}:00+08:00"
    reference = f"TG{started_at[:10].replace('-', '')}-{number:06d}"
    score = score if score is not None else {"low": 5, "medium": 30, "high": 55, "critical": 90}.get(level)
    typologies = [typology] if typology and level in ("medium", "high", "critical") else []
    in_queue = int(level in QUEUE_LEVELS or override or outcome == "police_called")
    form = form or {"facts": {"amount": f"{amount_fen / 100:.2f}", "channel": "counter_transfer",
                              "payee_account": payee_masked, "customer_name": customer_masked},
                    "answers": {"answers": {"purpose": "safe_account"},
                                "three_checks": {"paying_stranger": True},
                                "observations": ["on_phone", "told_keep_secret"]}}
    assessment = {"score": score, "level": level, "fired": [
        {"rule_id": "purpose_safe_account", "points": 60, "reason_zh": "客户称要转到“安全账户”"}],
        "typologies": [{"id": t, "name_zh": "冒充公检法"} for t in typologies],
        "action": {"code": "stop_and_report", "label_zh": "停止办理，立即报警"},
        "rules_version": "test-1"} if level else None
    with db.write_transaction(database):
        session_id = database.execute(
            "INSERT INTO sessions (reference, teller_id, started_at, updated_at, finished_at, "
            "duration_seconds, step, status, form, amount_fen, channel, other_region, payee_hash, "
            "payee_masked, customer_hash, customer_masked, level, score, action, typology, "
            "typologies, rules_version, assessment, supervisor_id, supervisor_decision, "
            "supervisor_reason, outcome, outcome_at, in_queue, review_status, branch_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'counter_transfer', 0, 'h1', ?, 'h2', ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            # as storage.sessions.start does: the teller's branch
            "(SELECT branch_id FROM users WHERE id = ?)) RETURNING id",
            [reference, teller_id, started_at, started_at,
             started_at if outcome else None, duration_seconds if outcome else None,
             "done" if outcome else "result", "finished" if outcome else ("assessed" if level else "draft"),
             json.dumps(form, ensure_ascii=False), amount_fen, payee_masked, customer_masked,
             level, score, "stop_and_report" if level else None, typologies[0] if typologies else None,
             json.dumps(typologies) if level else None, "test-1" if level else None,
             json.dumps(assessment, ensure_ascii=False) if assessment else None,
             user_id(database, "supervisor") if override else None, "override" if override else None,
             "客户坚持" if override else None, outcome, started_at if outcome else None, in_queue,
             "pending" if in_queue else None, teller_id]).fetchone()[0]
        for field, value in (vault or {}).items():
            database.execute("INSERT INTO pii_vault (session_id, field, value, stored_at) "
                             "VALUES (?, ?, ?, ?)", [session_id, field, value, started_at])

        def event(kind, actor, **data):
            audit.append(database, key, audit.AuditEvent(kind, actor, session_id, data))

        event("screening.started", teller_id, reference=reference)
        if level:
            event("screening.assessed", teller_id, level=level, score=score,
                  action="stop_and_report", typologies=typologies, rules_version="test-1",
                  fired=["purpose_safe_account"], amount_fen=amount_fen)
        if override:
            supervisor = user_id(database, "supervisor")
            event("screening.supervisor_override", supervisor, supervisor_id=supervisor,
                  reason="客户坚持")
        if outcome:
            event("screening.outcome", teller_id, outcome=outcome, amount_fen=amount_fen,
                  duration_seconds=duration_seconds)
    return session_id


def test_helper_sessions_verify_clean(app, database):
    make_session(app, database, level="low", outcome="proceeded")
    make_session(app, database, level="critical", outcome="police_called",
                 vault={"customer_name": "张三"})
    make_session(app, database, level="medium", outcome=None)
    make_session(app, database, level=None, outcome=None)
    make_session(app, database, level="critical", override=True, outcome="proceeded")
    rows, problems = integrity.check_sessions(database, ledger_key(app))
    assert rows == 5 and problems == []
    assert audit.verify_chain(database, ledger_key(app))[1] == []


def test_helper_queues_as_the_contract_says(app, database):
    low = make_session(app, database, level="low", outcome="proceeded")
    police = make_session(app, database, level="medium", outcome="police_called")
    override = make_session(app, database, level="critical", override=True, outcome="proceeded")
    queued = dict(database.execute("SELECT id, in_queue FROM sessions").fetchall())
    assert queued == {low: 0, police: 1, override: 1}
