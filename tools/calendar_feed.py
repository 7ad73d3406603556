"""calendar_feed: a link to download the user's bills as a calendar file (.ics)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.calendar import DEFAULT_DAYS
from assistant.graph.actions import calendar_bills
from assistant.toolkit import ToolContext, tool


class CalendarFeedArgs(BaseModel):
    days: int = Field(DEFAULT_DAYS, ge=1, le=366, description="how many days ahead (overdue bills are always in)")


@tool(CalendarFeedArgs)
async def calendar_feed(args: CalendarFeedArgs, ctx: ToolContext) -> dict:
    """Give the user a link to their unpaid bills' due dates as a calendar file (.ics) to import into
    their calendar app: one all-day event per bill due in the next `days` days, overdue ones included."""
    async with ctx.transaction() as session:
        events = len(await calendar_bills(session, ctx.user_id, ctx.today, args.days))
    url = "/calendar.ics" if args.days == DEFAULT_DAYS else f"/calendar.ics?days={args.days}"
    return {"url": url, "events": events, "days": args.days, "filename": "bills.ics"}
