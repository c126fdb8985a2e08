"""The review queue searched by reference: a partial index of the queued cases' references.

At 1M sessions a month's prefix (`?reference=TG202512`) counted its cases by reading the
whole queue's covering index (about 120,000 entries, 21 ms on PostgreSQL); from this index
it reads the month's few thousand (1.7 ms), and the page went from 50 to 35 ms
(benchmarks/README.md).

Revision ID: 0018_queue_reference
Revises: 0017_business_day
"""

import sqlalchemy as sa
from alembic import op

from teller_guard.storage.schema import QUEUE_REFERENCE_INDEX

revision = "0018_queue_reference"
down_revision = "0017_business_day"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(QUEUE_REFERENCE_INDEX, "sessions", ["reference", "review_status"],
                    sqlite_where=sa.text("in_queue = 1"), postgresql_where=sa.text("in_queue = 1"))


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
