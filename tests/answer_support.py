"""Shared by the tests of what answers show (tests/web/test_answer_elements.py, tests/browser/
test_answers_browser.py): the fixture graph loaded into a live server's database with its dates moved
to the server's today, and a scripted model that asks the question tools the way a model would."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from assistant.messages import Attachment, ToolCall
from assistant.service import build_services
from assistant.settings import Settings
from tests.fakes import Reply, Seen
from tests.scenarios import graph as fixture_graph


def server_today() -> date:
    return datetime.now(timezone.utc).date()  # a test server's clock (ASSISTANT_TIMEZONE is UTC)


def shifted_spec(today: date) -> dict[str, Any]:
    """graph.yaml with every date moved by the same number of days, so that its "today" is `today`."""
    spec = yaml.safe_load(fixture_graph.GRAPH.read_text(encoding="utf-8"))
    delta = today - spec["today"]
    spec["today"] = today
    for bill in spec["bills"] + spec.get("other_bills", []):
        for key in ("issue", "due", "paid", "snoozed_until"):
            if isinstance(bill.get(key), date):
                bill[key] = bill[key] + delta
    return spec


async def load_graph(data_dir: Path, database_url: str, monkeypatch, documents: list[str] = ()) -> dict[str, Any]:
    """The fixture graph, dated around today, in a live server's database (its users alice and bob were
    seeded by the server), plus a bill filed from each text in `documents` through add_bill (so it has
    an original at /documents/<id>)."""
    today = server_today()
    monkeypatch.setattr(fixture_graph, "load_spec", lambda: shifted_spec(today))
    services = build_services(Settings(data_dir=data_dir, database_url=database_url, environment="test", users=""))
    try:
        built = await fixture_graph.build_graph(services)
        for i, text in enumerate(documents, start=1):
            attachment = Attachment(id=f"paste-{i}", name="pasted bill", source="paste", text=text)
            ctx = services.tool_context(built["users"]["alice"], [attachment])
            ctx.index = None  # the server owns the embedded search index; it catches up at chat start
            outcome = await services.registry.call(ToolCall(f"load-{i}", "add_bill", {"attachment_id": attachment.id}),
                                                   ctx)
            assert not outcome.is_error and outcome.result.get("bill"), outcome.result
        return built
    finally:
        await services.close()


def scripted_model(seen: Seen) -> Reply:
    """A model's moves for the questions these tests ask (for a fake vendor's `responder`): "what do I
    owe?", "spending by month this year", "which vendors cost the most this year?", "tell me about X"."""
    question = seen.last_user.lower()
    year = server_today().year
    whole_year = {"date_from": f"{year}-01-01", "date_to": f"{year}-12-31"}
    if not seen.tool_results:
        if re.search(r"\bowe\b", question):
            return Reply(tool_calls=[("find_bills", {"status": "open"})])
        if "by month" in question:
            return Reply(tool_calls=[("summarize_spending", {"group_by": "month", **whole_year})])
        if "which vendors" in question:
            return Reply(tool_calls=[("summarize_spending", {"group_by": "vendor", **whole_year})])
        if "tell me about" in question:
            return Reply(tool_calls=[("vendor_profile", {"vendor": question.split("tell me about", 1)[1].strip(" ?")})])
        return Reply(text="(the scripted model knows only the questions of the answer-view tests)")
    result = json.loads(seen.tool_results[-1])
    if isinstance(result.get("vendor"), dict):
        open_ = " and ".join(f"{t['open']} {t['currency']}" for t in result["totals"])
        return Reply(text=f"Here is {result['vendor']['name']} at a glance: {open_} still open.")
    totals = " and ".join(f"{t['amount']} {t['currency']}" for t in result.get("totals") or [])
    if "bills" in result and "shown" in result:
        return Reply(text=f"You owe {result['count']} bills: {totals}.")
    per = "per month" if result["group_by"] == "month" else "per vendor"
    return Reply(text=f"Here is what you paid {per} this year: {totals} in all.")
