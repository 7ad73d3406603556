"""find_bills: the user's bills by vendor, status and date range, with exact totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

from assistant.graph import bills
from assistant.toolkit import ToolContext, tool
from tools._views import bill_view, totals_view


class FindBillsArgs(BaseModel):
    vendor: str | None = Field(None, description="vendor name (approximate spelling is fine)")
    status: bills.BillStatus = Field(
        "open",
        description="open = not yet paid (overdue included); due = unpaid and not yet late; "
        "overdue; paid; cancelled; any",
    )
    date_field: bills.DateField = Field(
        "due", description="which date the range applies to: due, paid or issued"
    )
    date_from: date | None = Field(None, description="first day of the range, YYYY-MM-DD")
    date_to: date | None = Field(None, description="last day of the range, YYYY-MM-DD")
    category: str | None = Field(None, description="vendor category: utilities, telecom, insurance, housing, "
                                 "subscriptions, health, transport, taxes, education, finance")
    amount_min: Decimal | None = Field(None, ge=0, description="only bills of at least this amount")
    amount_max: Decimal | None = Field(None, ge=0, description="only bills of at most this amount")
    text: str | None = Field(None, max_length=100, description="words in the bill's description or vendor name")
    sort: bills.SortField | None = Field(None, description="due_date (default), amount, vendor, issue_date, "
                                         "paid_date or priority")
    descending: bool = Field(False, description="largest / latest first")
    limit: int = Field(50, ge=1, le=200)

    @model_validator(mode="after")
    def _ordered(self):
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise ValueError("amount_min is above amount_max")
        return self


@tool(FindBillsArgs)
async def find_bills(args: FindBillsArgs, ctx: ToolContext) -> dict:
    """Find the user's bills and total them exactly, filtered by vendor, category, status, a date range
    (due, paid or issued), an amount range or words, sorted and limited. Use it for what is due (status
    open/due/overdue), and for lists of paid (status paid, date_field paid) or billed (status any,
    date_field issued) bills. Totals are per currency; quote them, never add up amounts yourself."""
    async with ctx.transaction() as session:
        result = await bills.find_bills(
            session, ctx.user_id, ctx.today,
            bills.BillQuery(vendor=args.vendor, status=args.status, date_field=args.date_field,
                            date_from=args.date_from, date_to=args.date_to, limit=args.limit,
                            category=args.category,
                            amount_min=args.amount_min, amount_max=args.amount_max, text=args.text,
                            sort=args.sort, descending=args.descending),
        )
        views = [bill_view(b, ctx.today) for b in result.bills]
    out = {
        "bills": views,
        "count": result.total_count,
        "shown": len(views),
        "totals": totals_view(result.totals),
        "today": ctx.today.isoformat(),
    }
    if args.vendor is not None:
        out["vendors_matched"] = result.vendors_matched
    return out
