"""The sessions check of `teller-guard verify` in PostgreSQL's words. storage/integrity.py has
the SQLite form, says what the statement does and dispatches here; review/integrity.py states
the rules.

Where the dialects differ, this form gives SQLite's answer for every genuine ledger row (and
the chain walk reports any other):

- `IS NOT` (null-safe) is `IS DISTINCT FROM`; json_extract is `->>` on the data cast to jsonb
  once per event, and the value compares as text with the column (the ledger holds
  json.dumps' integers, which read the same as the column's);
- data that is not JSON (text rewritten around the app) ends the fast statement, as
  json_extract does on SQLite; the statement then runs again with each cast through a
  function that answers NULL instead (`pg_temp.tg_jsonb`, this connection's only: PostgreSQL
  15 has no json_valid, and an exception handler per row would slow down the usual case);
- the `state` digests are computed by the server with the built-in sha256() (digests.digest
  is plain SHA-256 of the key, then the text's UTF-8 bytes; no extension needed). The key
  reaches the server in a statement of its own, set_config(…, is_local), so it is never a
  parameter of the long statement (which log_min_duration_statement would write to the
  server's log with its parameters), and it is gone when the transaction ends.
"""

from __future__ import annotations

import re

import psycopg

from ..digests import DIGEST_CHARS, STATE_CONTENT, STATE_VAULT
from . import Row, query
from .ledger import POSTGRESQL_SESSION_TEXT_SQL, POSTGRESQL_VAULT_TEXT_SQL

KEY_SETTING = "teller_guard.digest_key"
# NULL for text that is not JSON. jsonb cannot hold U+0000, which json.dumps writes as \u0000
# (a review note can hold one): such data is read with U+FFFD in its place, so the other values
# of a genuine event still compare (SQLite reads it as is).
JSONB_FUNCTION = (
    "CREATE OR REPLACE FUNCTION pg_temp.tg_jsonb(data text) RETURNS jsonb LANGUAGE plpgsql "
    "IMMUTABLE AS $$ BEGIN RETURN CAST(data AS jsonb); EXCEPTION "
    "WHEN untranslatable_character THEN BEGIN "
    "RETURN CAST(replace(data, '\\u0000', '\\ufffd') AS jsonb); "
    "EXCEPTION WHEN others THEN RETURN NULL; END; "
    "WHEN others THEN RETURN NULL; END $$")
STATE_KEY = '"state": "'  # storage/integrity.STATE_KEY: found by text, as on SQLite
# digests._emptied: every U+001F-separated part of the vault text ends with U+001E (an empty
# vault is not emptied). Regex escapes, not the characters, so the statement stays printable.
EMPTIED = r"'^[^\x1f]*\x1e(\x1f[^\x1f]*\x1e)*$'"


def _jsonb(column: str, guarded: bool) -> str:
    return f"pg_temp.tg_jsonb({column})" if guarded else f"CAST({column} AS jsonb)"


def _digest(text_sql: str) -> str:
    """digests.digest in SQL."""
    return (f"left(encode(sha256(decode(current_setting('{KEY_SETTING}'), 'hex') || "
            f"convert_to({text_sql}, 'UTF8')), 'hex'), {DIGEST_CHARS})")


def _state_bits() -> str:
    """0, or the digests.STATE_* bits of what disagrees with the latest `state` (digests.checker
    in SQL): of the columns of `x` (expected, session_text, vault_text, redactable)."""
    content = (f"(CASE WHEN {_digest('x.session_text')} <> left(x.expected, {DIGEST_CHARS}) "
               f"THEN {STATE_CONTENT} ELSE 0 END)")
    vault = (f"(CASE WHEN {_digest('x.vault_text')} <> substr(x.expected, {DIGEST_CHARS + 1}) "
             f"AND NOT (x.redactable AND x.vault_text ~ {EMPTIED}) THEN {STATE_VAULT} ELSE 0 END)")
    return f"(CASE WHEN x.expected IS NULL THEN 0 ELSE {content} | {vault} END)"


