"""mark_paid: record that a bill was paid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

from assistant.graph import bills
from assistant.toolkit import ToolContext, ToolError, tool
from tools._views import bill_view


class MarkPaidArgs(BaseModel):
    bill_id: int | None = Field(None, description="the bill's id (from find_bills or add_bill)")
    vendor: str | None = Field(None, description="the vendor, when the user names no bill id")
    paid_date: date | None = Field(None, description="YYYY-MM-DD; today if not given")
    amount: Decimal | None = Field(None, ge=0, description="amount paid, if different from the bill")

    @model_validator(mode="after")
    def _target(self):
        if self.bill_id is None and not self.vendor:
            raise ValueError("give bill_id or vendor")
        return self


@tool(MarkPaidArgs)
async def mark_paid(args: MarkPaidArgs, ctx: ToolContext) -> dict:
    """Mark one bill as paid, by id, or by vendor when that vendor has exactly one unpaid bill."""
    paid_on = args.paid_date or ctx.today
    async with ctx.transaction() as session:
        bill_id = args.bill_id
        if bill_id is None:
            found = await bills.find_bills(session, ctx.user_id, ctx.today,
                                           bills.BillQuery(vendor=args.vendor, status="open"))
            if not found.vendors_matched:
                raise ToolError(f"I know no vendor called {args.vendor!r}")
            if not found.bills:
                raise ToolError(f"there is no unpaid bill from {', '.join(found.vendors_matched)}")
            if len(found.bills) > 1:
                listed = "; ".join(f"#{b.id} {b.vendor.name} {b.amount} {b.currency} due {b.due_date}"
                                   for b in found.bills)
                raise ToolError(f"several unpaid bills match, say which one: {listed}")
            bill_id = found.bills[0].id
        existing = await bills.get_bill(session, ctx.user_id, bill_id)
        if existing is not None and existing.status == "paid":
            return {"already_paid": True, "bill": bill_view(existing, ctx.today)}
        try:
            bill = await bills.mark_paid(session, ctx.user_id, bill_id, paid_on, args.amount)
        except bills.GraphError as exc:
            raise ToolError(str(exc)) from exc
        return {"already_paid": False, "bill": bill_view(bill, ctx.today)}
