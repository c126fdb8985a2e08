"""The users trigger records when it ended an account's login sessions again.

SQLite databases created from the metadata (not upgraded from 1.x) got the
users_change_ends_sessions trigger with strftime('{}', 'now') for strftime('%s', 'now'):
SQLAlchemy's DDL %-formats its text. Sessions still ended, but with ended_at = 0. The trigger
is recreated as the 1.x chain wrote it (written out here: a revision stays as it ran).
PostgreSQL's trigger was right.

Revision ID: 0007_users_trigger_time
Revises: 0006_discarded_screenings
"""

from alembic import op

revision = "0007_users_trigger_time"
down_revision = "0006_discarded_screenings"
branch_labels = None
depends_on = None

USERS_CHANGE_TRIGGER = (
    "CREATE TRIGGER users_change_ends_sessions AFTER UPDATE OF password_hash, role, active "
    "ON users WHEN OLD.password_hash IS NOT NEW.password_hash OR OLD.role IS NOT NEW.role "
    "OR OLD.active IS NOT NEW.active BEGIN "
    "UPDATE login_sessions SET ended_at = CAST(strftime('%s', 'now') AS INTEGER), "
    "ended_why = 'account_changed' WHERE user_id = NEW.id AND ended_at IS NULL; END")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS users_change_ends_sessions")
    op.execute(USERS_CHANGE_TRIGGER)


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
