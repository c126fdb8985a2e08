"""Stored times in UTC: each screening's business day is a column of its own.

From this revision on the app stores every time in UTC (clock.py), so started_at's first ten
characters are no longer the bank's date. `sessions.business_day` holds the bank's date of
started_at, written with the row, and every statistics trigger on sessions is keyed by
`COALESCE(business_day, substr(started_at, 1, 10))` (storage/business_day.py). Rows stored
before keep NULL: their started_at was local time, so its date is the day they were counted
under, and nothing is rewritten (the ledger's digests cover started_at as stored).

Revision ID: 0017_business_day
Revises: 0016_watchlist_renewals
"""

import sqlalchemy as sa
from alembic import op

from teller_guard.storage import business_day

revision = "0017_business_day"
down_revision = "0016_watchlist_renewals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("business_day", sa.Text()))
    if op.get_bind().dialect.name == "postgresql":
        for statement in business_day.postgresql_functions():  # the triggers stay, bodies change
            op.execute(statement)
        return
    for name in business_day.sqlite_trigger_names():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in business_day.sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
