"""One conversation (paste a bill, ask what's due, mark it paid) through each fake vendor and offline,
with the database checked afterwards."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from assistant.agent import TurnFinished
from assistant.graph.migrate import upgrade
from assistant.graph.models import Commitment
from assistant.messages import Attachment, Message, with_attachment_note
from assistant.service import build_services
from tests.factories import bill_text
from tests.fakes import Reply, Seen
from tests.providers.conftest import VENDORS, vendor_settings

TODAY = date(2026, 11, 21)


BILL_FIELDS = {"vendor": "Pacific Power", "amount_due": "120.50", "currency": "USD", "issue_date": "2026-11-01",
               "due_date": "2026-11-22", "invoice_number": "INV-2026-0042", "account_number": None,
               "service_period_start": None, "service_period_end": None, "minimum_due": None}


def model(seen: Seen) -> Reply:
    """A fake model that uses the tools the way a real one would for this conversation."""
    if seen.schema is not None:  # add_bill's model extractor reading the pasted bill
        assert "Pacific Power" in seen.last_user and "tools" not in seen.schema
        return Reply(structured=BILL_FIELDS, usage=(700, 60, 0))
    if seen.tool_results:
        results = [json.loads(r) for r in seen.tool_results]
        words = []
        for r in results:
            bills = r.get("bills") or ([r["bill"]] if r.get("bill") else [])
            words += [f"{b['vendor']} {b['amount']} {b['currency']} due {b['due_date']} ({b['status']})" for b in bills]
            if "error" in r:
                words.append(f"error: {r['error']}")
        return Reply(text="Here is what I found: " + "; ".join(words or ["nothing"]), usage=(900, 40, 300))
    text = seen.last_user
    pasted = re.search(r"\[pasted bill: attachment (\S+)\]", text)
    if pasted:
        return Reply(tool_calls=[("add_bill", {"attachment_id": pasted.group(1)})], usage=(800, 30, 0))
    if "due" in text:
        return Reply(tool_calls=[("find_bills", {"status": "open", "date_from": "2026-11-16",
                                                 "date_to": "2026-11-22"})], usage=(850, 30, 0))
    if "paid" in text:
        return Reply(tool_calls=[("mark_paid", {"vendor": "Pacific Power"})], usage=(850, 25, 0))
    return Reply(text="I can help with bills.")


@pytest.mark.parametrize("name", sorted(VENDORS) + ["offline"])
async def test_paste_ask_mark_paid(name, tmp_path):
    fake = None
    if name == "offline":
        from tests.conftest import make_settings

        settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", providers="offline")
    else:
        vendor = VENDORS[name]
        fake = await vendor.fake(responder=model).start()
        settings = vendor_settings(tmp_path, vendor, fake.url)
    await upgrade(settings.database_url)
    services = build_services(settings)
    try:
        alice = await services.user_id("alice")
        history: list[Message] = []

        async def say(text, attachments=()):
            ctx = services.tool_context(alice, today=TODAY)
            message = Message("user", with_attachment_note(text, list(attachments)), attachments=list(attachments))
            events = [e async for e in services.agent.run_turn(history, message, ctx)]
            finished = events[-1]
            assert isinstance(finished, TurnFinished) and finished.stopped is None, finished.text
            assert finished.provider == name and finished.notices == []
            return finished

        bill = bill_text("Pacific Power", "120.50", date(2026, 11, 22))
        filed = await say(bill, [Attachment("paste-1", "pasted bill", "paste", text=bill)])
        assert [c["name"] for c in filed.tool_calls] == ["add_bill"]
        extractor = filed.tool_calls[0]["result"]["extractor"]
        assert extractor == ("offline" if name == "offline" else f"model ({name} {services.provider.model})")
        assert "Pacific Power" in filed.text and ("120.50" in filed.text)

        due = await say("what's due this week?")
        assert due.tool_calls[0]["name"] == "find_bills" and "Pacific Power" in due.text

        paid = await say("mark the Pacific Power bill as paid")
        assert paid.tool_calls[0]["name"] == "mark_paid" and not paid.tool_calls[0]["is_error"]
        if name == "offline":
            assert filed.cost == due.cost == paid.cost == 0
        else:
            assert filed.usage.input_tokens == 800 + 900 and filed.usage.cached_tokens == 300
            if name != "openai-compatible":
                assert filed.cost > 0
        async with services.sessions() as s:
            rows = (await s.scalars(select(Commitment).where(Commitment.owner_id == alice))).all()
            assert [(r.vendor.name, str(r.amount), r.status, r.paid_date) for r in rows] == [
                ("Pacific Power", "120.50", "paid", TODAY)]
    finally:
        await services.close()
        if fake is not None:
            await fake.stop()
