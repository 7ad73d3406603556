"""cancel: the user no longer owes a bill (a cancelled subscription, a bill sent in error).

Its status becomes cancelled; a repeating commitment's series ends (nothing further is created).
Refuses paid and cancelled bills. Asks first (`needs_confirmation`) unless the user's own words asked
for it (tools/_confirm.py).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from assistant.graph import actions
from assistant.graph.bills import GraphError
from assistant.money import format_money
from assistant.toolkit import ToolContext, ToolError, tool
from tools._confirm import ask_first, bill_target, may_proceed
from tools._views import bill_view


class CancelArgs(BaseModel):
    bill_id: int | None = Field(None, description="the bill's id")
    vendor: str | None = Field(None, description="the vendor, when the user names no bill id (it must have "
                                                 "exactly one unpaid bill)")
    reason: str | None = Field(None, max_length=300, description="why, in the user's words (kept with the bill)")
    confirmed: SkipJsonSchema[bool] = False  # set by the app's Confirm button, not by the model

    @model_validator(mode="after")
    def _target(self):
        if self.bill_id is None and not self.vendor:
            raise ValueError("give bill_id or vendor")
        return self


@tool(CancelArgs)
async def cancel(args: CancelArgs, ctx: ToolContext) -> dict:
    """Cancel an unpaid bill the user no longer owes (by id, or by vendor when it has exactly one unpaid
    bill); a repeating one stops repeating. When the user did not ask for it in their own words, nothing
    changes and the result asks for confirmation."""
    async with ctx.transaction() as session:
        try:
            bill = await actions.find_target(session, ctx.user_id, ctx.today, args.bill_id, args.vendor)
            actions.refuse_closed(bill, "cancelled")
            target = bill_target(bill, args.vendor)
            if not may_proceed(ctx, "cancel", target, args.confirmed):
                due = f", due {bill.due_date.isoformat()}" if bill.due_date else ""
                series = f" It repeats {bill.repeats}: no further one will be created." if bill.repeats else ""
                arguments = {"bill_id": bill.id, **({"reason": args.reason} if args.reason else {})}
                return ask_first("cancel", arguments,
                                 f"Cancel bill #{bill.id} from {bill.vendor.name} "
                                 f"({format_money(bill.amount, bill.currency)}{due})?{series}")
            bill = await actions.cancel(session, ctx.user_id, bill, args.reason)
        except GraphError as exc:
            raise ToolError(str(exc)) from exc
        view = bill_view(bill, ctx.today)
        view["repeats"] = bill.repeats
    return {"cancelled": True, "bill": view, "series_ended": bool(bill.repeats)}
