"""snooze: leave an unpaid bill out of "what's coming up" until a date ("remind me next week").

Sets `snoozed_until` only: the due date, status and priority stay. Refuses paid and cancelled bills.
Asks first (`needs_confirmation`) unless the user's own words asked for it (tools/_confirm.py).
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from assistant.graph import actions
from assistant.graph.bills import GraphError
from assistant.money import format_money
from assistant.toolkit import ToolContext, ToolError, tool
from tools._confirm import ask_first, bill_target, may_proceed
from tools._views import bill_view


class SnoozeArgs(BaseModel):
    bill_id: int | None = Field(None, description="the bill's id")
    vendor: str | None = Field(None, description="the vendor, when the user names no bill id (it must have "
                                                 "exactly one unpaid bill)")
    until: date | None = Field(None, description="YYYY-MM-DD: hidden until this day (it shows again then)")
    days: int | None = Field(None, ge=1, le=366, description="instead of until: this many days from today")
    confirmed: SkipJsonSchema[bool] = False  # set by the app's Confirm button, not by the model

    @model_validator(mode="after")
    def _check(self):
        if self.bill_id is None and not self.vendor:
            raise ValueError("give bill_id or vendor")
        if (self.until is None) == (self.days is None):
            raise ValueError("give until or days (one of them)")
        return self


def _bill(bill) -> str:
    due = f", due {bill.due_date.isoformat()}" if bill.due_date else ""
    return f"bill #{bill.id} from {bill.vendor.name} ({format_money(bill.amount, bill.currency)}{due})"


@tool(SnoozeArgs)
async def snooze(args: SnoozeArgs, ctx: ToolContext) -> dict:
    """Snooze an unpaid bill: it is left out of upcoming bills until the given day (until) or for a
    number of days. Its due date does not change. When the user did not ask for it in their own words,
    nothing changes and the result asks for confirmation."""
    until = args.until or ctx.today + timedelta(days=args.days)
    async with ctx.transaction() as session:
        try:
            bill = await actions.find_target(session, ctx.user_id, ctx.today, args.bill_id, args.vendor)
            actions.refuse_closed(bill, "snoozed")
            if until <= ctx.today:
                raise GraphError(f"a snooze must end after today ({ctx.today.isoformat()})")
            target = bill_target(bill, args.vendor)
            if not may_proceed(ctx, "snooze", target, args.confirmed):
                return ask_first("snooze", {"bill_id": bill.id, "until": until.isoformat()},
                                 f"Snooze {_bill(bill)} until {until.isoformat()}?")
            bill = await actions.snooze(session, ctx.user_id, bill, until, ctx.today)
        except GraphError as exc:
            raise ToolError(str(exc)) from exc
        view = bill_view(bill, ctx.today)
        view["snoozed_until"] = until.isoformat()
    return {"snoozed": True, "until": until.isoformat(), "bill": view}
