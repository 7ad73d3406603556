"""upcoming: what is due in the next N days (and what is overdue), most urgent first."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from assistant.graph import queries
from assistant.graph.bills import BillTotals
from assistant.toolkit import ToolContext, tool
from tools._views import bill_view, totals_view


class UpcomingArgs(BaseModel):
    days: int = Field(14, ge=0, le=366, description="how many days ahead to look")


@tool(UpcomingArgs)
async def upcoming(args: UpcomingArgs, ctx: ToolContext) -> dict:
    """Unpaid bills due in the next `days` days, and overdue ones, most urgent first, each with its
    priority (0-100) and the reason (days to due date, overdue, amount, late-fee wording). Snoozed bills
    are left out until their snooze ends."""
    async with ctx.transaction() as session:
        found = await queries.upcoming(session, ctx.user_id, ctx.today, args.days)
        views = []
        for u in found:
            view = bill_view(u.bill, ctx.today)
            view.update(priority=str(u.priority), priority_reason=u.reason, days_left=u.days_left)
            views.append(view)
    totals = [BillTotals(c, sum(1 for u in found if u.bill.currency == c),
                         sum((u.bill.amount for u in found if u.bill.currency == c), Decimal("0.00")))
              for c in sorted({u.bill.currency for u in found})]
    return {"days": args.days, "today": ctx.today.isoformat(), "bills": views, "count": len(views),
            "overdue_count": sum(1 for u in found if u.overdue), "totals": totals_view(totals)}
