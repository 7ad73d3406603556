"""Questions about bills, answered exactly from the database: spending summaries, what is coming up,
a vendor's profile. Every function takes the owner; every sum is done by the database or in
`Decimal`, never by a model.

Decisions:
- Spending "paid" counts paid bills by their paid date and the amount paid; "billed" counts every
  bill that was not cancelled by its issue date (its due date when it has none) and the amount billed.
- The period compared against is the one just before, of the same kind: a calendar month against the
  month before, a quarter against the quarter before, a year against the year before, any other range
  against the same number of days just before it.
- "Upcoming" is every unpaid bill due within the next N days, and every overdue one, except those
  snoozed past today; sorted by priority, recomputed for today (a stored priority ages).
- An anomaly is a bill at least 1.5 times the median of the same vendor's other bills in its currency
  (with at least three others to compare with).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.graph.bills import match_vendors
from assistant.graph.categories import canonical
from assistant.graph.models import Commitment, CommitmentStatus, Document, Vendor
from assistant.graph.priority import priority_today, recurrence

GroupBy = Literal["vendor", "category", "month", "year"]
Basis = Literal["paid", "billed"]
CENT = Decimal("0.01")
ANOMALY_RATIO = Decimal("1.5")
ANOMALY_MIN_HISTORY = 3
UNCATEGORISED = "uncategorised"


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


# ----------------------------------------------------------------------------------------------
# periods


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period just before [start, end], of the same kind (month, quarter, year, else same length)."""
    def month_start(d: date, back: int) -> date:
        m = d.year * 12 + d.month - 1 - back
        return date(m // 12, m % 12 + 1, 1)

    next_day = end + timedelta(days=1)
    if start.day == 1 and next_day.day == 1:
        months = (next_day.year * 12 + next_day.month) - (start.year * 12 + start.month)
        if months in (1, 3, 6, 12) or months % 12 == 0:
            return month_start(start, months), start - timedelta(days=1)
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


# ----------------------------------------------------------------------------------------------
# summarize_spending


@dataclass
class SpendingRow:
    key: str
    currency: str
    count: int
    amount: Decimal
    previous_amount: Decimal
    previous_count: int

    @property
    def change(self) -> Decimal:
        return self.amount - self.previous_amount

    @property
    def change_pct(self) -> Decimal | None:
        if not self.previous_amount:
            return None
        return (self.change * 100 / self.previous_amount).quantize(Decimal("0.1"))


@dataclass
class Spending:
    group_by: GroupBy
    basis: Basis
    start: date
    end: date
    previous_start: date
    previous_end: date
    groups: list[SpendingRow]
    totals: list[SpendingRow]
    vendors_matched: list[str] | None = None


def _spending_columns(basis: Basis):
    if basis == "paid":
        return Commitment.paid_date, func.coalesce(Commitment.paid_amount, Commitment.amount), \
            Commitment.status == CommitmentStatus.paid.value
    return func.coalesce(Commitment.issue_date, Commitment.due_date), Commitment.amount, \
        Commitment.status != CommitmentStatus.cancelled.value


Groups = dict[tuple[str, str], tuple[int, Decimal]]  # (key, currency) -> (count, amount)


async def _grouped(session: AsyncSession, owner_id: str, basis: Basis, group_by: GroupBy, start: date, end: date,
                   previous_start: date, vendor_ids: list[int] | None, category: str | None) -> tuple[Groups, Groups]:
    """Counts and amounts per group and currency over [start, end], and over the period before it,
    [previous_start, start - 1 day], in one query."""
    day, amount, status = _spending_columns(basis)
    # Two steps, for speed (a year of a busy user's bills is tens of thousands of rows): the bills are
    # first counted and summed per vendor (or per day) and currency, from the commitments alone (an
    # index covers them); vendors are joined, and days turned into months or years, on those rows.
    # Per vendor, the two periods are counted side by side (FILTER); per day, a day is in one of them.
    by_vendor = group_by in ("vendor", "category")
    current = day >= start
    inner_key = Commitment.vendor_id if by_vendor else day
    if by_vendor:
        sums_of = [func.count().filter(current), func.sum(amount).filter(current),
                   func.count().filter(~current), func.sum(amount).filter(~current)]
    else:
        sums_of = [func.count(), func.sum(amount)]
    inner = (select(inner_key.label("k"), Commitment.currency.label("currency"),
                    *(f.label(f"s{i}") for i, f in enumerate(sums_of)))
             .where(Commitment.owner_id == owner_id, status, day >= previous_start, day <= end)
             .group_by(inner_key, Commitment.currency))
    if vendor_ids is not None:
        inner = inner.where(Commitment.vendor_id.in_(vendor_ids))
    if category is not None:
        inner = inner.where(Commitment.vendor_id.in_(
            select(Vendor.id).where(Vendor.owner_id == owner_id, Vendor.category == canonical(category))))
    sums = inner.subquery()
    if group_by == "vendor":
        keys = [Vendor.name]
    elif group_by == "category":
        keys = [func.coalesce(Vendor.category, UNCATEGORISED)]
    elif group_by == "month":
        keys = [extract("year", sums.c.k), extract("month", sums.c.k), sums.c.k >= start]
    else:
        keys = [extract("year", sums.c.k), sums.c.k >= start]
    totals = [func.sum(sums.c[f"s{i}"]) for i in range(len(sums_of))]
    stmt = select(*keys, sums.c.currency, *totals).select_from(sums)
    if by_vendor:
        stmt = stmt.join(Vendor, Vendor.id == sums.c.k)
    stmt = stmt.group_by(*keys, sums.c.currency)
    now: Groups = {}
    before: Groups = {}
    # plain rows, not through the ORM: per vendor, there are thousands
    for row in (await (await session.connection()).execute(stmt)).all():
        if by_vendor:
            name, currency, n, total, n_before, total_before = row
            key = str(name)
            if n:
                now[(key, currency)] = (int(n), _money(total))
            if n_before:
                before[(key, currency)] = (int(n_before), _money(total_before))
            continue
        if group_by == "month":
            year, month, is_current, currency, n, total = row
            key = f"{int(year):04d}-{int(month):02d}"
        else:
            year, is_current, currency, n, total = row
            key = f"{int(year):04d}"
        (now if is_current else before)[(key, currency)] = (int(n), _money(total))
    return now, before


def _shift_key(key: str, group_by: GroupBy, start: date, previous_start: date) -> str:
    """A previous-period month/year key as the key of the same position in the current period."""
    if group_by == "year":
        return f"{int(key) + (start.year - previous_start.year):04d}"
    if group_by == "month":
        months = (start.year * 12 + start.month) - (previous_start.year * 12 + previous_start.month)
        y, m = int(key[:4]), int(key[5:])
        n = y * 12 + m - 1 + months
        return f"{n // 12:04d}-{n % 12 + 1:02d}"
    return key


async def summarize_spending(session: AsyncSession, owner_id: str, today: date, *, group_by: GroupBy = "month",
                             basis: Basis = "paid", start: date | None = None, end: date | None = None,
                             vendor: str | None = None, category: str | None = None) -> Spending:
    start = start or date(today.year, 1, 1)
    end = end or today
    prev_start, prev_end = previous_period(start, end)
    vendor_ids, matched = None, None
    if vendor:
        vendors = await match_vendors(session, owner_id, vendor)
        vendor_ids, matched = [v.id for v in vendors], [v.name for v in vendors]
    assert prev_end == start - timedelta(days=1)  # the two periods meet: one query reads both
    now, before = await _grouped(session, owner_id, basis, group_by, start, end, prev_start, vendor_ids, category)
    before_shifted: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for (key, currency), value in before.items():
        before_shifted[(_shift_key(key, group_by, start, prev_start), currency)] = value
    keys = set(now) | ({k for k in before_shifted} if group_by in ("vendor", "category") else set())
    groups = [SpendingRow(key, currency, *now.get((key, currency), (0, Decimal("0.00"))),
                          previous_amount=before_shifted.get((key, currency), (0, Decimal("0.00")))[1],
                          previous_count=before_shifted.get((key, currency), (0, Decimal("0.00")))[0])
              for key, currency in keys]
    if group_by in ("month", "year"):
        groups.sort(key=lambda r: (r.key, r.currency))
    else:
        groups.sort(key=lambda r: (-r.amount, -r.previous_amount, r.key, r.currency))
    totals = []
    for currency in sorted({c for _, c in now} | {c for _, c in before}):
        totals.append(SpendingRow(
            "total", currency,
            sum(n for (_, c), (n, _) in now.items() if c == currency),
            sum((a for (_, c), (_, a) in now.items() if c == currency), Decimal("0.00")),
            previous_amount=sum((a for (_, c), (_, a) in before.items() if c == currency), Decimal("0.00")),
            previous_count=sum(n for (_, c), (n, _) in before.items() if c == currency)))
    return Spending(group_by, basis, start, end, prev_start, prev_end, groups, totals, matched)


# ----------------------------------------------------------------------------------------------
# upcoming


@dataclass
class UpcomingBill:
    bill: Commitment
    priority: Decimal
    reason: str
    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


async def upcoming(session: AsyncSession, owner_id: str, today: date, days: int = 14, limit: int | None = 100,
                   include_snoozed: bool = False) -> list[UpcomingBill]:
    """Unpaid bills due within `days` (overdue ones included), most urgent first. `include_snoozed`:
    snoozed bills too (the calendar keeps their due dates)."""
    stmt = (select(Commitment)
            .where(Commitment.owner_id == owner_id, Commitment.status == CommitmentStatus.due.value,
                   Commitment.due_date.is_not(None), Commitment.due_date <= today + timedelta(days=days))
            .order_by(Commitment.due_date, Commitment.id).limit(limit))
    if not include_snoozed:
        stmt = stmt.where(or_(Commitment.snoozed_until.is_(None), Commitment.snoozed_until <= today))
    out = [UpcomingBill(bill, *priority_today(bill, today), (bill.due_date - today).days)
           for bill in (await session.scalars(stmt)).all()]
    out.sort(key=lambda u: (-u.priority, u.bill.due_date, u.bill.id))
    return out


# ----------------------------------------------------------------------------------------------
# vendor_profile


@dataclass
class Anomaly:
    bill: Commitment
    median: Decimal
    ratio: Decimal


@dataclass
class VendorProfile:
    vendor: Vendor
    bills: list[Commitment]  # newest first (by due/issue date)
    documents: list[Document]
    totals: dict[str, dict[str, Decimal | int]]  # currency -> billed, paid, open, count
    average: dict[str, Decimal]
    last: Commitment | None
    usual_due_day: int | None
    recurrence: str | None
    anomalies: list[Anomaly] = field(default_factory=list)


async def vendor_profile(session: AsyncSession, owner_id: str, name: str,
                         recent: int = 12) -> VendorProfile | list[Vendor] | None:
    """The profile of the one vendor `name` means; the candidates when it could mean several; None
    when it means none."""
    vendors = await match_vendors(session, owner_id, name)
    if not vendors:
        return None
    if len(vendors) > 1:
        return vendors
    vendor = vendors[0]
    bills = list((await session.scalars(
        select(Commitment).where(Commitment.owner_id == owner_id, Commitment.vendor_id == vendor.id)
        .order_by(func.coalesce(Commitment.due_date, Commitment.issue_date).desc(), Commitment.id.desc()))).all())
    documents = list((await session.scalars(
        select(Document).where(Document.owner_id == owner_id, Document.vendor_id == vendor.id)
        .order_by(Document.id.desc()).limit(recent))).all())
    live = [b for b in bills if b.status != CommitmentStatus.cancelled.value]
    totals: dict[str, dict[str, Decimal | int]] = {}
    for b in live:
        t = totals.setdefault(b.currency, {"count": 0, "billed": Decimal("0.00"), "paid": Decimal("0.00"),
                                           "open": Decimal("0.00")})
        t["count"] += 1
        t["billed"] += b.amount
        if b.status == CommitmentStatus.paid.value:
            t["paid"] += b.paid_amount if b.paid_amount is not None else b.amount
        else:
            t["open"] += b.amount
    average = {c: (t["billed"] / t["count"]).quantize(CENT) for c, t in totals.items() if t["count"]}
    due_days = Counter(b.due_date.day for b in live if b.due_date)
    usual = due_days.most_common(1)[0][0] if due_days and due_days.most_common(1)[0][1] >= 2 else None
    dates = [d for b in live if (d := b.due_date or b.issue_date)]
    return VendorProfile(vendor, bills[:recent], documents, totals, average, live[0] if live else None, usual,
                         recurrence(dates), _anomalies(live))


def _anomalies(bills: list[Commitment]) -> list[Anomaly]:
    # Each bill against the median of the same currency's other bills. That median is read from the
    # currency's amounts sorted once, skipping one occurrence of the bill's own amount (which one does
    # not matter: equal amounts), rather than sorting the others again for every bill (quadratic: a
    # vendor with thousands of bills took seconds).
    amounts: dict[str, list[Decimal]] = {}
    for bill in bills:
        amounts.setdefault(bill.currency, []).append(bill.amount)
    for values in amounts.values():
        values.sort()
    found = []
    for bill in bills:
        ordered = amounts[bill.currency]
        n = len(ordered) - 1  # the others
        if n < ANOMALY_MIN_HISTORY:
            continue
        own = bisect.bisect_left(ordered, bill.amount)

        def other(i: int) -> Decimal:
            return ordered[i if i < own else i + 1]

        middle = other(n // 2) if n % 2 else (other(n // 2 - 1) + other(n // 2)) / 2  # as statistics.median
        median = Decimal(str(middle)).quantize(CENT)
        if median > 0 and bill.amount >= median * ANOMALY_RATIO:
            found.append(Anomaly(bill, median, (bill.amount / median).quantize(Decimal("0.01"))))
    return found
