"""Documents remember when their text went into the search index, so a bill filed while the index
was unreachable is indexed once it is back. Existing documents start as "not indexed": the first
catch-up re-indexes them (indexing a document again replaces its chunks, so this is safe).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("indexed_at", sa.DateTime(timezone=True)))
    op.create_index("ix_documents_owner_indexed", "documents", ["owner_id", "indexed_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_owner_indexed", "documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("indexed_at")
