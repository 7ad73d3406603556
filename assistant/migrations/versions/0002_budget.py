"""Budget: the lock row every priced reservation takes, running totals, and the ledger's turn index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "budget_lock",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])
    op.create_index("ix_llm_usage_turn", "llm_usage", ["turn_id"])
    # Running totals the reservation checks instead of summing the ledger: per scope ("all" or
    # "user:<id>") and bucket ("m:<UTC minute>" for the rolling hour, "d:<local date>" for the day).
    op.create_table(
        "budget_counter",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.String(24), primary_key=True),
        sa.Column("amount", sa.Numeric(14, 6), nullable=False),
    )
    op.create_index("ix_budget_counter_bucket", "budget_counter", ["bucket"])


def downgrade() -> None:
    op.drop_table("budget_counter")
    op.drop_index("ix_llm_usage_turn", "llm_usage")
    op.drop_table("budget_lock")
