"""Head office (issue 16): escalation columns on sessions, and daily tables with a branch.

sessions.escalated_at / escalated_why say when and why a screening went to head office (a
branch's 上报总行, every 极高 assessment, every printed police alert), with a partial index for
head office's queue. Screenings already 极高 or with an alert printed are marked here, at the
time of their last update (the assessment's or the alert's exact time is in the ledger).

Ten tables (storage/branch_stats.py) at bank, branch and teller grain, kept by triggers
of their own (the statistics triggers of 0006/0008 stay as they are), are filled here from the
sessions already stored. Later changes to branch_stats.py must keep this revision correct when
it runs before them, or replace the triggers in a revision of their own.

Revision ID: 0013_head_office
Revises: 0012_cross_branch_signals
"""

import sqlalchemy as sa
from alembic import op

from teller_guard.storage import branch_stats

revision = "0013_head_office"
down_revision = "0012_cross_branch_signals"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Int = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A plain ADD COLUMN: never batch mode, whose copy of `sessions` would drop its triggers.
    for column in ("escalated_at", "escalated_why"):
        op.execute(f"ALTER TABLE sessions ADD COLUMN {column} TEXT")
    op.execute("UPDATE sessions SET escalated_at = COALESCE(updated_at, started_at), "
               "escalated_why = CASE WHEN level = 'critical' THEN 'critical' "
               "ELSE 'police_alert' END "
               "WHERE level = 'critical' OR COALESCE(alerts_printed, 0) > 0")
    op.create_index("idx_sessions_escalated", "sessions", ["escalated_at", "id"],
                    sqlite_where=sa.text("escalated_at IS NOT NULL"),
                    postgresql_where=sa.text("escalated_at IS NOT NULL"))
    for name, (keys, values, _) in branch_stats.TABLES.items():
        op.create_table(
            name,
            *[sa.Column(key, Id if key in branch_stats.INTEGER_KEYS else sa.Text(),
                        primary_key=True, autoincrement=False) for key in keys],
            *[sa.Column(value, Int, nullable=False, server_default=sa.text("0"))
              for value in values],
            sqlite_with_rowid=False,
        )
    for statement in branch_stats.backfill_statements():
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        statements = branch_stats.postgresql_statements()
    else:
        statements = branch_stats.sqlite_statements()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
