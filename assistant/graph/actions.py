"""Changes the user asks for on commitments, and the bills of the calendar feed. Every function takes
the owner; every query is scoped to it.

Decisions:
- A commitment the user creates has no document. Its due date is given, or is the next given day of
  the month from today (today included), clamped to the month's last day (31 -> 30 Nov, 28/29 Feb).
- A repeating one (`repeats`: weekly, monthly, quarterly, yearly) keeps the day of the month it was
  set up for: "on the 31st" is due 30 Nov, then 31 Dec, 31 Jan, 28 Feb, 31 Mar. That day is kept in
  `recurrence` ("monthly on day 31"), which for a commitment the user set up is what it recurs on,
  not a guess; without it the due date's own day is used.
- When a repeating commitment is paid, the next occurrence (one period after this one's due date, not
  after the payment date: a late payment does not skip a month) is created, due, with the same vendor,
  amount, currency, description and repeat, unless it exists already (paying twice creates one).
- Cancelling ends the commitment, and a repeating one's series: nothing further is created. The
  reason, if given, is kept in the description.
- Snoozing sets `snoozed_until` only; it leaves the due date, status and priority alone.
- Targets by vendor: the vendor must have exactly one open (unpaid, not cancelled) bill.
- The calendar feed is every open bill with a due date up to N days ahead, overdue ones included
  (still owed), snoozed ones included (a snooze hides a bill from "upcoming", not its due date).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.graph.bills import BillQuery, GraphError, find_bills, get_bill, get_or_create_vendor
from assistant.graph.models import Commitment, CommitmentStatus, Vendor
from assistant.graph.priority import priority
from assistant.graph.queries import UpcomingBill, upcoming

REPEATS: tuple[str, ...] = ("weekly", "monthly", "quarterly", "yearly")
_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
_ANCHOR = re.compile(r"\bon day (\d{1,2})\b")


# ----------------------------------------------------------------------------------------------
# dates


def clamped(year: int, month: int, day: int) -> date:
    """`day` of that month, or the month's last day when it is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def next_day_of_month(today: date, day: int) -> date:
    """The next `day` of a month from `today` (today included), clamped to the month's last day."""
    if not 1 <= day <= 31:
        raise GraphError("a day of the month is 1 to 31")
    this_month = clamped(today.year, today.month, day)
    if this_month >= today:
        return this_month
    month = today.month % 12 + 1
    return clamped(today.year + (today.month == 12), month, day)


