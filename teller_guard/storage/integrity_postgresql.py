"""The sessions check of `teller-guard verify` in PostgreSQL's words. storage/integrity.py has
the SQLite form, says what the statement does and dispatches here; review/integrity.py states
the rules. The findings are SQLite's for every genuine ledger row (the chain walk reports any
other); where the dialects differ:

- `IS NOT` (null-safe) is `IS DISTINCT FROM`; json_extract is `->>` on the event's data cast
  to jsonb once per event, compared as text with the column (the ledger holds json.dumps'
  integers, which read the same as the column's);
- data that is not JSON (text rewritten around the app) ends the fast statement, as
  json_extract does on SQLite; the statement then runs again with each cast through a
  function that answers NULL instead (`pg_temp.tg_jsonb`, this connection's only: PostgreSQL
  15 has no json_valid, and an exception handler per row would slow down the usual case);
- the newest event of each group comes out of one GROUP BY in session order (see _grouped)
  rather than by id lookups, and a large table is checked in id ranges on connections that
  join the caller's snapshot (session_rows);
- the `state` digests are computed by the server with the built-in sha256() (digests.digest
  is plain SHA-256 of the key, then the text's UTF-8 bytes; no extension needed). The digest
  key (not the chain's key, which never leaves the client) reaches the server in a statement
  of its own, set_config(…, is_local), so it is never a parameter of the long statement
  (which log_min_duration_statement would write to the server's log with its parameters),
  and it is gone when the transaction ends.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import psycopg

from ..digests import DIGEST_CHARS, STATE_CONTENT, STATE_VAULT
from . import Row, query, query_one
from .ledger import POSTGRESQL_SESSION_TEXT_SQL, VAULT_AGGREGATE_SQL

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


# --- per session, the newest event of each group, in one pass over the ledger ------------------
#
# SQLite finds the id of each newest event and reads its row by id (a cheap rowid lookup);
# here that was seven index probes per session. Instead the one GROUP BY carries the newest
# event itself: max() over "id as 16 sortable hex digits, then what is needed of the event",
# whose first 16 characters decide (ids are unique) and whose rest is that event's.
ORDER_CHARS = 16
CHAIN_CHARS = 20  # st's payload starts with its chain, as text padded to this width
# The id as 16 hex digits that sort as the ids do (the sign bit flipped: signed -> unsigned).
_ORDER = "lpad(to_hex(id # CAST(x'8000000000000000' AS bigint)), 16, '0')"


def _newest(kinds, payload: str) -> str:
    whens = " ".join(f"WHEN '{kind}' THEN e.k || {payload}" for kind in kinds)
    return f'max(CASE e.kind {whens} END COLLATE "C")'


def _payloads(latest: dict) -> dict[str, str]:
    """alias -> what its newest event carries: st its chain (CHAIN_CHARS wide), its actor (text,
    then a space) and data; sv
    'o' for an override or 'c', then data; f 's' and its `state` text, or '' when it has none
    (found by text as on SQLite: storage/integrity._state_call); the others their data."""
    special = {
        "st": f"lpad(CAST(e.chain AS text), {CHAIN_CHARS}, '0') || "
              "COALESCE(CAST(e.actor_id AS text), '') || ' ' || e.data",
        "sv": "(CASE e.kind WHEN 'screening.supervisor_override' THEN 'o' ELSE 'c' END) || e.data",
        "f": f"(CASE WHEN e.at > 0 THEN 's' || substr(e.data, e.at + {len(STATE_KEY)}, "
             f"{2 * DIGEST_CHARS}) ELSE '' END)",
    }
    return {alias: special.get(alias, "e.data") for alias in latest}


def _grouped(latest: dict, alert_kinds) -> str:
    """One GROUP BY over the ledger in session_id order (the index), each row's sort key and
    `state` position worked out once (OFFSET 0 keeps them from being copied into each
    aggregate)."""
    newest = ", ".join(f"{_newest(kinds, _payloads(latest)[alias])} AS {alias}"
                       for alias, kinds in latest.items())
    whens = " ".join(f"WHEN '{kind}' THEN 1" for kind in alert_kinds)
    state_kinds = ", ".join(f"'{kind}'" for kind in latest["f"])
    rows = (f"SELECT session_id, kind, actor_id, chain, data, {_ORDER} AS k, CASE WHEN kind IN "  # noqa: S608
            f"({state_kinds}) THEN strpos(data, '{STATE_KEY}') END AS at FROM ledger "
            "WHERE session_id BETWEEN ? AND ? ORDER BY session_id OFFSET 0")
    return (f"SELECT e.session_id, {newest}, max(CASE e.kind {whens} END) AS alerted, "  # noqa: S608
            "count(CASE e.kind WHEN 'print.slip' THEN 1 END) AS slips, "
            "count(CASE e.kind WHEN 'print.alert' THEN 1 END) AS alerts, "
            "count(CASE e.kind WHEN 'screening.discarded' THEN 1 END) AS discards "
            f"FROM ({rows}) e GROUP BY e.session_id")


# Each session's vault text (storage/ledger.POSTGRESQL_VAULT_TEXT_SQL) for all sessions in one
# GROUP BY rather than a subquery per session.
VAULT_TEXTS = (f"SELECT v.session_id, {VAULT_AGGREGATE_SQL} AS text FROM pii_vault v "  # noqa: S608
               "WHERE v.session_id BETWEEN ? AND ? GROUP BY v.session_id")


def _event_of(alias: str) -> str:
    """The newest event's data text, from g.<alias> (see _payloads)."""
    if alias == "st":
        rest = f"substr(g.st, {ORDER_CHARS + CHAIN_CHARS + 1})"
        return f"substr({rest}, strpos({rest}, ' ') + 1)"
    return f"substr(g.{alias}, {ORDER_CHARS + (2 if alias == 'sv' else 1)})"


