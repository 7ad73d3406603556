"""How graph rows look in tool results: small, JSON-able, money as exact strings."""

from __future__ import annotations

from datetime import date
from typing import Any

from assistant.graph.bills import BillTotals
from assistant.graph.models import Commitment


def bill_status(bill: Commitment, today: date) -> str:
    if bill.status == "due" and bill.due_date is not None and bill.due_date < today:
        return "overdue"
    return bill.status


def bill_view(bill: Commitment, today: date) -> dict[str, Any]:
    return {
        "id": bill.id,
        "vendor": bill.vendor.name,
        "category": bill.vendor.category,
        "amount": str(bill.amount),
        "currency": bill.currency,
        "due_date": bill.due_date.isoformat() if bill.due_date else None,
        "issue_date": bill.issue_date.isoformat() if bill.issue_date else None,
        "status": bill_status(bill, today),
        "paid_date": bill.paid_date.isoformat() if bill.paid_date else None,
        "paid_amount": str(bill.paid_amount) if bill.paid_amount is not None else None,
        "document_id": bill.document_id,
        "description": bill.description,
    }


def totals_view(totals: list[BillTotals]) -> list[dict[str, Any]]:
    return [{"currency": t.currency, "count": t.count, "amount": str(t.amount)} for t in totals]
