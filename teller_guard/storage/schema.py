"""The schema: one SQLAlchemy Core definition for both backends.

A new database (SQLite or PostgreSQL) is created from this metadata and stamped with Alembic's
head revision (storage/migrate.py); changes after the baseline are Alembic revisions in
storage/alembic/versions/, run on both backends. SQLite files made before the baseline reach it
through the frozen sqlite-utils chain in teller_guard/migrations.py, and
tests/test_storage_schema.py checks that the two give the same tables, columns, keys, indexes
and triggers.

Types: ids and money are 64-bit on PostgreSQL (a bank's ledger outgrows int4; amounts in fen
pass 2^31 at 21万元), INTEGER on SQLite, where an INTEGER PRIMARY KEY is the rowid. Times are
ISO 8601 text, as the app has always stored them (they compare as text on both backends).
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    event,
    text,
)

from .. import migrations as legacy
from . import branch_stats, business_day, duration_months, stats_triggers

metadata = MetaData()

Id = BigInteger().with_variant(Integer(), "sqlite")
Int = BigInteger().with_variant(Integer(), "sqlite")  # counts, money in fen, unix seconds


# A 高/极高 screening whose assessment still waits for a supervisor's confirmation or written
# override (storage/sessions.awaiting_supervisor): the partial index holds only those, so the
# count in a supervisor's menu stays small however many screenings the database keeps (0003).
AWAITING_SUPERVISOR = ("status = 'assessed' AND supervisor_decision IS NULL "
                       "AND level IN ('high', 'critical')")

# The queued cases by reference (0018; storage/review.queue_count).
QUEUE_REFERENCE_INDEX = "idx_sessions_queue_reference"

# What the other-branch signals read beside the key (storage/watchlist.py; revision 0012).
PAYEE_INDEX_INCLUDE = ("branch_id", "status")
CUSTOMER_INDEX_INCLUDE = ("branch_id", "status", "level")


# The watchlist's partial indexes (0010): proposals waiting for head office, and entries that
# expire (storage/watchlist.py states its conditions with these, so the indexes serve them).
PROPOSED_CONDITION = "status = 'proposed'"
EXPIRES_CONDITION = "expires_on IS NOT NULL"


def _id(**kwargs) -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True, **kwargs)


# Branch 1 as a new database starts with it (and as 0009 made it from a single-branch
# instance's 网点设置): settings.BranchSettings' defaults, tests/test_branches.py checks.
DEFAULT_BRANCH = {"id": 1, "code": "0001", "name": "示例支行", "bank_name": "示例银行",
                  "province": "河北省", "city": "邢台市", "large_amount": "50000",
                  "elderly_age": 60, "slip_paper": "a5"}

# A bank's branches (issue 16): each with the settings 网点设置 edits (settings.BranchSettings).
# Users, screenings and API tokens belong to one; head-office accounts have none.
branches = Table(
    "branches", metadata,
    _id(),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("bank_name", Text, nullable=False),
    Column("province", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("large_amount", Text, nullable=False),  # yuan, decimal text (Decimal in the app)
    Column("elderly_age", Integer, nullable=False),
    Column("slip_paper", Text, nullable=False),
    Column("created_at", Text),  # NULL: the row the schema starts with
    Index("idx_branches_code", "code", unique=True),
)


users = Table(
    "users", metadata,
    _id(),
    Column("username", Text, nullable=False),
    Column("display_name", Text),
    Column("staff_no", Text),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("active", Integer, server_default=text("1")),
    Column("failed_logins", Integer, server_default=text("0")),
    Column("locked_until", Text),
    Column("created_at", Text),
    Column("password_changed_at", Text),
    # 1 while the password is one somebody else set (a new account, an admin's or the CLI's
    # reset): every page leads to 修改密码 until the user has chosen their own (0003).
    Column("must_change_password", Integer, nullable=False, server_default=text("0")),
    Column("branch_id", Id, ForeignKey("branches.id")),  # NULL: a head-office account (0009)
    Index("idx_users_username", "username", unique=True),
)

settings = Table(
    "settings", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text),
)

api_tokens = Table(
    "api_tokens", metadata,
    _id(),
    Column("name", Text),
    Column("token_hash", Text),
    Column("created_by", Id, ForeignKey("users.id")),
    Column("created_at", Text),
    Column("revoked_at", Text),
    Column("last_used_at", Text),
    Column("tellers", Text),
    Column("read_scope", Text, nullable=False, server_default=text("'own'")),
    Column("may_supervise", Integer, nullable=False, server_default=text("0")),
    Column("branch_id", Id, ForeignKey("branches.id")),  # the branch it files for (0009)
    Index("idx_api_tokens_token_hash", "token_hash", unique=True),
)

ledger = Table(
    "ledger", metadata,
    Column("id", Id, primary_key=True, autoincrement=False),  # audit.py numbers the chain
    Column("at", Text, nullable=False),
    Column("actor_id", Id),
    Column("kind", Text, nullable=False),
    Column("session_id", Id),
    Column("data", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    # Whose chain the row is in (issue 16): a branch's id, 0 the bank's own (head office and
    # bank-wide events). Rows from before per-branch chains are branch 1's (0014), hence the
    # default; audit.append always names the chain.
    Column("chain", Id, nullable=False, server_default=text("1")),
    Index("idx_ledger_session_id", "session_id"),
    Index("idx_ledger_chain_id", "chain", "id"),
    Index(legacy.ACCESS_EVENTS_INDEX, "id",
          sqlite_where=text(legacy.ACCESS_EVENTS_CONDITION),
          postgresql_where=text(legacy.ACCESS_EVENTS_CONDITION)),
)

# One row per chain (id = the chain: a branch's id, 0 the bank's): its sealed head. Appenders
# on PostgreSQL lock their chain's row (SELECT … FOR UPDATE), so appends from any number of
# processes stay one chain per branch, and branches never wait on each other.
ledger_head = Table(
    "ledger_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", Id),
    Column("last_hash", Text),
    Column("seal", Text),
    # Chain 1 of an upgraded instance (0014): rows up to this id were hashed before the hash
    # covered the chain (audit.canonical), and so was the head's seal while it stays there.
    Column("plain_until", Id),
)

sessions = Table(
    "sessions", metadata,
    _id(),
    Column("reference", Text, nullable=False),
    Column("teller_id", Id, ForeignKey("users.id"), nullable=False),
    Column("started_at", Text, nullable=False),
    Column("updated_at", Text),
    Column("finished_at", Text),
    Column("duration_seconds", Int),
    Column("step", Text, server_default=text("'facts'")),
    Column("status", Text, nullable=False),
    Column("form", Text),
    Column("amount_fen", Int),
    Column("channel", Text),
    Column("other_region", Integer),
    Column("payee_hash", Text),
    Column("payee_masked", Text),
    Column("customer_hash", Text),
    Column("customer_masked", Text),
    Column("level", Text),
    Column("score", Integer),
    Column("action", Text),
    Column("typology", Text),
    Column("typologies", Text),
    Column("rules_version", Text),
    Column("assessment", Text),
    Column("supervisor_id", Id),
    Column("supervisor_decision", Text),
    Column("supervisor_reason", Text),
    Column("outcome", Text),
    Column("outcome_at", Text),
    Column("in_queue", Integer, server_default=text("0")),
    Column("review_status", Text),
    Column("assignee_id", Id),
    Column("slips_printed", Integer, server_default=text("0")),
    Column("alerts_printed", Integer, server_default=text("0")),
    Column("api_token_id", Id),
    Column("branch_id", Id, ForeignKey("branches.id")),  # the teller's branch (0009)
    # Sent to head office (0013): when, and why first (head_office/escalation.py REASONS).
    Column("escalated_at", Text),
    Column("escalated_why", Text),
    # The bank's date of started_at (0017; storage/business_day.py), the statistics' day.
    Column("business_day", Text),
    Index("idx_sessions_reference", "reference", unique=True),
    Index("idx_sessions_branch_id_id", "branch_id", "id"),
    Index("idx_sessions_teller_id_status_id", "teller_id", "status", "id"),
    Index("idx_sessions_started_at", "started_at"),
    Index("idx_sessions_in_queue_id", "in_queue", "id"),
    # The other-branch signals read only the included columns on PostgreSQL: an index-only
    # scan, no heap page per session (0012). SQLite has no INCLUDE and keeps the two columns.
    Index("idx_sessions_payee_hash_started_at", "payee_hash", "started_at",
          postgresql_include=list(PAYEE_INDEX_INCLUDE)),
    Index("idx_sessions_customer_hash_started_at", "customer_hash", "started_at",
          postgresql_include=list(CUSTOMER_INDEX_INCLUDE)),
    Index(legacy.QUEUE_INDEX, "id", "started_at", "level", "typology", "teller_id", "outcome",
          "review_status", "reference", "assignee_id",
          sqlite_where=text("in_queue = 1"), postgresql_where=text("in_queue = 1")),
    Index(legacy.QUEUE_STATUS_INDEX, "in_queue", "review_status"),
    # The queue searched by reference or its beginning (0018): a month's queued cases are
    # counted by status from their few index entries, not from the whole queue's.
    Index(QUEUE_REFERENCE_INDEX, "reference", "review_status",
          sqlite_where=text("in_queue = 1"), postgresql_where=text("in_queue = 1")),
    Index("idx_sessions_api_token_id", "api_token_id", "id",
          sqlite_where=text("api_token_id IS NOT NULL"),
          postgresql_where=text("api_token_id IS NOT NULL")),
    Index("idx_sessions_awaiting_supervisor", "updated_at", "id",
          sqlite_where=text(AWAITING_SUPERVISOR), postgresql_where=text(AWAITING_SUPERVISOR)),
    # Head office's queue (0013): only the escalated few, newest first.
    Index("idx_sessions_escalated", "escalated_at", "id",
          sqlite_where=text("escalated_at IS NOT NULL"),
          postgresql_where=text("escalated_at IS NOT NULL")),
)

pii_vault = Table(
    "pii_vault", metadata,
    Column("session_id", Id, ForeignKey("sessions.id")),
    Column("field", Text),
    Column("value", Text),
    Column("stored_at", Text),
    PrimaryKeyConstraint("session_id", "field"),
)

watchlist = Table(
    "watchlist", metadata,
    _id(),  # stable, not personal: the entry's id in URLs
    Column("account_hash", Text, nullable=False),
    Column("account_masked", Text),
    Column("source", Text),
    Column("listed_on", Text),
    Column("note", Text),
    Column("import_id", Id),
    Column("added_at", Text),
    # 0010: one list for the whole bank. category: labels.WATCHLIST_CATEGORIES (NULL on entries
    # from before); expires_on: YYYY-MM-DD, the last day it matches; status: active, or proposed
    # by a branch from a confirmed case (session_id, proposed_by) until head office approves.
    Column("category", Text),
    Column("expires_on", Text),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    Column("session_id", Id),
    Column("proposed_by", Id),
    # The newest import or form that listed it again (expired, proposed, or a later expiry:
    # 0016); import_id stays the one that first listed it.
    Column("renewed_at", Text),
    Column("renewed_import_id", Id),
    Index("idx_watchlist_account_hash", "account_hash", unique=True),
    # The 待审批 list reads only these few rows, however long the list grows.
    Index("idx_watchlist_proposed", "id", sqlite_where=text(PROPOSED_CONDITION),
          postgresql_where=text(PROPOSED_CONDITION)),
    # ... and the count of expired entries only the few that have an expiry date.
    Index("idx_watchlist_expires_on", "expires_on", "status",
          sqlite_where=text(EXPIRES_CONDITION), postgresql_where=text(EXPIRES_CONDITION)),
)

outbox = Table(
    "outbox", metadata,
    _id(),
    Column("session_id", Id),
    Column("kind", Text),
    Column("idempotency_key", Text),
    Column("payload", Text),
    Column("status", Text, server_default=text("'pending'")),
    Column("attempts", Integer, server_default=text("0")),
    Column("next_attempt_at", Text),
    Column("last_error", Text),
    Column("created_at", Text),
    Column("sent_at", Text),
    Index("idx_outbox_idempotency_key", "idempotency_key", unique=True),
    Index("idx_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

watchlist_imports = Table(
    "watchlist_imports", metadata,
    _id(),
    Column("imported_at", Text, nullable=False),
    Column("actor_id", Id, ForeignKey("users.id")),
    Column("kind", Text, nullable=False),
    Column("data_lines", Integer, server_default=text("0")),
    Column("added", Integer, server_default=text("0")),
    Column("already_listed", Integer, server_default=text("0")),
    Column("duplicates", Integer, server_default=text("0")),
    Column("skipped_errors", Integer, server_default=text("0")),
    Column("renewed", Integer, server_default=text("0")),  # 0016
)

instance_facts = Table(
    "instance_facts", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

api_idempotency = Table(
    "api_idempotency", metadata,
    Column("token_id", Id, ForeignKey("api_tokens.id")),
    Column("key", Text),
    Column("request_hash", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("session_id", Id),
    Column("created_at", Text, nullable=False),
    PrimaryKeyConstraint("token_id", "key"),
    Index("idx_api_idempotency_created_at", "created_at"),
)

# The API's per-token rate limit when several processes serve one PostgreSQL database
# (rate_limit.DatabaseRateLimiter): the sliding minute's two counts per token. SQLite mode
# counts in its one server process and leaves this table empty. UNLOGGED on PostgreSQL: no WAL,
# so the per-request update commits without waiting for a disk flush; after a server crash the
# table comes back empty, as the counts of a restarted process do.
api_rate_counts = Table(
    "api_rate_counts", metadata,
    Column("token_id", Id, primary_key=True, autoincrement=False),
    Column("minute", Int, nullable=False),  # minutes since the epoch
    Column("in_minute", Int, nullable=False),
    Column("in_previous_minute", Int, nullable=False),
)
event.listen(api_rate_counts, "after_create",
             DDL("ALTER TABLE api_rate_counts SET UNLOGGED").execute_if(dialect="postgresql"))

login_sessions = Table(
    "login_sessions", metadata,
    _id(),
    Column("token_hash", Text, nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("started_at", Int, nullable=False),
    Column("ended_at", Int),
    Column("ended_why", Text),
    Index("idx_login_sessions_token_hash", "token_hash", unique=True),
    Index("idx_login_sessions_user_id", "user_id"),
    Index("idx_login_sessions_started_at", "started_at"),
)

# What a teller has typed on a screening step but not yet submitted (screening/drafts.py): saved
# as they type, so an idle logout loses nothing. One row per teller and step ("new", or
# "<session id>/facts|questions"); the form is sealed (AES-GCM), since it may hold an ID number or
# phone. Never read by scoring or the ledger; deleted when the step is submitted.
screening_drafts = Table(
    "screening_drafts", metadata,
    Column("teller_id", Id, ForeignKey("users.id"), nullable=False),
    Column("slot", Text, nullable=False),
    Column("session_id", Id, ForeignKey("sessions.id")),
    Column("sealed", Text, nullable=False),
    Column("saved_at", Int, nullable=False),  # unix seconds
    PrimaryKeyConstraint("teller_id", "slot"),
    Index("idx_screening_drafts_session_id", "session_id"),
    Index("idx_screening_drafts_saved_at", "saved_at"),
)

login_failures = Table(
    "login_failures", metadata,
    _id(),
    Column("at", Int, nullable=False),
    Column("address", Text, nullable=False),
    Column("name_key", Text, nullable=False),
    Column("user_id", Id),
    Column("purpose", Text, nullable=False),
    Column("actor_id", Id),
    Index("idx_login_failures_name_key_address_at", "name_key", "address", "at"),
    Index("idx_login_failures_at", "at"),
)


# --- daily statistics, kept by triggers on sessions (see migrations.m007) -----------------------

def _stats_table(name: str, keys, values) -> Table:
    columns = [Column(key, Id if key in ("teller_id", "seconds") else Text,
                      primary_key=True, autoincrement=False) for key in keys]
    columns += [Column(value, Int, nullable=False, server_default=text("0")) for value in values]
    return Table(name, metadata, *columns, sqlite_with_rowid=False)


for _name, (_keys, _values, _, _) in stats_triggers.TABLES.items():
    _stats_table(_name, _keys, _values)


def _branch_stats_table(name: str, keys, values) -> Table:
    columns = [Column(key, Id if key in branch_stats.INTEGER_KEYS else Text,
                      primary_key=True, autoincrement=False) for key in keys]
    columns += [Column(value, Int, nullable=False, server_default=text("0")) for value in values]
    return Table(name, metadata, *columns, sqlite_with_rowid=False)


# The same with a branch (and teller) dimension, for head office (0013; storage/branch_stats.py).
for _name, (_keys, _values, _) in branch_stats.TABLES.items():
    _branch_stats_table(_name, _keys, _values)


# Durations by month (0015; storage/duration_months.py): a long period's median without reading
# every day's durations.
Table(duration_months.TABLE, metadata,
      Column("month", Text, primary_key=True), Column("seconds", Id, primary_key=True,
                                                      autoincrement=False),
      Column("n", Int, nullable=False, server_default=text("0")), sqlite_with_rowid=False)


_POSTGRESQL_TRIGGERS = (
    # Statistics: one function for the three events, as SQLite's three triggers do (0006).
    stats_triggers.postgresql_function(),
    stats_triggers.postgresql_trigger(),
    # Whatever changes an account's password, role or active flag ends its browser sessions.
    "CREATE FUNCTION users_change_ends_sessions() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\nIF OLD.password_hash IS DISTINCT FROM NEW.password_hash OR OLD.role IS DISTINCT FROM "
    "NEW.role OR OLD.active IS DISTINCT FROM NEW.active THEN\n"
    "UPDATE login_sessions SET ended_at = CAST(extract(epoch FROM now()) AS BIGINT), "
    "ended_why = 'account_changed' WHERE user_id = NEW.id AND ended_at IS NULL;\nEND IF;\n"
    "RETURN NULL;\nEND $$",
    "CREATE TRIGGER users_change_ends_sessions AFTER UPDATE OF password_hash, role, active "
    "ON users FOR EACH ROW EXECUTE FUNCTION users_change_ends_sessions()",
    *branch_stats.postgresql_statements(),  # head office's daily tables (0013)
    *duration_months.postgresql_statements(),
)
# Every statistics table is keyed by the business day (0017).
POSTGRESQL_TRIGGERS = tuple(business_day.on_business_day(statement)
                            for statement in _POSTGRESQL_TRIGGERS)


def _sqlite_triggers() -> list[str]:
    return [*business_day.sqlite_triggers(), legacy.USERS_CHANGE_TRIGGER]


def _ddl(statement: str) -> DDL:
    # DDL %-formats its text: a literal % (strftime('%s', …)) must be doubled or it is lost.
    return DDL(statement.replace("%", "%%"))


for _statement in _sqlite_triggers():
    event.listen(metadata, "after_create", _ddl(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRESQL_TRIGGERS:
    event.listen(metadata, "after_create", _ddl(_statement).execute_if(dialect="postgresql"))
_BRANCH_1_VALUES = ", ".join(repr(value) for value in DEFAULT_BRANCH.values())  # ints, plain text
event.listen(branches, "after_create", DDL(
    f"INSERT INTO branches ({', '.join(DEFAULT_BRANCH)}) VALUES ({_BRANCH_1_VALUES})"))  # noqa: S608
# …and the id sequence moves past it, so the next branch an admin adds is 2.
event.listen(branches, "after_create", DDL(
    "SELECT setval(pg_get_serial_sequence('branches', 'id'), 1)").execute_if(dialect="postgresql"))
# The bank's and branch 1's chain heads exist from the start, so the first appenders have a row
# to lock (a later branch's is made by its first append: storage/ledger.head_for_append).
event.listen(metadata, "after_create",
             DDL("INSERT INTO ledger_head (id) VALUES (0), (1) ON CONFLICT (id) DO NOTHING")
             .execute_if(dialect="postgresql"))
# Ledger ids are one numbering across all chains (audit.append_many): on PostgreSQL a sequence
# read under the chain's head lock; SQLite's write lock lets max(id) + 1 do. OWNED BY, so
# copying.reset_sequences finds it as it finds the serial columns'.
event.listen(ledger, "after_create",
             DDL("CREATE SEQUENCE ledger_id_seq OWNED BY ledger.id").execute_if(dialect="postgresql"))