def _unpacked(guarded: bool) -> str:
    """Per row, once (OFFSET 0 keeps the planner from copying these into every expression that
    reads them): each newest event's data as jsonb, the starting event's actor, the supervisor
    event's kind, and what the digest check reads."""
    events = ", ".join(f"{_jsonb(_event_of(alias), guarded)} AS {alias}" for alias in JSON_ALIASES)
    rest = f"substr(g.st, {ORDER_CHARS + CHAIN_CHARS + 1})"
    return (f"CROSS JOIN LATERAL (SELECT {events}, "
            f"NULLIF(split_part({rest}, ' ', 1), '') AS actor, "
            f"substr(g.sv, {ORDER_CHARS + 1}, 1) AS sv_kind, "
            f"{_jsonb('s.typologies', guarded)} AS typologies, "
            f"(CASE WHEN substr(g.f, {ORDER_CHARS + 1}, 1) = 's' THEN "
            f"substr(g.f, {ORDER_CHARS + 2}) END) AS expected, "
            f"{POSTGRESQL_SESSION_TEXT_SQL} AS session_text, COALESCE(v.text, '') AS vault_text, "
            "s.started_at < CAST(? AS text) COLLATE \"C\" AS redactable OFFSET 0) j")


def _digest(text_sql: str) -> str:
    """digests.digest in SQL (the key read once per statement)."""
    return (f"left(encode(sha256((SELECT decode(current_setting('{KEY_SETTING}'), 'hex')) || "
            f"convert_to({text_sql}, 'UTF8')), 'hex'), {DIGEST_CHARS})")


def _state_bits() -> str:
    """0, or the digests.STATE_* bits of what disagrees with the latest `state` (digests.checker
    in SQL)."""
    content = (f"(CASE WHEN {_digest('j.session_text')} <> left(j.expected, {DIGEST_CHARS}) "
               f"THEN {STATE_CONTENT} ELSE 0 END)")
    vault = (f"(CASE WHEN {_digest('j.vault_text')} <> substr(j.expected, {DIGEST_CHARS + 1}) "
             f"AND NOT (j.redactable AND j.vault_text ~ {EMPTIED}) THEN {STATE_VAULT} ELSE 0 END)")
    return f"(CASE WHEN j.expected IS NULL THEN 0 ELSE {content} | {vault} END)"


