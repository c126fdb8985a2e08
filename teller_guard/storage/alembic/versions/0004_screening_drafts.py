"""Screening drafts: what a teller typed on a step but has not submitted yet.

screening_drafts keeps one sealed (AES-GCM) copy of the form per teller and step, saved as the
teller types, so an idle logout loses nothing (screening/drafts.py). Scoring and the ledger
never read it; a draft is deleted when its step is submitted.

Revision ID: 0004_screening_drafts
Revises: 0003_account_password_change
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_screening_drafts"
down_revision = "0003_account_password_change"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "screening_drafts",
        sa.Column("teller_id", Id, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("slot", sa.Text(), nullable=False),
        sa.Column("session_id", Id, sa.ForeignKey("sessions.id")),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("saved_at", Id, nullable=False),
        sa.PrimaryKeyConstraint("teller_id", "slot"),
    )
    op.create_index("idx_screening_drafts_session_id", "screening_drafts", ["session_id"])
    op.create_index("idx_screening_drafts_saved_at", "screening_drafts", ["saved_at"])


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
