"""A ledger chain per branch (issue 16): `ledger.chain` and one `ledger_head` row per chain.

Every existing row becomes chain 1's (the single branch an upgraded instance becomes in 0009)
with its hash unchanged: chain 1's head records the last id hashed without the chain
(`plain_until`), and audit.canonical leaves the chain out up to it. The bank's chain (0) gets
its head row. On PostgreSQL ledger ids come from a sequence from now on (chains append
concurrently, so no head knows the next id): it starts after the largest id in use.

Revision ID: 0014_ledger_chains
Revises: 0013_head_office
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_ledger_chains"
down_revision = "0013_head_office"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    connection = op.get_bind()
    # A constant default: a plain ADD COLUMN on both backends (no table rewrite, no batch copy
    # of a ledger of millions of rows), and every existing row reads as chain 1.
    op.add_column("ledger", sa.Column("chain", Id, nullable=False, server_default=sa.text("1")))
    op.create_index("idx_ledger_chain_id", "ledger", ["chain", "id"])
    op.add_column("ledger_head", sa.Column("plain_until", Id))
    op.execute("UPDATE ledger_head SET plain_until = last_id WHERE id = 1")
    if connection.dialect.name == "postgresql":
        op.execute("INSERT INTO ledger_head (id) VALUES (0), (1) ON CONFLICT (id) DO NOTHING")
        op.execute("CREATE SEQUENCE ledger_id_seq OWNED BY ledger.id")
        op.execute("SELECT setval('ledger_id_seq', GREATEST((SELECT max(id) FROM ledger), "
                   "(SELECT max(last_id) FROM ledger_head), 0) + 1, false)")


def downgrade() -> None:
    raise NotImplementedError("teller_guard migrations go forward only (the ledger must not lose rows)")
