"""Queries and changes on vendors, documents and commitments. Every function takes the owner."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from rapidfuzz import fuzz, process
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.graph.categories import canonical
from assistant.graph.models import Commitment, CommitmentStatus, Document, Vendor, VendorAlias

_SUFFIXES = {"inc", "llc", "ltd", "limited", "gmbh", "co", "corp", "corporation", "company",
             "plc", "sa", "sarl", "bv", "ag", "the"}

BillStatus = Literal["open", "due", "overdue", "paid", "cancelled", "any"]
DateField = Literal["due", "paid", "issued"]
SortField = Literal["due_date", "amount", "vendor", "issue_date", "paid_date", "priority"]


class GraphError(Exception):
    """A request the graph cannot carry out; the message is safe to show the user."""


def normalize_name(name: str) -> str:
    """Lower-case, accents and punctuation removed, legal suffixes dropped: "The Water Co." -> "water"."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w]
    kept = [w for w in words if w not in _SUFFIXES]
    return " ".join(kept or words)[:200]


async def find_vendor(session: AsyncSession, owner_id: str, name: str) -> Vendor | None:
    """The owner's vendor whose name or alias normalises to the same words, else None."""
    key = normalize_name(name)
    vendor = await session.scalar(
        select(Vendor).where(Vendor.owner_id == owner_id, Vendor.normalized_name == key)
    )
    if vendor is None:
        vendor = await session.scalar(
            select(Vendor)
            .join(VendorAlias, VendorAlias.vendor_id == Vendor.id)
            .where(VendorAlias.owner_id == owner_id, VendorAlias.normalized_alias == key)
        )
    return vendor


def vendor_scores(vendors: list[Vendor], name: str) -> list[tuple[Vendor, float]]:
    """Each vendor's best rapidfuzz token-set score (0-100) against `name`, aliases included, best first."""
    key = normalize_name(name)
    scored = [(v, max(fuzz.token_set_ratio(key, n) for n in [v.normalized_name, *(a.normalized_alias
                                                                                   for a in v.aliases)]))
              for v in vendors]
    return sorted(scored, key=lambda pair: -pair[1])


async def match_vendors(session: AsyncSession, owner_id: str, query: str) -> list[Vendor]:
    """Vendors a person probably means by `query` in a question: exact name or alias, else every
    vendor at or above the resolution `ask` threshold (a typo or a partial name still finds it)."""
    from assistant.graph.resolve import thresholds

    exact = await find_vendor(session, owner_id, query)
    if exact is not None:
        return [exact]
    key = normalize_name(query)
    if not key:
        return []
    # The same scores as `vendor_scores` (a vendor's best over its name and aliases), without loading
    # every vendor: only (id, normalised name) rows are read and scored; the vendors that match are
    # loaded whole. Best first; equal scores in vendor id order.
    names = (await session.execute(
        select(Vendor.id, Vendor.normalized_name).where(Vendor.owner_id == owner_id)
        .union_all(select(VendorAlias.vendor_id, VendorAlias.normalized_alias)
                   .join(Vendor, Vendor.id == VendorAlias.vendor_id).where(Vendor.owner_id == owner_id))
    )).all()
    best: dict[int, float] = {}
    for _, score, i in process.extract(key, [n for _, n in names], scorer=fuzz.token_set_ratio, limit=None,
                                       score_cutoff=thresholds().ask):
        vendor_id = names[i][0]
        best[vendor_id] = max(score, best.get(vendor_id, score))
    if not best:
        return []
    ids = sorted(best, key=lambda vendor_id: (-best[vendor_id], vendor_id))
    loaded = {v.id: v for v in (await session.scalars(select(Vendor).where(Vendor.id.in_(ids)))).all()}
    return [loaded[vendor_id] for vendor_id in ids]


async def get_or_create_vendor(session: AsyncSession, owner_id: str, name: str, text: str = "") -> Vendor:
    """The owner's vendor of that name (or alias); a new one gets a category guessed from its name and
    `text` (its first bill's)."""
    from assistant.graph.categories import guess_category

    vendor = await find_vendor(session, owner_id, name)
    if vendor is None:
        vendor = Vendor(owner_id=owner_id, name=name.strip()[:200], normalized_name=normalize_name(name),
                        category=guess_category(name, text))
        session.add(vendor)
        await session.flush()
    return vendor


async def get_document(session: AsyncSession, owner_id: str, document_id: int) -> Document | None:
    return await session.scalar(select(Document).where(Document.owner_id == owner_id, Document.id == document_id))


