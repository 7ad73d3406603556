"""create_commitment: record something the user owes that came with no document ("rent 1,200 due on
the 1st every month"), one-off or repeating.

The vendor is resolved like a filed bill's (name, alias, fuzzy match; an ambiguous name is asked
about; an unknown one becomes a new vendor). Asks first (`needs_confirmation`) unless the user's own
words asked for it (tools/_confirm.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from assistant.graph import actions
from assistant.graph.bills import GraphError
from assistant.graph.models import MONEY_LIMIT
from assistant.graph.resolve import resolve_vendor
from assistant.money import format_money
from assistant.toolkit import ToolContext, ToolError, tool
from tools._confirm import Target, ask_first, may_proceed
from tools._views import bill_view

class CreateCommitmentArgs(BaseModel):
    vendor: str = Field(..., min_length=1, max_length=200, description="who is paid (landlord, gym, a person)")
    amount: Decimal = Field(..., ge=0, lt=MONEY_LIMIT, description="the amount owed each time")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217 code; default: the user's")
    due_date: date | None = Field(None, description="YYYY-MM-DD: the (first) due date")
    day_of_month: int | None = Field(None, ge=1, le=31, description="instead of due_date: due on this day of "
                                     "the month (the next one from today; 31 = the month's last day when shorter)")
    repeats: Literal["none", "weekly", "monthly", "quarterly", "yearly"] = Field(
        "none", description="none for a one-off; otherwise the next one is created when one is paid")
    description: str | None = Field(None, max_length=500, description="what it is for, e.g. 'Rent'")
    confirmed: SkipJsonSchema[bool] = False  # set by the app's Confirm button, not by the model

    @model_validator(mode="after")
    def _when(self):
        if (self.due_date is None) == (self.day_of_month is None):
            raise ValueError("give due_date or day_of_month (one of them)")
        return self


def _summary(vendor: str, args: CreateCommitmentArgs, currency: str, due: date) -> str:
    money = format_money(args.amount, currency)
    if args.repeats == "none":
        return f"Add a bill from {vendor}: {money}, due {due.isoformat()}?"
    return f"Add a {args.repeats} bill from {vendor}: {money}, first due {due.isoformat()}?"


@tool(CreateCommitmentArgs)
async def create_commitment(args: CreateCommitmentArgs, ctx: ToolContext) -> dict:
    """Record a bill or commitment the user tells you about that has no document: who, how much, when
    (due_date, or day_of_month for "on the 1st"), and whether it repeats. Not for pasted or attached
    bills (use add_bill). When the user did not ask for it in their own words, nothing is saved and the
    result asks for confirmation."""
    currency = (args.currency or ctx.settings.default_currency).upper()
    try:
        due = args.due_date or actions.next_day_of_month(ctx.today, args.day_of_month)
    except GraphError as exc:
        raise ToolError(str(exc)) from exc
    repeats = None if args.repeats == "none" else args.repeats
    async with ctx.transaction() as session:
        resolution = await resolve_vendor(session, ctx.user_id, args.vendor)
        if resolution.how == "ambiguous":
            return {"created": False, "needs_vendor": True, "name_given": args.vendor,
                    "candidates": [v.name for v, _ in resolution.candidates],
                    "hint": "ask the user which vendor it is, then call create_commitment again with that vendor"}
        vendor_name = resolution.vendor.name if resolution.vendor else args.vendor.strip()
        target = Target(names=[args.vendor, vendor_name, args.description or ""], amount=args.amount)
        if not may_proceed(ctx, "create_commitment", target, args.confirmed):
            arguments = args.model_dump(mode="json", exclude={"confirmed"}, exclude_none=True)
            arguments["currency"] = currency
            return ask_first("create_commitment", arguments, _summary(vendor_name, args, currency, due))
        try:
            bill = await actions.create_commitment(
                session, ctx.user_id, vendor_name,
                actions.NewCommitment(amount=args.amount, currency=currency, due_date=due, repeats=repeats,
                                      anchor=args.day_of_month, description=args.description),
                ctx.today, vendor=resolution.vendor)
        except GraphError as exc:
            raise ToolError(str(exc)) from exc
        view = bill_view(bill, ctx.today)
        view.update(priority=str(bill.priority), priority_reason=bill.priority_reason, repeats=bill.repeats,
                    recurrence=bill.recurrence)
    return {"created": True, "bill": view, "vendor_match": resolution.how}
