"""The other-branch signals read the (payee_hash | customer_hash, started_at) indexes alone.

Issue 16, item 5: a payee paid at other branches and a customer screened at other branches are
looked up on every screening; at 10M sessions a heap page per matching session is what costs.
On PostgreSQL both indexes are rebuilt with INCLUDE (branch_id, status[, level]) so the
lookups are index-only scans. SQLite has no INCLUDE: nothing changes there.

Rebuilding takes a write lock on `sessions` for as long as the two index builds take (about a
minute per 10M sessions on the reference machine): run it in a maintenance window.

Revision ID: 0012_cross_branch_signals
Revises: 0010_watchlist_bank
"""

from alembic import op

revision = "0012_cross_branch_signals"
down_revision = "0010_watchlist_bank"
branch_labels = None
depends_on = None

# Frozen here on purpose (schema.PAYEE_INDEX_INCLUDE / CUSTOMER_INDEX_INCLUDE as written).
INDEXES = {
    "idx_sessions_payee_hash_started_at": ("payee_hash", ("branch_id", "status")),
    "idx_sessions_customer_hash_started_at": ("customer_hash", ("branch_id", "status", "level")),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (column, include) in INDEXES.items():
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.create_index(name, "sessions", [column, "started_at"],
                        postgresql_include=list(include))


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