async def find_document_by_sha(session: AsyncSession, owner_id: str, sha256: str) -> Document | None:
    return await session.scalar(
        select(Document).where(Document.owner_id == owner_id, Document.sha256 == sha256)
    )


async def documents_to_index(session: AsyncSession, owner_id: str | None, limit: int) -> list[tuple[int, str, str | None, str]]:
    """Documents whose text is not in the search index yet, oldest first: (id, owner, vendor, text).
    `owner_id=None` is every user's (the operator's catch-up); otherwise one user's only."""
    query = (select(Document.id, Document.owner_id, Vendor.name, Document.text)
             .outerjoin(Vendor, Vendor.id == Document.vendor_id)
             .where(Document.indexed_at.is_(None)).order_by(Document.id).limit(limit))
    if owner_id is not None:
        query = query.where(Document.owner_id == owner_id)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def mark_indexed(session: AsyncSession, owner_id: str, document_id: int, when: Any) -> None:
    await session.execute(update(Document).where(Document.owner_id == owner_id, Document.id == document_id)
                          .values(indexed_at=when))


async def commitment_for_document(session: AsyncSession, owner_id: str, document_id: int) -> Commitment | None:
    return await session.scalar(
        select(Commitment).where(Commitment.owner_id == owner_id, Commitment.document_id == document_id)
    )


@dataclass
class NewBill:
    vendor_name: str
    amount: Decimal
    currency: str
    due_date: date | None
    issue_date: date | None = None
    description: str | None = None


@dataclass
class NewDocument:
    sha256: str
    source: str
    filename: str | None
    mime: str
    size_bytes: int
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    confidence: Decimal | None = None
    invoice_number: str | None = None
    account_number: str | None = None
    period_start: date | None = None
    period_end: date | None = None


async def find_same_bill(session: AsyncSession, owner_id: str, vendor_id: int | None, doc: NewDocument,
                         amount: Decimal) -> Document | None:
    """An earlier document of the same bill in another form: same vendor and invoice number, or same
    account, period and amount. (Same bytes are caught earlier, by sha256.)"""
    if vendor_id is not None and doc.invoice_number:
        found = await session.scalar(select(Document).where(
            Document.owner_id == owner_id, Document.vendor_id == vendor_id,
            func.upper(Document.invoice_number) == doc.invoice_number.upper(),
            Document.replaced_by_id.is_(None)).order_by(Document.id.desc()).limit(1))
        if found is not None:
            return found
    if doc.account_number and doc.period_start and doc.period_end:
        return await session.scalar(select(Document).where(
            Document.owner_id == owner_id, Document.account_number == doc.account_number,
            Document.period_start == doc.period_start, Document.period_end == doc.period_end,
            Document.amount == amount, Document.replaced_by_id.is_(None)).order_by(Document.id.desc()).limit(1))
    return None


async def file_bill(session: AsyncSession, owner_id: str, bill: NewBill, doc: NewDocument,
                    today: date | None = None, vendor: Vendor | None = None,
                    replaces: Document | None = None) -> Commitment:
    """Record the document and its commitment in the caller's transaction, with its priority and,
    once the vendor has two or more bills, a recurrence guess. `replaces`: an earlier document of the
    same bill (a corrected or reissued one): its commitment is updated instead of a new one added."""
    from assistant.graph.priority import priority, recurrence

    if bill.amount < 0:
        raise GraphError("a bill's amount cannot be negative")
    vendor = vendor or await get_or_create_vendor(session, owner_id, bill.vendor_name, doc.text)
    document = Document(
        owner_id=owner_id, vendor_id=vendor.id, sha256=doc.sha256, source=doc.source,
        filename=doc.filename, mime=doc.mime, size_bytes=doc.size_bytes, text=doc.text,
        fields=doc.fields, confidence=doc.confidence, invoice_number=doc.invoice_number,
        account_number=doc.account_number, amount=bill.amount, currency=bill.currency,
        issue_date=bill.issue_date, period_start=doc.period_start, period_end=doc.period_end,
    )
    session.add(document)
    await session.flush()
    commitment = None
    if replaces is not None:
        replaces.replaced_by_id = document.id
        commitment = await commitment_for_document(session, owner_id, replaces.id)
    if commitment is None:
        commitment = Commitment(owner_id=owner_id, vendor_id=vendor.id, status=CommitmentStatus.due.value)
        session.add(commitment)
    commitment.document_id = document.id
    commitment.description = bill.description
    commitment.amount, commitment.currency = bill.amount, bill.currency
    commitment.issue_date, commitment.due_date = bill.issue_date, bill.due_date
    commitment.priority, commitment.priority_reason = priority(
        bill.amount, bill.currency, bill.due_date, today or date.today(), doc.text)
    await session.flush()
    dates = list((await session.scalars(select(func.coalesce(Commitment.due_date, Commitment.issue_date)).where(
        Commitment.owner_id == owner_id, Commitment.vendor_id == vendor.id))).all())
    commitment.recurrence = recurrence([d for d in dates if d is not None])
    await session.flush()
    await session.refresh(commitment, ["vendor"])
    return commitment


