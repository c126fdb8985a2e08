"""Watchlist renewals: a new listing of an account already on the list renews its entry.

An import (or the form) that lists an account whose entry has expired, is only a proposal,
or expires before the new listing does, makes the entry active with the new listing's
category, source and expiry (storage.watchlist.renew_entries). `watchlist.renewed_at` and
`renewed_import_id` say when and by which import; `watchlist_imports.renewed` counts them.

Revision ID: 0016_watchlist_renewals
Revises: 0015_month_durations
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_watchlist_renewals"
down_revision = "0015_month_durations"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (never batch mode's table copy).
    op.add_column("watchlist", sa.Column("renewed_at", sa.Text()))
    op.add_column("watchlist", sa.Column("renewed_import_id", Id))
    op.add_column("watchlist_imports",
                  sa.Column("renewed", sa.Integer(), server_default=sa.text("0")))


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
