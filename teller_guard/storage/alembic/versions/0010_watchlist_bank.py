"""One watchlist for the bank: source category, expiry date, branch proposals (issue 16).

Entries get a category (police / peer / own, labels.WATCHLIST_CATEGORIES; NULL on entries
listed before, which keep their free-text source), an optional last day they match
(expires_on), and a status: 'active', or 'proposed' by a branch from a confirmed case
(session_id, proposed_by) until head office approves it. Existing entries stay active.

Revision ID: 0010_watchlist_bank
Revises: 0009_branches
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_watchlist_bank"
down_revision = "0009_branches"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as schema.py's ids
# storage.watchlist's PROPOSED_CONDITION and EXPIRES_CONDITION, written out as they ran
PROPOSED = "status = 'proposed'"
EXPIRES = "expires_on IS NOT NULL"


def upgrade() -> None:
    op.add_column("watchlist", sa.Column("category", sa.Text()))
    op.add_column("watchlist", sa.Column("expires_on", sa.Text()))
    op.add_column("watchlist", sa.Column("status", sa.Text(), nullable=False,
                                         server_default=sa.text("'active'")))
    op.add_column("watchlist", sa.Column("session_id", Id))
    op.add_column("watchlist", sa.Column("proposed_by", Id))
    op.create_index("idx_watchlist_proposed", "watchlist", ["id"],
                    sqlite_where=sa.text(PROPOSED), postgresql_where=sa.text(PROPOSED))
    op.create_index("idx_watchlist_expires_on", "watchlist", ["expires_on", "status"],
                    sqlite_where=sa.text(EXPIRES), postgresql_where=sa.text(EXPIRES))


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
