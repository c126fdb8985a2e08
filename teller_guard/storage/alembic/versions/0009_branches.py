"""Branches as data (issue 16): a `branches` table, and a branch on users, sessions and tokens.

A single-branch instance becomes branch 1: its 网点设置 (the `settings` rows, or the defaults
for those never saved) move into branch 1's row and leave `settings`, so one place holds them;
every existing user, screening and API token belongs to branch 1.

Revision ID: 0009_branches
Revises: 0008_stats_level_outcome
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009_branches"
down_revision = "0008_stats_level_outcome"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# What schema.DEFAULT_BRANCH was when this revision was written (frozen here on purpose).
BRANCH_1 = {"id": 1, "code": "0001", "name": "示例支行", "bank_name": "示例银行",
            "province": "河北省", "city": "邢台市", "large_amount": "50000",
            "elderly_age": 60, "slip_paper": "a5"}
# settings key -> branches column
MOVED_SETTINGS = {"branch_name": "name", "bank_name": "bank_name", "province": "province",
                  "city": "city", "large_amount": "large_amount",
                  "elderly_age": "elderly_age", "slip_paper": "slip_paper"}


def upgrade() -> None:
    branches = op.create_table(
        "branches",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("bank_name", sa.Text(), nullable=False),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("large_amount", sa.Text(), nullable=False),
        sa.Column("elderly_age", sa.Integer(), nullable=False),
        sa.Column("slip_paper", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text()),
    )
    op.create_index("idx_branches_code", "branches", ["code"], unique=True)
    connection = op.get_bind()
    branch = dict(BRANCH_1)
    for key, value in connection.execute(sa.text("SELECT key, value FROM settings")).fetchall():
        if key in MOVED_SETTINGS:
            branch[MOVED_SETTINGS[key]] = json.loads(value)
    branch["large_amount"] = str(branch["large_amount"])
    branch["elderly_age"] = int(branch["elderly_age"])
    branch["created_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    op.bulk_insert(branches, [branch])
    moved = ", ".join(f"'{key}'" for key in MOVED_SETTINGS)
    connection.execute(sa.text(f"DELETE FROM settings WHERE key IN ({moved})"))  # noqa: S608
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT setval(pg_get_serial_sequence('branches', 'id'), 1)"))
    # A plain ADD COLUMN (REFERENCES inline on SQLite): never batch mode, whose copy of
    # `sessions` would drop the statistics triggers and rewrite a million rows.
    for table in ("users", "api_tokens", "sessions"):
        if connection.dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} ADD COLUMN branch_id INTEGER REFERENCES branches (id)")
        else:
            op.add_column(table, sa.Column("branch_id", Id, sa.ForeignKey("branches.id")))
    op.execute("UPDATE users SET branch_id = 1")
    op.execute("UPDATE api_tokens SET branch_id = 1")
    op.execute("UPDATE sessions SET branch_id = 1")
    op.create_index("idx_sessions_branch_id_id", "sessions", ["branch_id", "id"])


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
