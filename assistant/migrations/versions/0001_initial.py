"""The life graph, the usage ledger and Chainlit's chat history tables.

Chainlit's tables carry every column that chainlit 2.12's `data/sql_alchemy.py` writes
(the docs' DDL lacks `autoCollapse`, and without it every tool step silently fails to save).

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TAGS = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
MONEY = sa.Numeric(14, 2)
COST = sa.Numeric(14, 6)


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("createdAt", sa.Text()),
        sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("password_hash", sa.Text()),
        sa.Column("display_name", sa.Text()),
        sa.UniqueConstraint("identifier", name="uq_users_identifier"),
    )
    op.create_table(
        "vendors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_vendors_owner_id_users"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("normalized_name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(60)),
        *_timestamps(),
        sa.UniqueConstraint("owner_id", "normalized_name", name="uq_vendors_owner_name"),
    )
    op.create_index("ix_vendors_owner_id", "vendors", ["owner_id"])
    op.create_table(
        "vendor_aliases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_vendor_aliases_owner_id_users"), nullable=False),
        sa.Column("vendor_id", sa.Integer(), sa.ForeignKey("vendors.id", ondelete="CASCADE", name="fk_vendor_aliases_vendor_id_vendors"), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("normalized_alias", sa.String(200), nullable=False),
        sa.UniqueConstraint("owner_id", "normalized_alias", name="uq_vendor_aliases_owner_alias"),
    )
    op.create_index("ix_vendor_aliases_vendor_id", "vendor_aliases", ["vendor_id"])
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_documents_owner_id_users"), nullable=False),
        sa.Column("vendor_id", sa.Integer(), sa.ForeignKey("vendors.id", ondelete="SET NULL", name="fk_documents_vendor_id_vendors")),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Numeric(4, 3)),
        *_timestamps(),
        sa.UniqueConstraint("owner_id", "sha256", name="uq_documents_owner_sha256"),
    )
    op.create_index("ix_documents_vendor_id", "documents", ["vendor_id"])
    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_commitments_owner_id_users"), nullable=False),
        sa.Column("vendor_id", sa.Integer(), sa.ForeignKey("vendors.id", ondelete="RESTRICT", name="fk_commitments_vendor_id_vendors"), nullable=False),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("documents.id", ondelete="SET NULL", name="fk_commitments_document_id_documents")),
        sa.Column("description", sa.Text()),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("issue_date", sa.Date()),
        sa.Column("due_date", sa.Date()),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("paid_date", sa.Date()),
        sa.Column("paid_amount", MONEY),
        sa.Column("priority", sa.Numeric(6, 2)),
        sa.Column("priority_reason", sa.Text()),
        sa.Column("recurrence", sa.String(40)),
        *_timestamps(),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status in ('due', 'paid', 'cancelled')", name="ck_commitments_status"),
    )
    op.create_index("ix_commitments_owner_status_due", "commitments", ["owner_id", "status", "due_date"])
    op.create_index("ix_commitments_owner_vendor", "commitments", ["owner_id", "vendor_id"])
    op.create_index("ix_commitments_owner_paid", "commitments", ["owner_id", "paid_date"])
    op.create_index("ix_commitments_document_id", "commitments", ["document_id"])
    op.create_table(
        "llm_usage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_llm_usage_owner_id_users")),
        sa.Column("thread_id", sa.String(64)),
        sa.Column("turn_id", sa.String(64)),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cached_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reserved_cost", COST, nullable=False, server_default="0"),
        sa.Column("cost", COST, nullable=False, server_default="0"),
        sa.Column("status", sa.String(12), nullable=False),
        *_timestamps(),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_llm_usage_created", "llm_usage", ["created_at"])
    op.create_index("ix_llm_usage_owner_created", "llm_usage", ["owner_id", "created_at"])
    op.create_index("ix_llm_usage_status_expires", "llm_usage", ["status", "expires_at"])

    # --- Chainlit's chat history (columns as chainlit 2.12 data/sql_alchemy.py writes them) ---
    op.create_table(
        "threads",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("createdAt", sa.Text()),
        sa.Column("name", sa.Text()),
        sa.Column("userId", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_threads_userId_users")),
        sa.Column("userIdentifier", sa.Text()),
        sa.Column("tags", TAGS),
        sa.Column("metadata", JSONB),
    )
    op.create_index("ix_threads_userId", "threads", ["userId"])
    op.create_table(
        "steps",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("threadId", sa.Text(), sa.ForeignKey("threads.id", ondelete="CASCADE", name="fk_steps_threadId_threads"), nullable=False),
        sa.Column("parentId", sa.Text()),
        sa.Column("command", sa.Text()),
        sa.Column("modes", JSONB),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("waitForAnswer", sa.Boolean()),
        sa.Column("isError", sa.Boolean()),
        sa.Column("metadata", JSONB),
        sa.Column("tags", TAGS),
        sa.Column("input", sa.Text()),
        sa.Column("output", sa.Text()),
        sa.Column("createdAt", sa.Text()),
        sa.Column("start", sa.Text()),
        sa.Column("end", sa.Text()),
        sa.Column("generation", JSONB),
        sa.Column("showInput", sa.Text()),
        sa.Column("defaultOpen", sa.Boolean()),
        sa.Column("autoCollapse", sa.Boolean()),
        sa.Column("language", sa.Text()),
        sa.Column("icon", sa.Text()),
        sa.Column("indent", sa.Integer()),
    )
    op.create_index("ix_steps_threadId", "steps", ["threadId"])
    op.create_table(
        "elements",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("threadId", sa.Text(), sa.ForeignKey("threads.id", ondelete="CASCADE", name="fk_elements_threadId_threads")),
        sa.Column("type", sa.Text()),
        sa.Column("url", sa.Text()),
        sa.Column("chainlitKey", sa.Text()),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("display", sa.Text()),
        sa.Column("objectKey", sa.Text()),
        sa.Column("size", sa.Text()),
        sa.Column("page", sa.Integer()),
        sa.Column("language", sa.Text()),
        sa.Column("forId", sa.Text()),
        sa.Column("mime", sa.Text()),
        sa.Column("props", JSONB),
        sa.Column("autoPlay", sa.Boolean()),
        sa.Column("playerConfig", JSONB),
    )
    op.create_index("ix_elements_threadId", "elements", ["threadId"])
    op.create_table(
        "feedbacks",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("forId", sa.Text(), nullable=False),
        sa.Column("threadId", sa.Text(), sa.ForeignKey("threads.id", ondelete="CASCADE", name="fk_feedbacks_threadId_threads"), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text()),
    )
    op.create_index("ix_feedbacks_forId", "feedbacks", ["forId"])


def downgrade() -> None:
    for table in ("feedbacks", "elements", "steps", "threads", "llm_usage", "commitments",
                  "documents", "vendor_aliases", "vendors", "users"):
        op.drop_table(table)
