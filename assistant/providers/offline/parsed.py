"""What a request was read as (`Intent`, with its `Slots`), and the tool calls that answer it.

Decisions (which tool for which question):
- How much was paid to / billed by ONE vendor ("how much did I pay Pacific Power this year") ->
  find_bills (paid by paid date, or billed by issue date): the total and the bills behind it.
- Totals across vendors, a category, grouping or a comparison ("how much did I spend last month",
  "utilities per month", "which vendor cost most", "compare to last month") -> summarize_spending.
- Lists (due, overdue, paid, cancelled, filtered by amount, category, sorted) -> find_bills.
- "What's coming up", "what should I pay first", a bare "next 10 days" -> upcoming.
- Anything about one vendor as such ("tell me about", "usually", "anything unusual") -> vendor_profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from assistant.providers.offline.periods import Period
from assistant.providers.offline.words import Sort, plain_number

QUERY_KINDS = ("bills", "spent", "spending", "upcoming", "profile")


@dataclass
class Slots:
    period: Period | None = None
    vendor: str | None = None
    category: str | None = None
    status: str | None = None  # find_bills: open | overdue | paid | cancelled | any
    date_field: str | None = None  # find_bills: due (default) | paid | issued
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    sort: Sort = field(default_factory=Sort)
    text: str | None = None  # an invoice number or other words on the bill
    group_by: str | None = None  # summarize_spending
    basis: str = "paid"  # paid | billed
    days: int | None = None  # upcoming
    top: bool = False  # "which vendor cost the most"
    first: bool = False  # "what should I pay first"
    compare: bool = False  # "how does this month compare to last month"

    def with_(self, **changes: Any) -> Slots:
        return replace(self, **changes)


@dataclass
class Intent:
    kind: str  # bills | spent | spending | upcoming | profile | vendors | ai_usage | search | add_bill |
    #            mark_paid | snooze | cancel | create | calendar | which_bill | when_due | greeting | help
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    slots: Slots = field(default_factory=Slots)
    mode: str | None = None  # bills: the status asked for; spent: paid | billed
    follow_up: bool = False

    @property
    def period(self) -> Period | None:
        return self.slots.period

    @property
    def vendor(self) -> str | None:
        return self.slots.vendor


def _dates(args: dict[str, Any], period: Period | None) -> None:
    if period is not None:
        if period.start is not None:
            args["date_from"] = period.start.isoformat()
        if period.end is not None:
            args["date_to"] = period.end.isoformat()


def build(kind: str, slots: Slots, today: date) -> Intent:
    """The intent of `kind` for these slots, with its tool calls."""
    if kind in ("spent", "spending"):
        kind = "spent" if slots.vendor and not (slots.group_by or slots.compare or slots.top) else "spending"
    if kind == "upcoming" and (slots.vendor or slots.category):
        kind = "bills"
    if kind == "profile" and not slots.vendor:
        kind = "bills"
    if kind == "bills":
        return _bills(slots, today)
    if kind == "spent":
        billed = slots.basis == "billed"
        args: dict[str, Any] = {"status": "any" if billed else "paid", "date_field": "issued" if billed else "paid",
                                "vendor": slots.vendor}
        _dates(args, slots.period)
        return Intent("spent", [("find_bills", args)], slots, mode="billed" if billed else "paid")
    if kind == "spending":
        args = {"group_by": slots.group_by or "vendor"}
        if slots.basis == "billed":
            args["basis"] = "billed"
        _dates(args, slots.period)
        if slots.vendor:
            args["vendor"] = slots.vendor
        if slots.category:
            args["category"] = slots.category
        return Intent("spending", [("summarize_spending", args)], slots, mode=slots.basis)
    if kind == "upcoming":
        days = slots.days
        if days is None and slots.period is not None and slots.period.end is not None:
            days = max(0, (slots.period.end - today).days)
        return Intent("upcoming", [("upcoming", {"days": days if days is not None else 14})], slots)
    if kind == "profile":
        return Intent("profile", [("vendor_profile", {"vendor": slots.vendor})], slots)
    raise ValueError(kind)


def _bills(slots: Slots, today: date) -> Intent:
    status = slots.status or "open"
    args: dict[str, Any] = {"status": status}
    date_field = slots.date_field or ("paid" if status == "paid" else "due")
    if date_field != "due":
        args["date_field"] = date_field
    if slots.vendor:
        args["vendor"] = slots.vendor
    if slots.category:
        args["category"] = slots.category
    if slots.status != "overdue":  # overdue is overdue whatever period was named
        _dates(args, slots.period)
    if slots.amount_min is not None:
        args["amount_min"] = plain_number(slots.amount_min)
    if slots.amount_max is not None:
        args["amount_max"] = plain_number(slots.amount_max)
    if slots.text:
        args["text"] = slots.text
    sort = slots.sort
    if sort.field == "latest":
        args["sort"] = "paid_date" if status == "paid" else "issue_date"
        args["descending"] = True
    elif sort.field:
        args["sort"] = sort.field
        if sort.descending:
            args["descending"] = True
    if sort.limit:
        args["limit"] = sort.limit
    return Intent("bills", [("find_bills", args)], slots, mode=status)
