"""Commitments the user creates can repeat (`repeats`: the next one is created when one is paid) and
any can be snoozed (`snoozed_until`: left out of "upcoming" until then). Indexes for the question
tools: bills by due date and by issue date per owner (any status), vendors by category.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commitments") as batch:
        batch.add_column(sa.Column("repeats", sa.String(20)))
        batch.add_column(sa.Column("snoozed_until", sa.Date()))
    op.create_index("ix_commitments_owner_due", "commitments", ["owner_id", "due_date"])
    op.create_index("ix_commitments_owner_issue", "commitments", ["owner_id", "issue_date"])
    op.create_index("ix_vendors_owner_category", "vendors", ["owner_id", "category"])


def downgrade() -> None:
    op.drop_index("ix_vendors_owner_category", "vendors")
    op.drop_index("ix_commitments_owner_issue", "commitments")
    op.drop_index("ix_commitments_owner_due", "commitments")
    with op.batch_alter_table("commitments") as batch:
        batch.drop_column("snoozed_until")
        batch.drop_column("repeats")
