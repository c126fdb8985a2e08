"""Accounts whose password somebody else set must change it; supervisors see what waits for them.

- users.must_change_password: 1 after an admin (web or CLI) creates an account or resets its
  password, 0 once the user has chosen their own under 修改密码. Existing accounts start at 0:
  nobody is sent to change a password they may long since have chosen.
- idx_sessions_awaiting_supervisor: a partial index on the 高/极高 screenings whose assessment
  waits for a supervisor (待主管处理 and the count in the supervisor's menu, read on every page).

The predicate is written out here, not imported from schema.py: a revision stays as it ran.

Revision ID: 0003_account_password_change
Revises: 0002_api_rate_counts
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_account_password_change"
down_revision = "0002_api_rate_counts"
branch_labels = None
depends_on = None

AWAITING_SUPERVISOR = ("status = 'assessed' AND supervisor_decision IS NULL "
                       "AND level IN ('high', 'critical')")


def upgrade() -> None:
    # A plain ADD COLUMN on both backends (no batch copy of the table on SQLite, which would
    # drop the users_change_ends_sessions trigger).
    op.add_column("users", sa.Column("must_change_password", sa.Integer(), nullable=False,
                                     server_default=sa.text("0")))
    op.create_index("idx_sessions_awaiting_supervisor", "sessions", ["updated_at", "id"],
                    sqlite_where=sa.text(AWAITING_SUPERVISOR),
                    postgresql_where=sa.text(AWAITING_SUPERVISOR))


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
