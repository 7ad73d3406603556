"""vendor_profile: a vendor's documents, bills, totals, habits and anomalies."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.graph import queries
from assistant.toolkit import ToolContext, ToolError, tool
from tools._views import bill_view


class VendorProfileArgs(BaseModel):
    vendor: str = Field(..., min_length=1, max_length=200, description="the vendor (approximate spelling is fine)")


@tool(VendorProfileArgs)
async def vendor_profile(args: VendorProfileArgs, ctx: ToolContext) -> dict:
    """Everything about one vendor: its bills and documents, totals billed/paid/open per currency,
    average and last amount, the usual due day, how often it bills, and bills well above its usual
    amount (anomalies)."""
    async with ctx.transaction() as session:
        profile = await queries.vendor_profile(session, ctx.user_id, args.vendor)
        if profile is None:
            raise ToolError(f"I know no vendor called {args.vendor!r}")
        if isinstance(profile, list):
            return {"ambiguous": True, "candidates": [v.name for v in profile],
                    "hint": "ask the user which vendor they mean"}
        v = profile.vendor
        return {
            "vendor": {"id": v.id, "name": v.name, "category": v.category,
                       "aliases": sorted(a.alias for a in v.aliases)},
            "totals": [{"currency": c, "count": t["count"], "billed": str(t["billed"]), "paid": str(t["paid"]),
                        "open": str(t["open"])} for c, t in sorted(profile.totals.items())],
            "average": [{"currency": c, "amount": str(a)} for c, a in sorted(profile.average.items())],
            "last": bill_view(profile.last, ctx.today) if profile.last else None,
            "usual_due_day": profile.usual_due_day,
            "recurrence": profile.recurrence,
            "anomalies": [{"bill_id": a.bill.id, "amount": str(a.bill.amount), "currency": a.bill.currency,
                           "due_date": a.bill.due_date.isoformat() if a.bill.due_date else None,
                           "usual": str(a.median), "ratio": str(a.ratio)} for a in profile.anomalies],
            "bills": [bill_view(b, ctx.today) for b in profile.bills],
            "documents": [{"id": d.id, "filename": d.filename, "type": d.mime, "url": f"/documents/{d.id}",
                           "filed": d.created_at.date().isoformat() if d.created_at else None}
                          for d in profile.documents],
        }
