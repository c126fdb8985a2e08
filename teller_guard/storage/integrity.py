"""The SQL of `teller-guard verify` (review/integrity.py, review/integrity_records.py): every
sessions row against its own events in one statement, and the small tables read whole.

The rules each check encodes are described in review/integrity.py. The sessions check is one
pass: only the rows that disagree come back (as dicts); on SQLite the digests of content and
personal data are compared by digests.checker, registered on the connection as tg_check_state.
PostgreSQL runs the same statement in its own words (storage/integrity_postgresql.py, digests
computed by the server) in one REPEATABLE READ snapshot that the chain walk shares.
"""

from __future__ import annotations

import sqlite3

from ..digests import DIGEST_CHARS, STATE_CONTENT, STATE_VAULT, checker
from . import Row, integrity_postgresql, query
from .ledger import SESSION_TEXT_SQL, VAULT_TEXT_SQL

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
            f"COALESCE(max({_case_kind(ALERT_KINDS, '1')}), 0) AS alerted, "
            f"count({_case_kind(['print.slip'], '1')}) AS slips, "
            f"count({_case_kind(['print.alert'], '1')}) AS alerts, "
            f"count({_case_kind(['screening.discarded'], '1')}) AS discards "
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
    return (f"(CASE WHEN COALESCE({at}, 0) = 0 THEN 0 ELSE tg_check_state("
            f"substr(f.data, {at} + {len(STATE_KEY)}, {2 * DIGEST_CHARS}), "
            f"CAST({SESSION_TEXT_SQL} || char(29) || {VAULT_TEXT_SQL} AS BLOB), "
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

    supervised = "g.sv > COALESCE(g.a, 0)"  # a new assessment clears the supervisor's decision
    checks = {
        "reference": f"{value('st', '$.reference')} IS NOT s.reference",
        "teller_id": "st.actor_id IS NOT s.teller_id",
        "api_token_id": f"{value('st', '$.api_token_id')} IS NOT s.api_token_id",
        # the branch whose scope shows the case: its events are that branch's chain (a row
        # without a branch, which the app never writes, is left to the scoping)
        "branch_id": "s.branch_id IS NOT NULL AND st.chain IS NOT s.branch_id",
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
        "supervisor_reason": f"COALESCE(CASE WHEN {supervised} THEN {value('sv', '$.reason')} END, "
                             "'') IS NOT COALESCE(s.supervisor_reason, '')",
        "outcome": f"{value('o', '$.outcome')} IS NOT s.outcome",
        "amount_fen": f"g.o IS NOT NULL AND {value('o', '$.amount_fen')} IS NOT s.amount_fen",
        "duration_seconds": f"{value('o', '$.duration_seconds')} IS NOT s.duration_seconds",
        "status": "(g.o IS NOT NULL) != (s.status IS 'finished') "
                  "OR (g.discards > 0) != (s.status IS 'discarded')",
        "review_status": f"COALESCE({value('t', '$.to')}, 'pending') IS NOT "
                         "COALESCE(s.review_status, 'pending')",
        "assignee_id": f"{value('ag', '$.assignee_id')} IS NOT s.assignee_id",
        "in_queue": f"COALESCE(s.in_queue, 0) != 1 AND ({value('a', '$.level')} IN ('high', "
                    f"'critical') OR {value('o', '$.outcome')} IS 'police_called' OR g.alerted)",
        "slips_printed": "g.slips IS NOT COALESCE(s.slips_printed, 0)",
        "alerts_printed": "g.alerts IS NOT COALESCE(s.alerts_printed, 0)",
    }
    call = _state_call()
    checks["content"] = f"{call} & {STATE_CONTENT}"
    checks["pii_vault"] = f"{call} & {STATE_VAULT}"
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
        "SELECT s.id AS id, st.id AS started, "  # noqa: S608 - our constants
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


CHECKED_FIELDS = tuple(_checks(False))  # a mismatch row has bad_<field> for each


def session_mismatches(db, digest_key: bytes) -> tuple[int, list[Row], list[int]]:
    """Compare every sessions row with its events in one snapshot. Returns the number of
    sessions rows, the rows that disagree (id; started, the screening.started event's id, None
    when no event created the row; bad_<field> for each of CHECKED_FIELDS) in id order, and the
    session ids that events name but no row has. `digest_key` is digests.digest_key(…).
    Inside a transaction (PostgreSQL: a snapshot joined with join_snapshot) it reads in that."""
    own_transaction = not db.conn.in_transaction
    if db.dialect == "postgresql":
        if own_transaction:
            integrity_postgresql.begin_snapshot(db)
        try:
            rows = integrity_postgresql.session_rows(db, LATEST, ALERT_KINDS, digest_key)
            return _orphans_and_count(db, rows)
        finally:
            if own_transaction:
                db.execute("COMMIT")
    db.conn.create_function("tg_check_state", 3, checker(digest_key), deterministic=True)
    if own_transaction:
        db.execute("BEGIN")  # one snapshot for all the queries
    try:
        parameters = {"redacted_before": db.execute(REDACTED_BEFORE_SQL).fetchone()[0] or ""}
        try:
            rows = query(db, _mismatches_sql(False), parameters)
        except sqlite3.OperationalError as error:
            if "malformed JSON" not in str(error):
                raise
            # json_valid on every row makes it slower, so it runs only after the fast one
            # stopped on data that is not JSON.
            rows = query(db, _mismatches_sql(True), parameters)
        return _orphans_and_count(db, rows)
    finally:
        if own_transaction:
            db.execute("COMMIT")


def _orphans_and_count(db, rows: list[Row]) -> tuple[int, list[Row], list[int]]:
    orphans = [row[0] for row in db.execute(ORPHANS_SQL)]
    count = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    return count, rows, orphans


def begin_snapshot(db) -> str | None:
    """PostgreSQL: start the REPEATABLE READ transaction that all of verify reads in and return
    its snapshot id for the other connections (join_snapshot). SQLite: None (the sessions check
    takes a snapshot of its own)."""
    if db.dialect != "postgresql":
        return None
    return integrity_postgresql.begin_snapshot(db)


def join_snapshot(db, snapshot: str | None) -> None:
    if snapshot is not None:
        integrity_postgresql.join_snapshot(db, snapshot)


def end_snapshot(db, snapshot: str | None) -> None:
    if snapshot is not None and db.conn.in_transaction:
        db.execute("COMMIT")


# --- users, settings and API tokens against their events (integrity_records.py) -------------


def table_names(db) -> set[str]:
    if db.dialect == "postgresql":  # the tables of the schema the connection works in
        return {row[0] for row in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE'")}
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def record_events(db, kinds: tuple[str, ...]) -> list[Row]:
    """id, kind, actor_id and data of the events of these kinds outside any session, oldest
    first. The session_id index finds them without reading the screenings' events."""
    marks = ", ".join("?" * len(kinds))
    return query(db, f"SELECT id, kind, actor_id, data FROM ledger WHERE session_id IS NULL "  # noqa: S608
                     f"AND kind IN ({marks}) ORDER BY id", kinds)


def users_and_sessions(db) -> Row:
    """How many rows users and sessions hold."""
    return {"users": db.execute("SELECT count(*) FROM users").fetchone()[0],
            "sessions": db.execute("SELECT count(*) FROM sessions").fetchone()[0]}


def users(db) -> list[Row]:
    return query(db, "SELECT id, username, role, active, password_hash, display_name, staff_no, "
                 "must_change_password, branch_id FROM users ORDER BY id")


def api_tokens(db) -> list[Row]:
    return query(db, "SELECT id, name, created_by, revoked_at, token_hash, tellers, read_scope, "
                     "may_supervise, branch_id FROM api_tokens ORDER BY id")


def branches(db) -> list[Row]:
    return query(db, "SELECT * FROM branches ORDER BY id")


def bank_settings(db) -> dict[str, str]:
    """The `settings` table (全行设置): key -> JSON text."""
    return {row["key"]: row["value"] for row in query(db, "SELECT key, value FROM settings")}
