"""The agent loop driving the offline provider through the five requests, on both databases."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from assistant.agent import ToolFinished, ToolStarted, TurnFinished
from assistant.graph.models import Commitment, Document, Vendor
from assistant.messages import Attachment, Message, TextDelta
from tests.factories import bill_text, text_pdf

TODAY = date(2026, 11, 21)  # a Saturday: "this week" is Mon 16 .. Sun 22 Nov


async def turn(services, user_id, history, text, attachments=()):
    ctx = services.tool_context(user_id, today=TODAY)
    events = [e async for e in services.agent.run_turn(history, Message("user", text, attachments=list(attachments)), ctx)]
    finished = events[-1]
    assert isinstance(finished, TurnFinished)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == finished.text
    # streamed by paragraph (each piece is a socket message to the browser), not word by word
    assert len(deltas) == len([p for p in re.split(r"\n\s*\n", finished.text) if p])
    assert all(re.search(r"\n\s*\n\Z", d) for d in deltas[:-1])
    starts = [e.call.name for e in events if isinstance(e, ToolStarted)]
    ends = [e.call.name for e in events if isinstance(e, ToolFinished)]
    assert starts == ends
    return finished


async def count(services, model, **where):
    async with services.sessions() as s:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return await s.scalar(stmt)


async def test_five_requests_end_to_end(services):
    alice = await services.user_id("alice")
    history: list[Message] = []

    # (1) a pasted bill is filed and its commitment recorded
    t = await turn(services, alice, history, bill_text("Pacific Power", "120.50", TODAY + timedelta(days=1)))
    assert [c["name"] for c in t.tool_calls] == ["add_bill"]
    assert "Pacific Power" in t.text and "$120.50" in t.text and "Sun 22 Nov 2026" in t.text
    async with services.sessions() as s:
        bill = await s.scalar(select(Commitment).where(Commitment.owner_id == alice))
        assert bill.amount == Decimal("120.50") and bill.due_date == date(2026, 11, 22) and bill.status == "due"
        assert bill.vendor.name == "Pacific Power"
        doc = await s.get(Document, bill.document_id)
        assert doc.source == "paste" and doc.owner_id == alice
    assert (services.settings.documents_dir / doc.sha256[:2] / doc.sha256).is_file()

    # a second bill, attached as a PDF, due next month
    pdf = services.settings.data_dir / "water.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(text_pdf(bill_text("City Water", "45.10", date(2026, 12, 10), invoice="W-77")))
    t = await turn(services, alice, history, "here is my water bill",
                   [Attachment("file-1", "water.pdf", "upload", "application/pdf", Path(pdf))])
    assert "City Water" in t.text and "$45.10" in t.text
    assert await count(services, Commitment, owner_id=alice) == 2

    # (2) what is due: this week / next N days / overdue / in a month
    t = await turn(services, alice, history, "what's due this week?")
    assert t.tool_calls[0]["arguments"] == {"status": "open", "date_from": "2026-11-16", "date_to": "2026-11-22"}
    assert "Pacific Power" in t.text and "City Water" not in t.text and "$120.50 in total" in t.text
    t = await turn(services, alice, history, "what do I have to pay in the next 30 days?")
    assert "Pacific Power" in t.text and "City Water" in t.text and "$165.60 in total" in t.text
    t = await turn(services, alice, history, "anything due in December?")
    assert "City Water" in t.text and "Pacific Power" not in t.text
    t = await turn(services, alice, history, "anything overdue?")
    assert "Nothing is overdue" in t.text

    # (4) mark a bill paid, by vendor name
    t = await turn(services, alice, history, "mark the pacific power bill as paid")
    assert t.tool_calls[0]["name"] == "mark_paid" and not t.tool_calls[0]["is_error"]
    async with services.sessions() as s:
        paid = await s.scalar(select(Commitment).join(Vendor).where(Vendor.name == "Pacific Power"))
        assert paid.status == "paid" and paid.paid_date == TODAY and paid.paid_amount == Decimal("120.50")

    # (3) how much was paid to / billed by a vendor in a period
    t = await turn(services, alice, history, "How much did I pay Pacific Power this year?")
    assert t.tool_calls[0]["arguments"]["vendor"] == "pacific power"
    assert "You paid Pacific Power $120.50 this year (1 bill)" in t.text
    t = await turn(services, alice, history, "how much did city water bill me this month?")
    assert "City Water billed you $45.10 this month (1 bill)" in t.text

    # "mark it paid" follows the conversation: the last bill talked about was City Water's
    t = await turn(services, alice, history, "mark it paid")
    assert t.tool_calls[0]["arguments"]["bill_id"] == t.tool_calls[0]["result"]["bill"]["id"]
    assert "City Water" in t.text
    assert await count(services, Commitment, owner_id=alice, status="paid") == 2

    # (5) list vendors
    t = await turn(services, alice, history, "who do I pay?")
    assert "Pacific Power" in t.text and "City Water" in t.text and "2 vendors" in t.text

    # anything else: a plain statement of what works offline
    t = await turn(services, alice, history, "write me a poem about taxes")
    assert t.tool_calls == [] and "offline" in t.text and "model provider" in t.text


async def test_same_document_twice_is_filed_once(services):
    alice = await services.user_id("alice")
    text = bill_text("Gas Co", "80.00", TODAY + timedelta(days=5))
    first = await turn(services, alice, [], text)
    again = await turn(services, alice, [], text)
    assert first.tool_calls[0]["result"]["filed"] is True
    assert again.tool_calls[0]["result"]["duplicate"] is True
    assert "sent me this document before" in again.text
    assert await count(services, Commitment, owner_id=alice) == 1
    assert await count(services, Document, owner_id=alice) == 1


async def test_a_text_that_is_not_a_bill_writes_nothing(services):
    alice = await services.user_id("alice")
    t = await turn(services, alice, [], "Dear friend,\nThe invoice for the party is attached somewhere.\n"
                                        "See you on Saturday, bring snacks and a good mood.\nBest, Sam")
    assert t.tool_calls == [] or t.tool_calls[0]["is_error"]
    assert await count(services, Commitment) == 0 and await count(services, Document) == 0


async def test_users_do_not_see_each_others_bills(services):
    alice = await services.user_id("alice")
    bob = await services.user_id("bob")
    await turn(services, alice, [], bill_text("Pacific Power", "120.50", TODAY))
    t = await turn(services, bob, [], "what's due this week?")
    assert "Nothing is due" in t.text
    t = await turn(services, bob, [], "mark bill #1 paid")
    assert t.tool_calls[0]["is_error"] and "no bill #1" in t.text
    assert await count(services, Commitment, status="paid") == 0


async def test_a_photo_offline_gets_a_plain_refusal_and_writes_nothing(services, tmp_path):
    from tests.factories import tiny_png

    alice = await services.user_id("alice")
    photo = tmp_path / "bill.pdf"  # named .pdf, but it is a PNG: judged by content
    photo.write_bytes(tiny_png())
    t = await turn(services, alice, [], "", [Attachment("file-1", "bill.pdf", "upload", "application/pdf", photo)])
    assert t.tool_calls[0]["is_error"]
    assert "is a photo (image/png) in which I could not read any text" in t.text
    assert await count(services, Commitment) == 0 and await count(services, Document) == 0


async def test_find_a_bill_by_meaning(services):
    alice = await services.user_id("alice")
    bills = [("Bright Grid Electric", "Electricity supply, 412 kWh used this period", "88.00"),
             ("Clearwater Utilities", "Water and sewer service, 14 cubic meters", "41.00"),
             ("FastLink Broadband", "Fibre internet 500 Mbps and router rental", "59.99")]
    for vendor, line, amount in bills:
        text = bill_text(vendor, amount, TODAY + timedelta(days=9), invoice=f"{vendor[:3].upper()}-1") + line + "\n"
        await turn(services, alice, [], text)
    t = await turn(services, alice, [], "find my power bill")
    assert t.tool_calls[0]["name"] == "search_documents"
    hits = t.tool_calls[0]["result"]["hits"]
    assert hits[0]["vendor"] == "Bright Grid Electric" and "Bright Grid Electric" in t.text
    assert f"(/documents/{hits[0]['document_id']})" in t.text
    bob = await services.user_id("bob")
    assert "no filed bill" in (await turn(services, bob, [], "find my power bill")).text


async def test_with_search_down_a_bill_is_still_filed_and_found_once_search_is_back(database_url, tmp_path):
    from assistant.service import build_services
    from tests.conftest import chroma_running, free_port, make_settings

    port = free_port()
    services = build_services(make_settings(tmp_path, database_url, chroma_url=f"http://127.0.0.1:{port}"))
    try:
        alice = await services.user_id("alice")
        filed = await turn(services, alice, [], bill_text("Bright Grid Electric", "88.00", TODAY)
                           + "Electricity supply, 412 kWh used this period\n")
        assert filed.tool_calls[0]["result"]["filed"] and await count(services, Commitment) == 1
        t = await turn(services, alice, [], "find my power bill")
        assert t.tool_calls[0]["is_error"] and "search is unavailable right now" in t.text
        async with services.sessions() as s:
            assert (await s.scalars(select(Document.indexed_at))).all() == [None]  # waiting for the index
        with chroma_running(port, tmp_path / "chroma"):
            t = await turn(services, alice, [], "find my power bill")
            assert not t.tool_calls[0]["is_error"], t.text
            assert t.tool_calls[0]["result"]["hits"][0]["vendor"] == "Bright Grid Electric"
            async with services.sessions() as s:
                assert None not in (await s.scalars(select(Document.indexed_at))).all()
    finally:
        await services.close()


async def test_after_an_ambiguous_vendor_the_users_answer_files_the_bill(services):
    alice = await services.user_id("alice")

    async def paste(history, vendor, amount, invoice):
        text = bill_text(vendor, amount, TODAY + timedelta(days=5), invoice=invoice)
        return await turn(services, alice, history, text, [Attachment("paste-1", "pasted bill", "paste", text=text)])

    await paste([], "Stadtwerke Nord", "50.00", "N-1")
    # "Süd" is close to "Nord": asked about; "a new one" files it under the name on the bill
    history: list[Message] = []
    asked = await paste(history, "Stadtwerke Süd", "60.00", "S-1")
    assert "Is that **Stadtwerke Nord**, or a new vendor?" in asked.text and "a new one" in asked.text
    assert await count(services, Commitment) == 1
    t = await turn(services, alice, history, "a new one")
    assert t.tool_calls[0]["arguments"] == {"attachment_id": "paste-1", "vendor": "Stadtwerke Süd"}
    assert "Filed a bill from **Stadtwerke Süd**" in t.text and await count(services, Commitment) == 2

    # a name matching both: the answer names one of them, with a typo
    history = []
    asked = await paste(history, "Stadtwerke", "70.00", "X-1")
    assert asked.tool_calls[0]["result"]["candidates"] == ["Stadtwerke Nord", "Stadtwerke Süd"]
    t = await turn(services, alice, history, "it's stadtwerke nrod")
    assert t.tool_calls[0]["result"]["bill"]["vendor"] == "Stadtwerke Nord"
    # the answer became an alias: the same name next time is filed without asking
    t = await paste([], "Stadtwerke", "71.00", "X-2")
    assert t.tool_calls[0]["result"]["bill"]["vendor"] == "Stadtwerke Nord"
    # "the first one" picks by position
    await paste([], "Blue Harbor Gas", "40.00", "B-1")
    history = []
    asked = await paste(history, "Blue Harbor Energy", "41.00", "B-2")
    assert asked.tool_calls[0]["result"]["candidates"] == ["Blue Harbor Gas"]
    t = await turn(services, alice, history, "the first one")
    assert t.tool_calls[0]["result"]["bill"]["vendor"] == "Blue Harbor Gas"

    # a question after the vendor question is a question, not a vendor name
    await paste([], "Metro Transit", "30.00", "M-1")
    history = []
    assert (await paste(history, "Metro Transport", "31.00", "M-2")).tool_calls[0]["result"]["needs_vendor"]
    t = await turn(services, alice, history, "what's due this week?")
    assert [c["name"] for c in t.tool_calls] == ["find_bills"]
    # ... and the question is over then: a later short reply is not taken as an answer to it
    t = await turn(services, alice, history, "Hamburg Energie")
    assert t.tool_calls == []
    # a short plain answer that is none of the candidates names a new vendor
    history = []
    assert (await paste(history, "Metro Transport", "31.00", "M-2")).tool_calls[0]["result"]["needs_vendor"]
    t = await turn(services, alice, history, "Hamburg Energie")
    assert t.tool_calls[0]["result"]["bill"]["vendor"] == "Hamburg Energie"
    assert await count(services, Commitment) == 8