def _checks() -> dict[str, str]:
    """field -> SQL that is true when the row disagrees with its events; the same fields and
    meaning as storage/integrity._checks."""
    def number(column: str) -> str:
        return f"CAST(s.{column} AS text)"

    # a new assessment clears the supervisor's decision (ids compare as their sortable hex)
    supervised = (f'left(g.sv, {ORDER_CHARS}) COLLATE "C" > '
                  f"COALESCE(left(g.a, {ORDER_CHARS}), '')")
    checks = {
        "reference": "j.st ->> 'reference' IS DISTINCT FROM s.reference",
        "teller_id": f"j.actor IS DISTINCT FROM {number('teller_id')}",
        "api_token_id": f"j.st ->> 'api_token_id' IS DISTINCT FROM {number('api_token_id')}",
        "branch_id": f"s.branch_id IS NOT NULL AND substr(g.st, {ORDER_CHARS + 1}, {CHAIN_CHARS}) "
                     f"IS DISTINCT FROM lpad(CAST(s.branch_id AS text), {CHAIN_CHARS}, '0')",
        "level": "j.a ->> 'level' IS DISTINCT FROM s.level",
        "score": f"j.a ->> 'score' IS DISTINCT FROM {number('score')}",
        "action": "j.a ->> 'action' IS DISTINCT FROM s.action",
        # json_extract gives SQL NULL for a JSON null; -> gives jsonb 'null'
        "typologies": "NULLIF(j.a -> 'typologies', 'null') IS DISTINCT FROM j.typologies",
        "typology": "j.a -> 'typologies' ->> 0 IS DISTINCT FROM s.typology",
        "rules_version": "j.a ->> 'rules_version' IS DISTINCT FROM s.rules_version",
        "supervisor_id": f"(CASE WHEN {supervised} THEN j.sv ->> 'supervisor_id' END) "
                         f"IS DISTINCT FROM {number('supervisor_id')}",
        "supervisor_decision": f"(CASE WHEN {supervised} THEN (CASE j.sv_kind WHEN 'o' THEN "
                               "'override' ELSE 'confirmed' END) END) "
                               "IS DISTINCT FROM s.supervisor_decision",
        "supervisor_reason": f"COALESCE(CASE WHEN {supervised} THEN j.sv ->> 'reason' END, '') "
                             "IS DISTINCT FROM COALESCE(s.supervisor_reason, '')",
        "outcome": "j.o ->> 'outcome' IS DISTINCT FROM s.outcome",
        "amount_fen": f"g.o IS NOT NULL AND j.o ->> 'amount_fen' IS DISTINCT FROM "
                      f"{number('amount_fen')}",
        "duration_seconds": f"j.o ->> 'duration_seconds' IS DISTINCT FROM "
                            f"{number('duration_seconds')}",
        "status": "(g.o IS NOT NULL) <> (s.status IS NOT DISTINCT FROM 'finished') "
                  "OR (COALESCE(g.discards, 0) > 0) <> (s.status IS NOT DISTINCT FROM 'discarded')",
        "review_status": "COALESCE(j.t ->> 'to', 'pending') IS DISTINCT FROM "
                         "COALESCE(s.review_status, 'pending')",
        "assignee_id": f"j.ag ->> 'assignee_id' IS DISTINCT FROM {number('assignee_id')}",
        "in_queue": "COALESCE(s.in_queue, 0) <> 1 AND (j.a ->> 'level' IN ('high', 'critical') "
                    "OR j.o ->> 'outcome' IS NOT DISTINCT FROM 'police_called' "
                    "OR g.alerted IS NOT NULL)",
        "slips_printed": "COALESCE(g.slips, 0) IS DISTINCT FROM COALESCE(s.slips_printed, 0)",
        "alerts_printed": "COALESCE(g.alerts, 0) IS DISTINCT FROM COALESCE(s.alerts_printed, 0)",
    }
    checks["content"] = f"({_state_bits()} & {STATE_CONTENT}) <> 0"
    checks["pii_vault"] = f"({_state_bits()} & {STATE_VAULT}) <> 0"
    return checks


JSON_ALIASES = ("st", "a", "sv", "o", "t", "ag")
STARTED_ID = (f"CAST(CAST('x' || left(g.st, {ORDER_CHARS}) AS bit(64)) AS bigint) "
              "# CAST(x'8000000000000000' AS bigint)")  # back from _ORDER


