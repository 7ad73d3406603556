"""mark_paid: record that a bill was paid; a repeating commitment gets its next occurrence.

Asks first (`needs_confirmation`) unless the user's own words asked for it (tools/_confirm.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from assistant.graph import actions, bills
from assistant.money import format_money
from assistant.toolkit import ToolContext, ToolError, tool
from tools._confirm import ask_first, bill_target, may_proceed
from tools._views import bill_view


class MarkPaidArgs(BaseModel):
    bill_id: int | None = Field(None, description="the bill's id (from find_bills or add_bill)")
    vendor: str | None = Field(None, description="the vendor, when the user names no bill id")
    paid_date: date | None = Field(None, description="YYYY-MM-DD; today if not given")
    amount: Decimal | None = Field(None, ge=0, description="amount paid, if different from the bill")
    # Set by the app's Confirm button (not shown to the model: a model's `true` would not count anyway).
    confirmed: SkipJsonSchema[bool] = False

    @model_validator(mode="after")
    def _target(self):
        if self.bill_id is None and not self.vendor:
            raise ValueError("give bill_id or vendor")
        return self


@tool(MarkPaidArgs)
async def mark_paid(args: MarkPaidArgs, ctx: ToolContext) -> dict:
    """Mark one bill as paid, by id, or by vendor when that vendor has exactly one unpaid bill. When the
    user did not ask for it in their own words, nothing changes and the result asks for confirmation.
    Paying a repeating commitment creates its next occurrence."""
    paid_on = args.paid_date or ctx.today
    async with ctx.transaction() as session:
        try:
            bill = await actions.find_target(session, ctx.user_id, ctx.today, args.bill_id, args.vendor)
        except bills.GraphError as exc:
            raise ToolError(str(exc)) from exc
        if bill.status == "paid":
            return {"already_paid": True, "bill": bill_view(bill, ctx.today)}
        if bill.status == "cancelled":
            raise ToolError(f"bill #{bill.id} was cancelled; it cannot be paid")
        target = bill_target(bill, args.vendor)
        if not may_proceed(ctx, "mark_paid", target, args.confirmed):
            arguments = {"bill_id": bill.id, "paid_date": paid_on.isoformat()}
            shown = format_money(bill.amount, bill.currency)
            if args.amount is not None:
                arguments["amount"] = str(args.amount)
                shown += f", paying {format_money(args.amount, bill.currency)}"
            return ask_first("mark_paid", arguments,
                             f"Mark bill #{bill.id} from {bill.vendor.name} ({shown}) as paid on {paid_on.isoformat()}?")
        try:
            paid = await bills.mark_paid(session, ctx.user_id, bill.id, paid_on, args.amount)
        except bills.GraphError as exc:
            raise ToolError(str(exc)) from exc
        nxt = await actions.next_occurrence(session, ctx.user_id, paid, ctx.today)
        return {"already_paid": False, "bill": bill_view(paid, ctx.today),
                "next_bill": bill_view(nxt, ctx.today) if nxt is not None else None}
