"""SQLAlchemy 2.0 typed models of the life graph.

Every row belongs to a user (`owner_id`), money is `Numeric`, dates are `Date`. The `users` table
is shared with Chainlit's data layer, whose SQL writes `id`, `identifier`, `createdAt` and
`metadata` by those exact names; our own columns (`password_hash`, ...) are nullable so Chainlit's
inserts stay valid. Chainlit's other history tables are created by the migration only (we never
map them: Chainlit's layer owns their SQL).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(14, 2)
COST = Numeric(14, 6)
# What a money column holds: PostgreSQL refuses more ("numeric field overflow"), SQLite would keep it.
MONEY_LIMIT = Decimal(10) ** (MONEY.precision - MONEY.scale)
IDENTIFIER_WIDTH = 80  # documents.invoice_number / account_number


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CommitmentStatus(str, enum.Enum):
    due = "due"
    paid = "paid"
    cancelled = "cancelled"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    identifier: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[str | None] = mapped_column("createdAt", Text)
    meta: Mapped[Any] = mapped_column("metadata", JSON, default=dict)
    password_hash: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)


class Vendor(Base):
    __tablename__ = "vendors"
    __table_args__ = (UniqueConstraint("owner_id", "normalized_name", name="uq_vendors_owner_name"),
                      Index("ix_vendors_owner_category", "owner_id", "category"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    aliases: Mapped[list[VendorAlias]] = relationship(
        back_populates="vendor", cascade="all, delete-orphan", lazy="selectin"
    )


class VendorAlias(Base):
    __tablename__ = "vendor_aliases"
    __table_args__ = (
        UniqueConstraint("owner_id", "normalized_alias", name="uq_vendor_aliases_owner_alias"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    vendor_id: Mapped[int] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    alias: Mapped[str] = mapped_column(String(200))
    normalized_alias: Mapped[str] = mapped_column(String(200))

    vendor: Mapped[Vendor] = relationship(back_populates="aliases")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("owner_id", "sha256", name="uq_documents_owner_sha256"),
        Index("ix_documents_owner_vendor_invoice", "owner_id", "vendor_id", "invoice_number"),
        Index("ix_documents_owner_account", "owner_id", "account_number"),
        Index("ix_documents_owner_indexed", "owner_id", "indexed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    vendor_id: Mapped[int | None] = mapped_column(
        ForeignKey("vendors.id", ondelete="SET NULL"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))  # paste | upload | cli
    filename: Mapped[str | None] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    fields: Mapped[Any] = mapped_column(JSON, default=dict)
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # what identifies the bill (for recognising it again, whatever form it arrives in)
    invoice_number: Mapped[str | None] = mapped_column(String(IDENTIFIER_WIDTH))
    account_number: Mapped[str | None] = mapped_column(String(IDENTIFIER_WIDTH))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    # when its text went into the search index; None = not yet (the index was down): caught up later
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Commitment(Base):
    __tablename__ = "commitments"
    __table_args__ = (
        Index("ix_commitments_owner_status_due", "owner_id", "status", "due_date"),
        Index("ix_commitments_owner_vendor", "owner_id", "vendor_id"),
        Index("ix_commitments_owner_paid", "owner_id", "paid_date"),
        Index("ix_commitments_owner_due", "owner_id", "due_date"),
        Index("ix_commitments_owner_issue", "owner_id", "issue_date"),
        # covering indexes of the question tools' totals (migration 0007)
        Index("ix_commitments_owner_vendor_status", "owner_id", "vendor_id", "status", "currency", "amount",
              "paid_amount"),
        Index("ix_commitments_owner_amount", "owner_id", "amount", "status", "currency", "vendor_id", "paid_amount"),
        Index("ix_commitments_owner_billed", "owner_id", text("coalesce(issue_date, due_date)"), "status", "currency",
              "amount", "vendor_id", "paid_amount", "issue_date", "due_date"),
        Index("ix_commitments_owner_paid_amounts", "owner_id", "paid_date", "status", "currency", "amount",
              "paid_amount", "vendor_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id", ondelete="RESTRICT"))
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), index=True
    )
    description: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=CommitmentStatus.due.value)
    paid_date: Mapped[date | None] = mapped_column(Date)
    paid_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    priority: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    priority_reason: Mapped[str | None] = mapped_column(Text)
    recurrence: Mapped[str | None] = mapped_column(String(40))  # observed from the vendor's bills (a guess)
    # set by the user ("rent due on the 1st every month"): when this one is paid, the next is created
    repeats: Mapped[str | None] = mapped_column(String(20))  # weekly | monthly | quarterly | yearly
    snoozed_until: Mapped[date | None] = mapped_column(Date)  # left out of "upcoming" until then
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    vendor: Mapped[Vendor] = relationship(lazy="joined")


class LlmUsage(Base):
    """The ledger: one row per model call (reserved, then settled or released)."""

    __tablename__ = "llm_usage"
    __table_args__ = (
        Index("ix_llm_usage_created", "created_at"),
        Index("ix_llm_usage_owner_created", "owner_id", "created_at"),
        Index("ix_llm_usage_status_expires", "status", "expires_at"),
        Index("ix_llm_usage_turn", "turn_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    turn_id: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(120))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reserved_cost: Mapped[Decimal] = mapped_column(COST, default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(COST, default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(12))  # reserved | settled | released | failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BudgetLock(Base):
    """One row; every priced reservation updates it first, so reservations run one at a time."""

    __tablename__ = "budget_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)


class BudgetCounter(Base):
    """Running charge per scope and bucket, kept with the ledger in the same transactions."""

    __tablename__ = "budget_counter"
    __table_args__ = (Index("ix_budget_counter_bucket", "bucket"),)

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(24), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(COST)
