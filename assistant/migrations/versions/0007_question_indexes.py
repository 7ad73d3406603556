"""Indexes for the question tools on a large graph (benchmarks/question_tools.py: 100,000 bills,
2,000 vendors for one user). Each holds every column its queries read (a covering index: PostgreSQL
answers from the index alone, without visiting the table rows; SQLite likewise), so totals over
thousands of bills stay fast:
- per owner and vendor (then status): find_bills totals by vendor or category, spending of one vendor;
- per owner and amount: find_bills by amount range;
- per owner and billed date (issue date, else due date: the expression the queries use): find_bills
  by issue date, summarize_spending "billed";
- per owner and paid date: find_bills by paid date, summarize_spending "paid".
Key columns rather than PostgreSQL's INCLUDE, so SQLite gets the same benefit.

On SQLite, a batch operation that copies `commitments` (batch_alter_table) does not carry the
expression index `ix_commitments_owner_billed` over (SQLAlchemy cannot reflect it): a later
migration doing one must create it again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_commitments_owner_vendor_status": ["owner_id", "vendor_id", "status", "currency", "amount", "paid_amount"],
    "ix_commitments_owner_amount": ["owner_id", "amount", "status", "currency", "vendor_id", "paid_amount"],
    "ix_commitments_owner_billed": ["owner_id", sa.text("coalesce(issue_date, due_date)"), "status", "currency",
                                    "amount", "vendor_id", "paid_amount", "issue_date", "due_date"],
    "ix_commitments_owner_paid_amounts": ["owner_id", "paid_date", "status", "currency", "amount", "paid_amount",
                                          "vendor_id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "commitments", columns)


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, "commitments")