def following(due: date, repeats: str, anchor: int | None = None) -> date:
    """The due date one period after `due`; months keep the `anchor` day (clamped)."""
    if repeats == "weekly":
        return due + timedelta(days=7)
    if repeats not in _MONTHS:
        raise GraphError(f"unknown repeat {repeats!r}")
    index = due.year * 12 + due.month - 1 + _MONTHS[repeats]
    return clamped(index // 12, index % 12 + 1, anchor or due.day)


def series_label(repeats: str | None, anchor: int | None) -> str | None:
    """What `recurrence` says for a commitment the user set up: "monthly on day 31", "weekly"."""
    if repeats is None:
        return None
    return repeats if repeats == "weekly" or anchor is None else f"{repeats} on day {anchor}"


def anchor_day(bill: Commitment) -> int | None:
    found = _ANCHOR.search(bill.recurrence or "")
    if found:
        return int(found.group(1))
    return bill.due_date.day if bill.due_date else None


# ----------------------------------------------------------------------------------------------
# which bill


async def find_target(session: AsyncSession, owner_id: str, today: date, bill_id: int | None,
                      vendor: str | None) -> Commitment:
    """The bill by id (any status: the caller says what it refuses), or the vendor's one open bill."""
    if bill_id is not None:
        bill = await get_bill(session, owner_id, bill_id)
        if bill is None:
            raise GraphError(f"there is no bill #{bill_id}")
        return bill
    if not vendor:
        raise GraphError("say which bill: its number or its vendor")
    found = await find_bills(session, owner_id, today, BillQuery(vendor=vendor, status="open"))
    if not found.vendors_matched:
        raise GraphError(f"I know no vendor called {vendor!r}")
    if not found.bills:
        raise GraphError(f"there is no unpaid bill from {', '.join(found.vendors_matched)}")
    if len(found.bills) > 1:
        listed = "; ".join(f"#{b.id} {b.vendor.name} {b.amount} {b.currency} due {b.due_date}" for b in found.bills)
        raise GraphError(f"several unpaid bills match, say which one: {listed}")
    return found.bills[0]


def refuse_closed(bill: Commitment, doing: str) -> None:
    """A paid or cancelled bill cannot be snoozed or cancelled: say so plainly."""
    if bill.status == CommitmentStatus.paid.value:
        when = f" on {bill.paid_date.isoformat()}" if bill.paid_date else ""
        raise GraphError(f"bill #{bill.id} from {bill.vendor.name} was already paid{when}; only an unpaid bill "
                         f"can be {doing}")
    if bill.status == CommitmentStatus.cancelled.value:
        raise GraphError(f"bill #{bill.id} from {bill.vendor.name} was cancelled; only an unpaid bill can be {doing}")


# ----------------------------------------------------------------------------------------------
# changes


@dataclass
class NewCommitment:
    amount: Decimal
    currency: str
    due_date: date
    repeats: str | None = None
    anchor: int | None = None  # the day of the month a repeating one keeps (day_of_month, else the due day)
    description: str | None = None


async def create_commitment(session: AsyncSession, owner_id: str, vendor_name: str, new: NewCommitment,
                            today: date, vendor: Vendor | None = None) -> Commitment:
    """A commitment with no document, priced like a filed bill; `vendor` when resolved, else created."""
    if new.amount < 0:
        raise GraphError("an amount owed cannot be negative")
    if new.repeats is not None and new.repeats not in REPEATS:
        raise GraphError(f"repeats is one of {', '.join(REPEATS)}")
    vendor = vendor or await get_or_create_vendor(session, owner_id, vendor_name, new.description or "")
    anchor = (new.anchor or new.due_date.day) if new.repeats in _MONTHS else None
    score, reason = priority(new.amount, new.currency, new.due_date, today, new.description or "")
    commitment = Commitment(
        owner_id=owner_id, vendor_id=vendor.id, document_id=None, description=new.description,
        amount=new.amount, currency=new.currency, due_date=new.due_date, status=CommitmentStatus.due.value,
        priority=score, priority_reason=reason, repeats=new.repeats,
        recurrence=series_label(new.repeats, anchor))
    session.add(commitment)
    await session.flush()
    await session.refresh(commitment, ["vendor"])
    return commitment


async def next_occurrence(session: AsyncSession, owner_id: str, bill: Commitment, today: date) -> Commitment | None:
    """After `bill` (repeating, with a due date) was paid: its next occurrence, created unless it
    exists already. None for a bill that does not repeat."""
    if not bill.repeats or bill.due_date is None or bill.owner_id != owner_id:
        return None
    due = following(bill.due_date, bill.repeats, anchor_day(bill))
    existing = await session.scalar(select(Commitment).where(
        Commitment.owner_id == owner_id, Commitment.vendor_id == bill.vendor_id,
        Commitment.repeats == bill.repeats, Commitment.due_date == due, Commitment.id != bill.id).limit(1))
    if existing is not None:
        return None
    score, reason = priority(bill.amount, bill.currency, due, today, bill.description or "")
    nxt = Commitment(
        owner_id=owner_id, vendor_id=bill.vendor_id, document_id=None, description=bill.description,
        amount=bill.amount, currency=bill.currency, due_date=due, status=CommitmentStatus.due.value,
        priority=score, priority_reason=reason, repeats=bill.repeats, recurrence=bill.recurrence)
    session.add(nxt)
    await session.flush()
    await session.refresh(nxt, ["vendor"])
    return nxt


async def snooze(session: AsyncSession, owner_id: str, bill: Commitment, until: date, today: date) -> Commitment:
    if bill.owner_id != owner_id:
        raise GraphError(f"there is no bill #{bill.id}")
    refuse_closed(bill, "snoozed")
    if until <= today:
        raise GraphError(f"a snooze must end after today ({today.isoformat()})")
    bill.snoozed_until = until
    await session.flush()
    return bill


async def cancel(session: AsyncSession, owner_id: str, bill: Commitment, reason: str | None = None) -> Commitment:
    if bill.owner_id != owner_id:
        raise GraphError(f"there is no bill #{bill.id}")
    refuse_closed(bill, "cancelled")
    bill.status = CommitmentStatus.cancelled.value
    bill.snoozed_until = None
    if reason and reason.strip():
        note = f"cancelled: {reason.strip()}"
        bill.description = f"{bill.description}; {note}" if bill.description else note
    await session.flush()
    return bill


# ----------------------------------------------------------------------------------------------
# calendar


async def calendar_bills(session: AsyncSession, owner_id: str, today: date, days: int = 90) -> list[UpcomingBill]:
    """Open bills due up to `days` ahead, overdue and snoozed ones included (a snooze hides a bill from
    "upcoming", not its due date), by due date."""
    found = await upcoming(session, owner_id, today, days, limit=None, include_snoozed=True)
    return sorted(found, key=lambda u: (u.bill.due_date, u.bill.id))
