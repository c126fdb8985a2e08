"""A teller may discard an unfinished screening (sessions.status `discarded`, with a
`screening.discarded` ledger event): from then on it counts in no daily statistics table.

The statistics triggers are replaced by ones whose every condition also requires
`status != 'discarded'` and whose UPDATE trigger watches `status` too (storage/stats_triggers.py).
No row is discarded before this revision runs, so the tables need no recount.

Revision ID: 0006_discarded_screenings
Revises: 0004_screening_drafts
"""

from alembic import op

from teller_guard.storage import stats_triggers

revision = "0006_discarded_screenings"
down_revision = "0004_screening_drafts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(stats_triggers.postgresql_function())
        op.execute("DROP TRIGGER IF EXISTS stats_sessions_change ON sessions")
        op.execute(stats_triggers.postgresql_trigger())
        return
    for name in stats_triggers.SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in stats_triggers.sqlite_statements():
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