def _checks(guarded: bool) -> dict[str, str]:
    """field -> SQL that is true when the row disagrees with its events; the same fields and
    meaning as storage/integrity._checks. `j` holds each newest event's data as jsonb."""
    del guarded  # the casts are made once, in _jsonb_of; kept for the SQLite signature

    def number(column: str) -> str:
        return f"CAST(s.{column} AS text)"

    supervised = "g.sv > COALESCE(g.a, 0)"
    checks = {
        "reference": "j.st ->> 'reference' IS DISTINCT FROM s.reference",
        "teller_id": "st.actor_id IS DISTINCT FROM s.teller_id",
        "api_token_id": f"j.st ->> 'api_token_id' IS DISTINCT FROM {number('api_token_id')}",
        "level": "j.a ->> 'level' IS DISTINCT FROM s.level",
        "score": f"j.a ->> 'score' IS DISTINCT FROM {number('score')}",
        "action": "j.a ->> 'action' IS DISTINCT FROM s.action",
        # json_extract gives SQL NULL for a JSON null; -> gives jsonb 'null'
        "typologies": "NULLIF(j.a -> 'typologies', 'null') IS DISTINCT FROM j.typologies",
        "typology": "j.a -> 'typologies' ->> 0 IS DISTINCT FROM s.typology",
        "rules_version": "j.a ->> 'rules_version' IS DISTINCT FROM s.rules_version",
        "supervisor_id": f"(CASE WHEN {supervised} THEN j.sv ->> 'supervisor_id' END) "
                         f"IS DISTINCT FROM {number('supervisor_id')}",
        "supervisor_decision": f"(CASE WHEN {supervised} THEN (CASE sv.kind WHEN "
                               "'screening.supervisor_override' THEN 'override' ELSE "
                               "'confirmed' END) END) IS DISTINCT FROM s.supervisor_decision",
        "supervisor_reason": f"COALESCE(CASE WHEN {supervised} THEN j.sv ->> 'reason' END, '') "
                             "IS DISTINCT FROM COALESCE(s.supervisor_reason, '')",
        "outcome": "j.o ->> 'outcome' IS DISTINCT FROM s.outcome",
        "amount_fen": f"g.o IS NOT NULL AND j.o ->> 'amount_fen' IS DISTINCT FROM "
                      f"{number('amount_fen')}",
        "duration_seconds": f"j.o ->> 'duration_seconds' IS DISTINCT FROM "
                            f"{number('duration_seconds')}",
        "status": "(g.o IS NOT NULL) <> (s.status IS NOT DISTINCT FROM 'finished')",
        "review_status": "COALESCE(j.t ->> 'to', 'pending') IS DISTINCT FROM "
                         "COALESCE(s.review_status, 'pending')",
        "assignee_id": f"j.ag ->> 'assignee_id' IS DISTINCT FROM {number('assignee_id')}",
        "in_queue": "COALESCE(s.in_queue, 0) <> 1 AND (j.a ->> 'level' IN ('high', 'critical') "
                    "OR j.o ->> 'outcome' IS NOT DISTINCT FROM 'police_called' OR g.alerted = 1)",
        "slips_printed": "g.slips IS DISTINCT FROM COALESCE(s.slips_printed, 0)",
        "alerts_printed": "g.alerts IS DISTINCT FROM COALESCE(s.alerts_printed, 0)",
    }
    checks["content"] = f"({_state_bits()} & {STATE_CONTENT}) <> 0"
    checks["pii_vault"] = f"({_state_bits()} & {STATE_VAULT}) <> 0"
    return checks


JSON_ALIASES = ("st", "a", "sv", "o", "t", "ag")


def _jsonb_of(guarded: bool) -> str:
    """Each newest event's data parsed once (OFFSET 0 keeps the planner from copying the casts
    into every expression that reads them), and the row's own typologies."""
    casts = ", ".join(f"{_jsonb(f'{alias}.data', guarded)} AS {alias}" for alias in JSON_ALIASES)
    return (f"CROSS JOIN LATERAL (SELECT {casts}, {_jsonb('s.typologies', guarded)} AS "
            "typologies OFFSET 0) j")