@dataclass
class BillQuery:
    vendor: str | None = None
    status: BillStatus = "open"
    date_field: DateField = "due"
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 50
    category: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    text: str | None = None  # in the bill's description (invoice number) or its vendor's name
    sort: SortField | None = None  # default: by due date (by paid date for paid bills)
    descending: bool = False


@dataclass
class BillTotals:
    currency: str
    count: int
    amount: Decimal


@dataclass
class BillResult:
    bills: list[Commitment]
    totals: list[BillTotals]
    vendors_matched: list[str]
    total_count: int


def _filtered(stmt: Select, owner_id: str, today: date, q: BillQuery, vendor_ids: list[int] | None) -> Select:
    stmt = stmt.where(Commitment.owner_id == owner_id)
    if vendor_ids is not None:
        stmt = stmt.where(Commitment.vendor_id.in_(vendor_ids))
    if q.status == "open":
        stmt = stmt.where(Commitment.status == CommitmentStatus.due.value)
    elif q.status == "due":
        stmt = stmt.where(Commitment.status == CommitmentStatus.due.value,
                          or_(Commitment.due_date.is_(None), Commitment.due_date >= today))
    elif q.status == "overdue":
        stmt = stmt.where(Commitment.status == CommitmentStatus.due.value, Commitment.due_date < today)
    elif q.status in ("paid", "cancelled"):
        stmt = stmt.where(Commitment.status == q.status)
    if q.category is not None:
        stmt = stmt.where(Commitment.vendor_id.in_(
            select(Vendor.id).where(Vendor.owner_id == owner_id, Vendor.category == canonical(q.category))))
    if q.amount_min is not None:
        stmt = stmt.where(Commitment.amount >= q.amount_min)
    if q.amount_max is not None:
        stmt = stmt.where(Commitment.amount <= q.amount_max)
    if q.text:
        like = f"%{q.text.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Commitment.description).like(like), Commitment.vendor_id.in_(
            select(Vendor.id).where(Vendor.owner_id == owner_id, func.lower(Vendor.name).like(like)))))
    column = {
        "due": Commitment.due_date,
        "paid": Commitment.paid_date,
        "issued": func.coalesce(Commitment.issue_date, Commitment.due_date),
    }[q.date_field]
    if q.date_from is not None:
        stmt = stmt.where(column >= q.date_from)
    if q.date_to is not None:
        stmt = stmt.where(column <= q.date_to)
    return stmt


def _order(q: BillQuery, by_index: bool) -> tuple:
    """No date (or no key): last. Two spellings of the same order: `by_index` (NULLS LAST) lets the
    database read the bills in index order and stop at the limit; the other (a leading "key IS NULL"
    term no index has) makes it sort every matching bill, which is better when an index on another
    column finds them (see `_by_index`)."""
    sort = q.sort or ("paid_date" if q.date_field == "paid" else "due_date")
    if sort == "vendor":
        key = select(Vendor.name).where(Vendor.id == Commitment.vendor_id).scalar_subquery()
    else:
        key = {"due_date": Commitment.due_date, "amount": Commitment.amount, "issue_date": Commitment.issue_date,
               "paid_date": Commitment.paid_date, "priority": Commitment.priority}[sort]
    descending = q.descending or (q.sort is None and sort == "paid_date")  # newest payments first
    if by_index:
        ordered = key.desc() if descending else key.asc()
        # an amount is never missing: plain ASC/DESC, which an index read either way serves
        return (ordered if sort == "amount" else ordered.nulls_last(), Commitment.id)
    return (key.is_(None), key.desc() if descending else key, Commitment.id)


