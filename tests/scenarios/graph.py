"""Loads `graph.yaml` (the fixture graph the question scenarios run over) into a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from assistant.graph.bills import normalize_name
from assistant.graph.models import Commitment, Vendor, VendorAlias

GRAPH = Path(__file__).with_name("graph.yaml")


def load_spec() -> dict[str, Any]:
    return yaml.safe_load(GRAPH.read_text(encoding="utf-8"))


async def build_graph(services) -> dict[str, Any]:
    """Creates the users, vendors and bills of graph.yaml; returns {"today", "users": {name: id},
    "bills": {invoice or "vendor amount due": id}}."""
    spec = load_spec()
    users = {name: await services.user_id(name) for name in [spec["owner"], *spec.get("other_users", [])]}
    ids: dict[str, int] = {}
    async with services.sessions() as session, session.begin():
        vendors: dict[tuple[str, str], Vendor] = {}

        def vendor_for(owner: str, name: str, category: str | None = None) -> Vendor:
            key = (owner, name)
            if key not in vendors:
                vendors[key] = Vendor(owner_id=users[owner], name=name, normalized_name=normalize_name(name),
                                      category=category)
                session.add(vendors[key])
            return vendors[key]

        for v in spec["vendors"]:
            vendor = vendor_for(spec["owner"], v["name"], v.get("category"))
            for alias in v.get("aliases", []):
                session.add(VendorAlias(owner_id=users[spec["owner"]], vendor=vendor, alias=alias,
                                        normalized_alias=normalize_name(alias)))
        await session.flush()
        rows = [(spec["owner"], b) for b in spec["bills"]] + [(b["owner"], b) for b in spec.get("other_bills", [])]
        for owner, b in rows:
            vendor = vendor_for(owner, b["vendor"])
            await session.flush()
            amount = Decimal(b["amount"])
            status = b.get("status", "due")
            bill = Commitment(owner_id=users[owner], vendor_id=vendor.id, amount=amount,
                              currency=b.get("currency", "USD"), issue_date=_day(b.get("issue")),
                              due_date=_day(b.get("due")), status=status,
                              paid_date=_day(b.get("paid")),
                              paid_amount=Decimal(b.get("paid_amount", b["amount"])) if status == "paid" else None,
                              description=f"Invoice {b['invoice']}" if b.get("invoice") else None,
                              priority=Decimal("0"), priority_reason=b.get("reason"),
                              repeats=b.get("repeats"), snoozed_until=_day(b.get("snoozed_until")))
            session.add(bill)
            await session.flush()
            ids[b.get("invoice") or f"{b['vendor']} {b['amount']} {b.get('due')}"] = bill.id
    return {"today": _day(spec["today"]), "users": users, "bills": ids}


async def call_tool(graph: tuple, name: str, **args) -> dict:
    """A tool called as alice on the built graph (`graph` = (services, build_graph's result)); its
    result, asserting it is not an error."""
    from assistant.messages import ToolCall

    services, built = graph
    ctx = services.tool_context(built["users"]["alice"], today=built["today"])
    outcome = await services.registry.call(ToolCall("c", name, args), ctx)
    assert not outcome.is_error, outcome.result
    return outcome.result


def _day(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
