"""api_rate_counts: the API's per-token rate limit counted in the database, so that every
process serving one PostgreSQL database counts into one limit (rate_limit.DatabaseRateLimiter).
Created on SQLite too (one schema), where it stays empty.

Revision ID: 0002_api_rate_counts
Revises: 0001_baseline
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_api_rate_counts"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_rate_counts",
        sa.Column("token_id", BIG, primary_key=True, autoincrement=False),
        sa.Column("minute", BIG, nullable=False),
        sa.Column("in_minute", BIG, nullable=False),
        sa.Column("in_previous_minute", BIG, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Counts, not records: no WAL, so counting a request never waits for a flush.
        op.execute("ALTER TABLE api_rate_counts SET UNLOGGED")


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