def _by_index(session: AsyncSession, q: BillQuery) -> bool:
    """Whether to let the database read the bills in the sort key's index order (see `_order`).
    Always when a range on the sort key itself selects them (due dates sorted by due date, amounts by
    amount): one index serves both. Otherwise, on PostgreSQL, unless a date range on another column
    selects them (bills issued in a quarter, sorted by due date: in due-date order, the first ones in
    the range come after most of the others); on SQLite, never: its planner has no statistics to tell
    when index order is the slower way (one vendor's bills, sorted by due date: every bill read in
    due-date order to find its few)."""
    sort = q.sort or ("paid_date" if q.date_field == "paid" else "due_date")
    dated = q.date_from is not None or q.date_to is not None
    date_column = {"due": "due_date", "paid": "paid_date", "issued": None}[q.date_field]
    if (dated and date_column == sort) or (sort == "amount" and (q.amount_min, q.amount_max) != (None, None)):
        return True
    return session.get_bind().dialect.name == "postgresql" and not dated


async def find_bills(session: AsyncSession, owner_id: str, today: date, q: BillQuery) -> BillResult:
    vendor_ids: list[int] | None = None
    matched: list[str] = []
    if q.vendor:
        vendors = await match_vendors(session, owner_id, q.vendor)
        vendor_ids = [v.id for v in vendors]
        matched = [v.name for v in vendors]
    bills_stmt = (_filtered(select(Commitment), owner_id, today, q, vendor_ids)
                  .order_by(*_order(q, _by_index(session, q))).limit(q.limit))
    bills = list((await session.scalars(bills_stmt)).all())
    amount_col = Commitment.paid_amount if q.status == "paid" else Commitment.amount
    totals_stmt = _filtered(
        select(Commitment.currency, func.count(), func.coalesce(func.sum(func.coalesce(amount_col, Commitment.amount)), 0)),
        owner_id, today, q, vendor_ids,
    ).group_by(Commitment.currency).order_by(Commitment.currency)
    totals = [BillTotals(cur, int(n), Decimal(str(total)).quantize(Decimal("0.01")))
              for cur, n, total in (await session.execute(totals_stmt)).all()]
    return BillResult(bills, totals, matched, sum(t.count for t in totals))


async def get_bill(session: AsyncSession, owner_id: str, bill_id: int) -> Commitment | None:
    return await session.scalar(
        select(Commitment).where(Commitment.owner_id == owner_id, Commitment.id == bill_id)
    )


async def mark_paid(session: AsyncSession, owner_id: str, bill_id: int, paid_on: date,
                    amount: Decimal | None = None) -> Commitment:
    bill = await get_bill(session, owner_id, bill_id)
    if bill is None:
        raise GraphError(f"there is no bill #{bill_id}")
    if bill.status == CommitmentStatus.cancelled.value:
        raise GraphError(f"bill #{bill_id} was cancelled; it cannot be paid")
    bill.status = CommitmentStatus.paid.value
    bill.paid_date = paid_on
    bill.paid_amount = amount if amount is not None else bill.amount
    await session.flush()
    return bill


@dataclass
class VendorSummary:
    id: int
    name: str
    category: str | None
    bills: int
    open_bills: int
    open_amounts: list[BillTotals]
    next_due: date | None


async def list_vendors(session: AsyncSession, owner_id: str) -> list[VendorSummary]:
    vendors = list((await session.scalars(
        select(Vendor).where(Vendor.owner_id == owner_id).order_by(Vendor.name)
    )).all())
    counts = dict((await session.execute(
        select(Commitment.vendor_id, func.count()).where(Commitment.owner_id == owner_id)
        .group_by(Commitment.vendor_id)
    )).all())
    open_rows = (await session.execute(
        select(Commitment.vendor_id, Commitment.currency, func.count(), func.sum(Commitment.amount),
               func.min(Commitment.due_date))
        .where(Commitment.owner_id == owner_id, Commitment.status == CommitmentStatus.due.value)
        .group_by(Commitment.vendor_id, Commitment.currency)
    )).all()
    opened: dict[int, list[tuple]] = {}
    for vendor_id, currency, n, total, next_due in open_rows:
        opened.setdefault(vendor_id, []).append((currency, int(n), Decimal(str(total)), next_due))
    result = []
    for v in vendors:
        rows = opened.get(v.id, [])
        dues = [r[3] for r in rows if r[3] is not None]
        result.append(VendorSummary(
            id=v.id, name=v.name, category=v.category, bills=int(counts.get(v.id, 0)),
            open_bills=sum(r[1] for r in rows),
            open_amounts=[BillTotals(r[0], r[1], r[2].quantize(Decimal("0.01"))) for r in rows],
            next_due=min(dues) if dues else None,
        ))
    return result
