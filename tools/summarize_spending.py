"""summarize_spending: totals and counts per vendor, category, month or year, against the period before."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, model_validator

from assistant.graph import queries
from assistant.toolkit import ToolContext, tool


class SummarizeSpendingArgs(BaseModel):
    group_by: queries.GroupBy = Field("month", description="vendor, category, month or year")
    basis: queries.Basis = Field("paid", description="paid = what was paid, by paid date; "
                                 "billed = what was billed, by issue date")
    date_from: date | None = Field(None, description="first day, YYYY-MM-DD (default: 1 January this year)")
    date_to: date | None = Field(None, description="last day, YYYY-MM-DD (default: today)")
    vendor: str | None = Field(None, description="only this vendor (approximate spelling is fine)")
    category: str | None = Field(None, description="only this category, e.g. utilities or insurance")

    @model_validator(mode="after")
    def _ordered(self):
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self


def _row(r: queries.SpendingRow) -> dict:
    pct = r.change_pct
    return {"key": r.key, "currency": r.currency, "count": r.count, "amount": str(r.amount),
            "previous_count": r.previous_count, "previous_amount": str(r.previous_amount),
            "change": str(r.change), "change_pct": str(pct) if pct is not None else None}


@tool(SummarizeSpendingArgs)
async def summarize_spending(args: SummarizeSpendingArgs, ctx: ToolContext) -> dict:
    """Spending totals and counts grouped by vendor, category, month or year over a period, each with
    the change against the period before (previous month, quarter or year, or the same number of days).
    Use it for "how much did I spend on X", "spending by month", "which vendor cost most"."""
    async with ctx.transaction() as session:
        result = await queries.summarize_spending(
            session, ctx.user_id, ctx.today, group_by=args.group_by, basis=args.basis, start=args.date_from,
            end=args.date_to, vendor=args.vendor,
            category=args.category)
    out = {"group_by": result.group_by, "basis": result.basis,
           "period": {"from": result.start.isoformat(), "to": result.end.isoformat()},
           "previous_period": {"from": result.previous_start.isoformat(), "to": result.previous_end.isoformat()},
           "groups": [_row(g) for g in result.groups], "totals": [_row(t) for t in result.totals]}
    if result.vendors_matched is not None:
        out["vendors_matched"] = result.vendors_matched
    return out
