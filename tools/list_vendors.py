"""list_vendors: who the user gets bills from, with what is still open."""

from __future__ import annotations

from pydantic import BaseModel

from assistant.graph import bills
from assistant.toolkit import ToolContext, tool
from tools._views import totals_view


class ListVendorsArgs(BaseModel):
    pass


@tool(ListVendorsArgs)
async def list_vendors(args: ListVendorsArgs, ctx: ToolContext) -> dict:
    """List the vendors the user has bills from, with bill counts, unpaid totals and next due date."""
    async with ctx.transaction() as session:
        vendors = await bills.list_vendors(session, ctx.user_id)
    return {"vendors": [
        {"id": v.id, "name": v.name, "category": v.category, "bills": v.bills,
         "open_bills": v.open_bills, "open_totals": totals_view(v.open_amounts),
         "next_due": v.next_due.isoformat() if v.next_due else None}
        for v in vendors
    ]}