def _state_inputs() -> str:
    """What the digest check reads, once per row: the `state` text of the newest event that has
    one (NULL: none, or written before the digest), the texts it digests, and whether the vault
    may have been emptied by retention."""
    at = f"strpos(f.data, '{STATE_KEY}')"
    return (f"CROSS JOIN LATERAL (SELECT CASE WHEN COALESCE({at}, 0) > 0 THEN "
            f"substr(f.data, {at} + {len(STATE_KEY)}, {2 * DIGEST_CHARS}) END AS expected, "
            f"{POSTGRESQL_SESSION_TEXT_SQL} AS session_text, {POSTGRESQL_VAULT_TEXT_SQL} AS "
            "vault_text, s.started_at < CAST(? AS text) COLLATE \"C\" AS redactable OFFSET 0) x")


def mismatches_sql(grouped: str, latest: tuple[str, ...], guarded: bool) -> str:
    """The statement of storage/integrity._mismatches_sql; `grouped` is its per-session id
    subquery (the same SQL on both backends), `latest` its aliases. One parameter: the
    retention cut-off."""
    checks = _checks(guarded)
    joins = " ".join(f"LEFT JOIN ledger {alias} ON {alias}.id = g.{alias}" for alias in latest)
    tests = [f"({sql})" for name, sql in checks.items() if name not in ("content", "pii_vault")]
    tests.append(f"{_state_bits()} <> 0")
    return (
        "SELECT s.id AS id, st.id AS started, "  # noqa: S608 - our constants
        + ", ".join(f"({sql}) AS bad_{name}" for name, sql in checks.items())
        + f" FROM ({grouped}) g JOIN sessions s ON s.id = g.id {joins} {_jsonb_of(guarded)} "
        + _state_inputs()
        + " WHERE st.id IS NULL OR " + " OR ".join(tests) + " ORDER BY s.id"
    )


def redacted_before_sql(guarded: bool) -> str:
    data = _jsonb("data", guarded)
    return (f"SELECT max(({data} ->> 'before') COLLATE \"C\") FROM ledger "  # noqa: S608
            "WHERE session_id IS NULL AND kind = 'retention.redacted'")


SNAPSHOT_ID = re.compile(r"^[0-9A-F]+(-[0-9A-F]+)+$")


def begin_snapshot(db) -> str:
    """Start the transaction verify reads in (REPEATABLE READ) and return its snapshot's id,
    which other connections join with join_snapshot: the chain walk and the sessions check
    then read the same state of the database."""
    db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    return db.execute("SELECT pg_export_snapshot()").fetchone()[0]


def join_snapshot(db, snapshot: str) -> None:
    """Read in the snapshot of another connection's open transaction from here on."""
    if not SNAPSHOT_ID.match(snapshot):  # SET takes no parameters
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    db.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")


# What a cast to jsonb raises on text that is not JSON (22P02), holds a \u0000 escape that
# jsonb cannot store (22P05), or nests too deep (54001).
NOT_JSONB = (psycopg.DataError, psycopg.errors.StatementTooComplex)


def session_rows(db, grouped: str, latest: tuple[str, ...], digest_key: bytes) -> list[Row]:
    """The rows that disagree (see storage/integrity.session_mismatches); call inside the
    snapshot's transaction."""
    db.execute("SELECT set_config(?, ?, true)", [KEY_SETTING, digest_key.hex()])
    # Grouping a million sessions in memory rather than in temporary files.
    db.execute("SET LOCAL work_mem = '256MB'")
    db.execute("SAVEPOINT tg_fast")
    try:
        before = db.execute(redacted_before_sql(False)).fetchone()[0] or ""
        rows = query(db, mismatches_sql(grouped, latest, False), [before])
    except NOT_JSONB:
        # As on SQLite, the guarded form runs only after the fast one stopped on such data.
        db.execute("ROLLBACK TO SAVEPOINT tg_fast")
        db.execute(JSONB_FUNCTION)
        before = db.execute(redacted_before_sql(True)).fetchone()[0] or ""
        rows = query(db, mismatches_sql(grouped, latest, True), [before])
    db.execute("RELEASE SAVEPOINT tg_fast")
    return rows
