"""Documents remember what identifies a bill (invoice and account numbers, amount, period), so the
same bill arriving again as PDF, photo or email is recognised, and a reissued bill replaces the old.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("invoice_number", sa.String(80)))
        batch.add_column(sa.Column("account_number", sa.String(80)))
        batch.add_column(sa.Column("amount", sa.Numeric(14, 2)))
        batch.add_column(sa.Column("currency", sa.String(3)))
        batch.add_column(sa.Column("issue_date", sa.Date()))
        batch.add_column(sa.Column("period_start", sa.Date()))
        batch.add_column(sa.Column("period_end", sa.Date()))
        batch.add_column(sa.Column("replaced_by_id", sa.Integer(),
                                   sa.ForeignKey("documents.id", ondelete="SET NULL",
                                                 name="fk_documents_replaced_by_id_documents")))
    op.create_index("ix_documents_owner_vendor_invoice", "documents", ["owner_id", "vendor_id", "invoice_number"])
    op.create_index("ix_documents_owner_account", "documents", ["owner_id", "account_number"])


def downgrade() -> None:
    op.drop_index("ix_documents_owner_account", "documents")
    op.drop_index("ix_documents_owner_vendor_invoice", "documents")
    with op.batch_alter_table("documents") as batch:
        for column in ("replaced_by_id", "period_end", "period_start", "issue_date", "currency", "amount",
                       "account_number", "invoice_number"):
            batch.drop_column(column)
