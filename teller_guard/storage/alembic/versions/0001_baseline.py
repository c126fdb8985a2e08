"""Baseline: the schema of teller_guard/storage/schema.py when the bank-wide engine arrived.

A new database is created from the metadata and stamped here (or at a later head); a SQLite
file from 1.x reaches this point through the frozen sqlite-utils chain (teller_guard/migrations.py)
and is stamped. So this revision itself has nothing to do.

Revision ID: 0001_baseline
Revises:
"""

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
