"""Durations by month (issue 14: statistics over a year within 100 ms at 1M sessions).

`stats_month_duration` (month, seconds, n) beside the daily `stats_day_duration`, filled here
from the sessions already stored and kept by triggers of its own (storage/duration_months.py),
so the statistics page reads whole months of a long period from it. Later changes to
duration_months.py must keep this revision correct when it runs before them, or replace the
triggers in a revision of their own.

Revision ID: 0015_month_durations
Revises: 0014_ledger_chains
"""

import sqlalchemy as sa
from alembic import op

from teller_guard.storage import duration_months

revision = "0015_month_durations"
down_revision = "0014_ledger_chains"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        duration_months.TABLE,
        sa.Column("month", sa.Text(), primary_key=True),
        sa.Column("seconds", Id, primary_key=True, autoincrement=False),
        sa.Column("n", Id, nullable=False, server_default=sa.text("0")),
        sqlite_with_rowid=False,
    )
    op.execute(duration_months.backfill_statement())
    if op.get_bind().dialect.name == "postgresql":
        statements = duration_months.postgresql_statements()
    else:
        statements = duration_months.sqlite_statements()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
