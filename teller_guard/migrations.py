"""The frozen SQLite migration chain (1.x): brings a branch's SQLite file made before the
bank-wide engine up to the baseline schema of teller_guard/storage/schema.py.

New databases are created from that schema and later changes are Alembic revisions
(teller_guard/storage/alembic/); nothing is added here except steps that close a gap between
this chain's result and the baseline, which tests/test_storage_schema.py would show.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("teller_guard")


@migrations()
def m001_accounts(db):
    db["users"].create(
        {
            "id": int,
            "username": str,
            "display_name": str,
            "staff_no": str,
            "role": str,
            "password_hash": str,
            "active": int,
            "failed_logins": int,
            "locked_until": str,
            "created_at": str,
            "password_changed_at": str,
        },
        pk="id",
        not_null={"username", "role", "password_hash"},
        defaults={"active": 1, "failed_logins": 0},
    )
    db["users"].create_index(["username"], unique=True)
    db["settings"].create({"key": str, "value": str}, pk="key")
    db["api_tokens"].create(
        {
            "id": int,
            "name": str,
            "token_hash": str,
            "created_by": int,
            "created_at": str,
            "revoked_at": str,
            "last_used_at": str,
        },
        pk="id",
        foreign_keys=[("created_by", "users", "id")],
    )
    db["api_tokens"].create_index(["token_hash"], unique=True)


@migrations()
def m002_ledger(db):
    # Append-only, hash-chained record of everything that happened (see audit.py).
    db["ledger"].create(
        {
            "id": int,
            "at": str,
            "actor_id": int,
            "kind": str,
            "session_id": int,
            "data": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="id",
        not_null={"at", "kind", "data", "prev_hash", "hash"},
    )
    db["ledger"].create_index(["session_id"])
    db["ledger"].create_index(["kind", "at"])
    # One row: the sealed head of the chain, so deleting the newest rows is detected too.
    db["ledger_head"].create(
        {"id": int, "last_id": int, "last_hash": str, "seal": str}, pk="id"
    )


@migrations()
def m003_sessions(db):
    # The working record of a screening (what the teller typed, step by step) and the
    # current state that queues and statistics read. Every change is also a ledger event,
    # and `teller-guard verify` checks this table against the ledger.
    db["sessions"].create(
        {
            "id": int,
            "reference": str,
            "teller_id": int,
            "started_at": str,
            "updated_at": str,
            "finished_at": str,
            "duration_seconds": int,
            "step": str,
            "status": str,  # draft | assessed | finished
            "form": str,  # JSON of typed values, personal data masked or hashed
            "amount_fen": int,
            "channel": str,
            "other_region": int,
            "payee_hash": str,
            "payee_masked": str,
            "customer_hash": str,
            "customer_masked": str,
            "level": str,
            "score": int,
            "action": str,
            "typology": str,
            "typologies": str,
            "rules_version": str,
            "assessment": str,
            "supervisor_id": int,
            "supervisor_decision": str,  # confirmed | override
            "supervisor_reason": str,
            "outcome": str,
            "outcome_at": str,
            "in_queue": int,
            "review_status": str,
            "assignee_id": int,
            "slips_printed": int,
            "alerts_printed": int,
        },
        pk="id",
        not_null={"reference", "teller_id", "started_at", "status"},
        defaults={"in_queue": 0, "slips_printed": 0, "alerts_printed": 0, "step": "facts"},
        foreign_keys=[("teller_id", "users", "id")],
    )
    db["sessions"].create_index(["reference"], unique=True)
    db["sessions"].create_index(["teller_id", "status", "id"])
    db["sessions"].create_index(["started_at"])
    db["sessions"].create_index(["in_queue", "id"])
    db["sessions"].create_index(["payee_hash", "started_at"])
    db["sessions"].create_index(["customer_hash", "started_at"])
    # Full personal data needed only for the police alert; read access is logged, and
    # retention redacts it. Never copied into the ledger, logs or exports by default.
    db["pii_vault"].create(
        {"session_id": int, "field": str, "value": str, "stored_at": str},
        pk=("session_id", "field"),
        foreign_keys=[("session_id", "sessions", "id")],
    )


@migrations()
def m004_watchlist_outbox(db):
    db["watchlist"].create(
        {
            "account_hash": str,
            "account_masked": str,
            "source": str,
            "listed_on": str,
            "note": str,
            "import_id": int,
            "added_at": str,
        },
        pk="account_hash",
    )
    db["outbox"].create(
        {
            "id": int,
            "session_id": int,
            "kind": str,
            "idempotency_key": str,
            "payload": str,
            "status": str,  # pending | sent | failed
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
        defaults={"attempts": 0, "status": "pending"},
    )
    db["outbox"].create_index(["idempotency_key"], unique=True)
    db["outbox"].create_index(["status", "next_attempt_at"])


def apply(db) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    pending = [migration.name for migration in migrations.pending(db)]
    migrations.apply(db)
    return pending


@migrations()
def m006_watchlist_imports(db):
    # One row per watchlist import (watchlist.import_id points here) with its counts, so the
    # list page can show the import history without reading the ledger.
    db["watchlist_imports"].create(
        {
            "id": int,
            "imported_at": str,
            "actor_id": int,
            "kind": str,  # accounts | hashes
            "data_lines": int,
            "added": int,
            "already_listed": int,
            "duplicates": int,
            "skipped_errors": int,
        },
        pk="id",
        not_null={"imported_at", "kind"},
        defaults={"data_lines": 0, "added": 0, "already_listed": 0, "duplicates": 0,
                  "skipped_errors": 0},
        foreign_keys=[("actor_id", "users", "id")],
    )


# --- m007: the review queue's indexes and the daily statistics ------------------------------
#
# - Two indexes for the queue: a partial covering index of the queued sessions (every filter
#   column, so filtering, keyset paging and the per-status counts never touch the table) and
#   (in_queue, review_status) for the unfiltered counts.
# - Daily statistics kept up to date by triggers on sessions, so the statistics page reads a
#   few thousand small rows instead of a million sessions. Triggers see every write, the
#   screening service's and out-of-band ones alike, so the figures always equal the table; day
#   is the local date of started_at.
#
# Shipped: the statements these build must stay exactly as they are.

QUEUE_INDEX = "sessions_queue_cover"
QUEUE_STATUS_INDEX = "sessions_queue_status"

REVIEW_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS {QUEUE_INDEX} ON sessions (id, started_at, level, typology, "
    "teller_id, outcome, review_status, reference, assignee_id) WHERE in_queue = 1",
    f"CREATE INDEX IF NOT EXISTS {QUEUE_STATUS_INDEX} ON sessions (in_queue, review_status)",
)

# table -> (key columns, value columns, the expression of each key and value for a row R,
#           condition under which row R counts in this table)
_STATS_DAY = "substr(R.started_at, 1, 10)"
STATS_TABLES = {
    "stats_day_level": (("day", "level"), ("n",),
                        {"day": _STATS_DAY, "level": "IFNULL(R.level, '')", "n": "1"}, "1"),
    "stats_day_teller": (("day", "teller_id"), ("n", "queued"),
                         {"day": _STATS_DAY, "teller_id": "R.teller_id", "n": "1",
                          "queued": "IFNULL(R.in_queue, 0)"}, "1"),
    "stats_day_queue": (("day", "typology", "review_status"), ("n",),
                        {"day": _STATS_DAY, "typology": "IFNULL(R.typology, '')",
                         "review_status": "IFNULL(R.review_status, 'pending')", "n": "1"},
                        "R.in_queue = 1"),
    "stats_day_outcome": (("day", "outcome"), ("n", "amount_fen"),
                          {"day": _STATS_DAY, "outcome": "R.outcome", "n": "1",
                           "amount_fen": "IFNULL(R.amount_fen, 0)"}, "R.outcome IS NOT NULL"),
    "stats_day_duration": (("day", "seconds"), ("n",),
                           {"day": _STATS_DAY, "seconds": "R.duration_seconds", "n": "1"},
                           "R.duration_seconds IS NOT NULL"),
}
STATS_WATCHED_COLUMNS = ("started_at", "level", "teller_id", "in_queue", "typology",
                         "review_status", "outcome", "amount_fen", "duration_seconds")


def _stats_table(name: str, keys, values) -> str:
    columns = [f"{key} {'INTEGER' if key in ('teller_id', 'seconds') else 'TEXT'} NOT NULL"
               for key in keys]
    columns += [f"{value} INTEGER NOT NULL DEFAULT 0" for value in values]
    return (f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(columns)}, "
            f"PRIMARY KEY ({', '.join(keys)})) WITHOUT ROWID")


def _stats_change(name: str, keys, values, expressions, condition, row: str, sign: str) -> str:
    """One statement adding (sign '+') or removing (sign '-') row `row` (NEW or OLD)."""
    def expr(column):
        return expressions[column].replace("R.", f"{row}.")

    if sign == "+":
        selected = ", ".join(expr(column) for column in (*keys, *values))
        updates = ", ".join(f"{value} = {value} + excluded.{value}" for value in values)
        return (f"INSERT INTO {name} ({', '.join((*keys, *values))}) SELECT {selected} "
                f"WHERE {condition.replace('R.', f'{row}.')} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};")
    where = " AND ".join(f"{key} = {expr(key)}" for key in keys)
    updates = ", ".join(f"{value} = {value} - {expr(value)}" for value in values)
    return (f"UPDATE {name} SET {updates} WHERE {where} "  # noqa: S608 - built from constants
            f"AND {condition.replace('R.', f'{row}.')};")


def _stats_changes(row: str, sign: str) -> str:
    return "\n".join(_stats_change(name, keys, values, expressions, condition, row, sign)
                     for name, (keys, values, expressions, condition) in STATS_TABLES.items())


def _stats_backfill(name: str, keys, values, expressions, condition) -> str:
    selected = ", ".join(
        f"{expressions[column].replace('R.', '')} AS {column}" if column in keys
        else f"sum({expressions[column].replace('R.', '')})" for column in (*keys, *values))
    return (f"INSERT INTO {name} ({', '.join((*keys, *values))}) SELECT {selected} "  # noqa: S608
            f"FROM sessions WHERE {condition.replace('R.', '')} GROUP BY {', '.join(keys)}")


def review_statements() -> list[str]:
    """Every statement of m007, in order (idempotent on an empty database)."""
    result = list(REVIEW_INDEXES)
    for name, (keys, values, _, _) in STATS_TABLES.items():
        result.append(_stats_table(name, keys, values))
    for name, (keys, values, expressions, condition) in STATS_TABLES.items():
        result.append(_stats_backfill(name, keys, values, expressions, condition))
    result += [
        f"CREATE TRIGGER IF NOT EXISTS stats_sessions_insert AFTER INSERT ON sessions BEGIN\n"
        f"{_stats_changes('NEW', '+')}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS stats_sessions_delete AFTER DELETE ON sessions BEGIN\n"
        f"{_stats_changes('OLD', '-')}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS stats_sessions_update AFTER UPDATE OF "
        f"{', '.join(STATS_WATCHED_COLUMNS)} ON sessions BEGIN\n"
        f"{_stats_changes('OLD', '-')}\n{_stats_changes('NEW', '+')}\nEND",
    ]
    return result


@migrations()
def m007_review_indexes(db):
    # Review queue indexes and the daily statistics tables kept current by triggers on
    # sessions (review_statements above).
    for statement in review_statements():
        db.execute(statement)


@migrations()
def m008_instance_facts(db):
    # Facts about the instance itself, e.g. the fingerprint of the key personal data is hashed
    # with (pii_key.py), checked before serving.
    db["instance_facts"].create({"key": str, "value": str}, pk="key", not_null={"value"})


@migrations()
def m009_drop_ledger_kind_index(db):
    # No query reads the ledger by kind (timelines and verify go by session or by id), and the
    # index cost every screening two or three more pages to write at commit.
    db.execute("DROP INDEX IF EXISTS idx_ledger_kind_at")


# The ledger events the 导出与查阅记录 page lists (review/access_log.py) and m010's partial index of
# them. SQLite uses a partial index only for a query that repeats its WHERE term, so the page's
# query (storage/review.py) puts exactly ACCESS_EVENTS_CONDITION in its WHERE.
ACCESS_EVENT_KINDS = ("export.queue", "export.statistics", "watchlist.exported", "pii.accessed")
ACCESS_EVENTS_INDEX = "ledger_access_events"
ACCESS_EVENTS_CONDITION = "kind IN (" + ", ".join(f"'{kind}'" for kind in ACCESS_EVENT_KINDS) + ")"


@migrations()
def m010_access_events_index(db):
    # The 导出与查阅记录 page lists the ledger's export and pii.accessed events. A partial index
    # holds only those rare rows, so screenings never write to it.
    db.execute(f"CREATE INDEX IF NOT EXISTS {ACCESS_EVENTS_INDEX} ON ledger (id) "
               f"WHERE {ACCESS_EVENTS_CONDITION}")


@migrations()
def m011_api_idempotency(db):
    # The first answer to each POST /api/v1/... that carried an Idempotency-Key, per token, so a
    # retry (from any server process) gets it again instead of a second screening. Written in
    # the screening's own transaction; rows older than IDEMPOTENCY_KEY_HOURS are deleted.
    db["api_idempotency"].create(
        {
            "token_id": int,
            "key": str,
            "request_hash": str,  # method, path and canonical JSON body
            "status": int,
            "response": str,  # the JSON body answered
            "session_id": int,
            "created_at": str,  # UTC, ISO 8601: compares as text
        },
        pk=("token_id", "key"),
        not_null={"request_hash", "status", "response", "created_at"},
        foreign_keys=[("token_id", "api_tokens", "id")],
    )
    db["api_idempotency"].create_index(["created_at"])


@migrations()
def m012_login_sessions(db):
    # Browser sessions on the server (login_sessions.py): the signed cookie carries a random
    # token whose SHA-256 is kept here, so logout, a password reset, a role change or a disable
    # ends the session however many copies of the cookie exist.
    db["login_sessions"].create(
        {"id": int, "token_hash": str, "user_id": int, "started_at": int, "ended_at": int,
         "ended_why": str},
        pk="id",
        not_null={"token_hash", "user_id", "started_at"},
        foreign_keys=[("user_id", "users", "id")],
    )
    db["login_sessions"].create_index(["token_hash"], unique=True)
    db["login_sessions"].create_index(["user_id"])
    db["login_sessions"].create_index(["started_at"])
    # Whatever changes an account's password, role or active flag (the admin pages, the CLI,
    # SQL typed by hand) ends every session of that account in the same transaction.
    db.execute(USERS_CHANGE_TRIGGER)


USERS_CHANGE_TRIGGER = (
    "CREATE TRIGGER users_change_ends_sessions AFTER UPDATE OF password_hash, role, active "
    "ON users WHEN OLD.password_hash IS NOT NEW.password_hash OR OLD.role IS NOT NEW.role "
    "OR OLD.active IS NOT NEW.active BEGIN "
    "UPDATE login_sessions SET ended_at = CAST(strftime('%s', 'now') AS INTEGER), "
    "ended_why = 'account_changed' WHERE user_id = NEW.id AND ended_at IS NULL; END")


@migrations()
def m013_login_failures(db):
    # Failed logins and supervisor-credential checks (login_throttle.py): what the back-off
    # counts per (address, typed name, purpose, logged-in teller) and what the admin page lists.
    # A name that is no account is kept only as a keyed hash (name_key), never as typed.
    db["login_failures"].create(
        {"id": int, "at": int, "address": str, "name_key": str, "user_id": int,
         "purpose": str, "actor_id": int},
        pk="id",
        not_null={"at", "address", "name_key", "purpose"},
    )
    db["login_failures"].create_index(["name_key", "address", "at"])
    db["login_failures"].create_index(["at"])


@migrations()
def m014_api_token_scope(db):
    # What each API token may do (api_scope.py): the tellers it files for (a JSON list of
    # usernames; NULL: every teller and supervisor of the branch), which screenings it reads
    # ("own": those it filed; "all": the branch's, web-made ones included) and whether it may
    # assert a supervisor's authorisation. Tokens made before this get the narrowest read
    # ("own") and no supervisor right: a deliberate tightening (docs/api.md).
    db["api_tokens"].add_column("tellers", str)
    db["api_tokens"].add_column("read_scope", str, not_null_default="own")
    db["api_tokens"].add_column("may_supervise", int, not_null_default=0)
    # The token that filed a screening (NULL: made on the web pages): an "own" token reads
    # only its own, and only the filing system changes a screening through the API.
    db["sessions"].add_column("api_token_id", int)
    # Partial: screenings made on the web pages never write to it.
    db.execute("CREATE INDEX idx_sessions_api_token_id ON sessions (api_token_id, id) "
               "WHERE api_token_id IS NOT NULL")


@migrations()
def m015_watchlist_id(db):
    # The baseline gives watchlist entries an id column (PostgreSQL has no rowid); the rowid
    # was already the entry's id in URLs, so it becomes the column's value.
    db.execute("CREATE TABLE watchlist_new (id INTEGER PRIMARY KEY, account_hash TEXT NOT NULL, "
               "account_masked TEXT, source TEXT, listed_on TEXT, note TEXT, import_id INTEGER, "
               "added_at TEXT)")
    db.execute("INSERT INTO watchlist_new SELECT rowid, account_hash, account_masked, source, "
               "listed_on, note, import_id, added_at FROM watchlist")
    db.execute("DROP TABLE watchlist")
    db.execute("ALTER TABLE watchlist_new RENAME TO watchlist")
    db.execute("CREATE UNIQUE INDEX idx_watchlist_account_hash ON watchlist (account_hash)")