def mismatches_sql(latest: dict, alert_kinds, guarded: bool) -> str:
    """storage/integrity._mismatches_sql in PostgreSQL's words, for the sessions with ids
    low..high; `latest` and `alert_kinds` are its LATEST and ALERT_KINDS. Parameters (see
    parameters()): the ids, the retention cut-off."""
    checks = _checks()
    tests = [f"({sql})" for name, sql in checks.items() if name not in ("content", "pii_vault")]
    tests.append(f"{_state_bits()} <> 0")
    return (
        f"SELECT s.id AS id, {STARTED_ID} AS started, "  # noqa: S608 - our constants
        + ", ".join(f"({sql}) AS bad_{name}" for name, sql in checks.items())
        + f" FROM sessions s LEFT JOIN ({_grouped(latest, alert_kinds)}) g "
          f"ON g.session_id = s.id LEFT JOIN ({VAULT_TEXTS}) v ON v.session_id = s.id "
        + _unpacked(guarded)
        + " WHERE s.id BETWEEN ? AND ? AND (g.st IS NULL OR " + " OR ".join(tests) + ")"
        + " ORDER BY s.id"
    )


def parameters(low: int, high: int, redacted_before: str) -> list:
    """mismatches_sql's parameters in the order its `?` stand."""
    return [low, high, low, high, redacted_before, low, high]


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


# The plan: the ledger's rows in session_id order (its index) grouped as they come, merged with
# the sessions in id order, so nothing is held per session. Left to itself the planner (which
# underestimates the number of sessions in the ledger by a factor of five) hashes the groups,
# a gigabyte at a million sessions, spilled to disk; and its parallel plan had every worker
# group the whole ledger again. Local to verify's transaction.
PLAN = ("enable_hashagg = off", "max_parallel_workers_per_gather = 0")


def session_rows(db, latest: dict, alert_kinds, digest_key: bytes) -> list[Row]:
    """The rows that disagree (see storage/integrity.session_mismatches), in id order; call
    inside the snapshot's transaction. A large table is cut into id ranges checked at once on
    connections of their own that join this snapshot: the statement works in one server
    process, and the server may have cores to spare (as many ranges as the server's
    max_parallel_workers_per_gather + 1, the parallelism its administrator allows a query)."""
    span = query_one(db, "SELECT min(id) AS low, max(id) AS high, count(*) AS total "
                         "FROM sessions")
    if not span["total"]:
        return []
    parts = 1
    if span["total"] >= PARALLEL_MIN_SESSIONS:
        parts = 1 + int(db.execute("SELECT current_setting('max_parallel_workers_per_gather')")
                        .fetchone()[0])
    low, high = span["low"], span["high"]
    step = (high - low) // parts + 1
    ranges = [(start, min(high, start + step - 1)) for start in range(low, high + 1, step)]
    if len(ranges) == 1:
        return _range_rows(db, latest, alert_kinds, digest_key, *ranges[0])
    snapshot = db.execute("SELECT pg_export_snapshot()").fetchone()[0]
    with ThreadPoolExecutor(max_workers=len(ranges) - 1) as pool:
        others = [pool.submit(_range_rows_apart, db.url, snapshot, latest, alert_kinds,
                              digest_key, *bounds) for bounds in ranges[1:]]
        rows = _range_rows(db, latest, alert_kinds, digest_key, *ranges[0])
        for other in others:
            rows += other.result()
    return rows


PARALLEL_MIN_SESSIONS = 100_000


def _range_rows_apart(url: str, snapshot: str, latest, alert_kinds, digest_key, low, high):
    from .postgres import connect

    database = connect(url)
    try:
        join_snapshot(database, snapshot)
        return _range_rows(database, latest, alert_kinds, digest_key, low, high)
    finally:
        database.conn.close()  # ends its transaction too: it only read


def _range_rows(db, latest, alert_kinds, digest_key: bytes, low: int, high: int) -> list[Row]:
    db.execute("SELECT set_config(?, ?, true)", [KEY_SETTING, digest_key.hex()])
    for setting in PLAN:
        db.execute(f"SET LOCAL {setting}")
    db.execute("SAVEPOINT tg_fast")
    try:
        before = db.execute(redacted_before_sql(False)).fetchone()[0] or ""
        rows = query(db, mismatches_sql(latest, alert_kinds, False),
                     parameters(low, high, before))
    except NOT_JSONB:
        # As on SQLite, the guarded form runs only after the fast one stopped on such data.
        db.execute("ROLLBACK TO SAVEPOINT tg_fast")
        db.execute(JSONB_FUNCTION)
        before = db.execute(redacted_before_sql(True)).fetchone()[0] or ""
        rows = query(db, mismatches_sql(latest, alert_kinds, True), parameters(low, high, before))
    db.execute("RELEASE SAVEPOINT tg_fast")
    return rows
