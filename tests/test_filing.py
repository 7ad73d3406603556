"""Filing: vendor resolution, the same bill in another form, reissued bills, priority, recurrence."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from assistant.graph.models import Commitment, Document, Vendor, VendorAlias
from assistant.graph.priority import priority, recurrence
from assistant.messages import ToolCall
from assistant.toolkit import ToolContext
from tests.factories import bill_text, text_pdf

TODAY = date(2026, 11, 21)


def bill(vendor: str, amount: str, due: date, invoice: str, extra: str = "") -> str:
    return bill_text(vendor, amount, due, invoice=invoice) + extra


async def add(services, user_id: str, text: str | None = None, path=None, **args) -> dict:
    from assistant.messages import Attachment

    attachments = [Attachment("file-1", path.name, "upload", path=path)] if path else []
    ctx: ToolContext = services.tool_context(user_id, attachments, today=TODAY)
    call_args = {"attachment_id": "file-1"} if path else {"text": text}
    outcome = await services.registry.call(ToolCall("c", "add_bill", {**call_args, **args}), ctx)
    assert not outcome.is_error, outcome.result
    return outcome.result


async def count(services, model) -> int:
    async with services.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_a_vendor_written_differently_is_recognised_and_remembered(services):
    alice = await services.user_id("alice")
    first = await add(services, alice, bill("Pacific Power", "120.50", date(2026, 11, 28), "PP-1"))
    second = await add(services, alice, bill("Pacific Power & Light Co.", "98.10", date(2026, 12, 28), "PP-2"))
    assert second["bill"]["vendor"] == "Pacific Power" and second["vendor_match"] == "fuzzy"
    assert first["vendor_match"] == "new" and await count(services, Vendor) == 1
    async with services.sessions() as s:
        aliases = (await s.scalars(select(VendorAlias.alias))).all()
    assert aliases == ["Pacific Power & Light Co."]
    third = await add(services, alice, bill("Pacific Power & Light Co", "101.00", date(2027, 1, 28), "PP-3"))
    assert third["vendor_match"] == "alias"


async def test_an_ambiguous_vendor_is_asked_about_and_nothing_is_filed(services):
    alice = await services.user_id("alice")
    await add(services, alice, bill("Stadtwerke Nord", "50.00", date(2026, 12, 1), "N-1"))
    close = await add(services, alice, bill("Stadtwerke Süd", "60.00", date(2026, 12, 2), "S-1"))
    assert close["needs_vendor"] and close["candidates"] == ["Stadtwerke Nord"]  # 83: close, not sure
    assert await count(services, Commitment) == 1
    # the user says it is a vendor of its own: named explicitly, it is filed as such
    assert (await add(services, alice, bill("Stadtwerke Süd", "60.00", date(2026, 12, 2), "S-1"),
                      vendor="Stadtwerke Süd"))["filed"]
    asked = await add(services, alice, bill("Stadtwerke", "70.00", date(2026, 12, 3), "X-1"))
    assert asked["needs_vendor"] and set(asked["candidates"]) == {"Stadtwerke Nord", "Stadtwerke Süd"}
    assert await count(services, Commitment) == 2 and await count(services, Document) == 2
    filed = await add(services, alice, bill("Stadtwerke", "70.00", date(2026, 12, 3), "X-1"), vendor="Stadtwerke Süd")
    assert filed["filed"] and filed["bill"]["vendor"] == "Stadtwerke Süd"


async def test_the_same_bill_as_pdf_then_text_is_filed_once(services, tmp_path):
    alice = await services.user_id("alice")
    text = bill("City Water", "45.10", date(2026, 12, 10), "W-77")
    pdf = tmp_path / "water.pdf"
    pdf.write_bytes(text_pdf(text))
    first = await add(services, alice, path=pdf)
    again = await add(services, alice, text + "\nPaid online? Ignore this reminder.\n")  # other bytes, same bill
    assert first["filed"] and again["duplicate"] and not again["same_file"]
    assert again["first_form"] == "application/pdf" and again["bill"]["id"] == first["bill"]["id"]
    assert await count(services, Commitment) == 1 and await count(services, Document) == 1


async def test_a_reissued_bill_replaces_the_earlier_one(services):
    alice = await services.user_id("alice")
    first = await add(services, alice, bill("City Water", "45.10", date(2026, 12, 10), "W-77"))
    corrected = await add(services, alice, bill("City Water", "41.00", date(2026, 12, 15), "W-77", "Corrected invoice\n"))
    assert corrected["filed"] and corrected["replaced_earlier"]
    assert corrected["bill"]["id"] == first["bill"]["id"]
    async with services.sessions() as s:
        [c] = (await s.scalars(select(Commitment))).all()
        assert (c.amount, c.due_date) == (Decimal("41.00"), date(2026, 12, 15))
        docs = (await s.scalars(select(Document).order_by(Document.id))).all()
        assert docs[0].replaced_by_id == docs[1].id and docs[1].replaced_by_id is None


async def test_priority_and_recurrence_are_recorded(services):
    alice = await services.user_id("alice")
    for month in (9, 10, 11):
        await add(services, alice, bill("Gas Co", "80.00", date(2026, month, 20), f"G-{month}"))
    async with services.sessions() as s:
        rows = (await s.scalars(select(Commitment).order_by(Commitment.due_date))).all()
    assert rows[-1].recurrence == "monthly" and rows[0].recurrence is None
    assert rows[0].priority > rows[-1].priority  # two months overdue beats one day overdue
    assert "overdue by 62 days" in rows[0].priority_reason


def test_priority_weights():
    soon, _ = priority(Decimal("50"), "USD", date(2026, 11, 23), TODAY)
    later, reason = priority(Decimal("50"), "USD", date(2027, 1, 20), TODAY)
    late, late_reason = priority(Decimal("50"), "USD", date(2026, 11, 23), TODAY, "A late fee of $10 applies")
    big, big_reason = priority(Decimal("5000"), "USD", date(2027, 1, 20), TODAY)
    assert soon > later and late > soon and big > later
    assert reason == "due in 60 days" and "mentions a late fee" in late_reason and "large amount" in big_reason
    assert recurrence([date(2026, 1, 1), date(2026, 4, 2), date(2026, 7, 1)]) == "quarterly"
    assert recurrence([date(2026, 1, 1)]) is None


async def test_an_unsure_reading_is_shown_for_review_and_saved_only_once_confirmed(database_url, tmp_path):
    from assistant.documents.corrections import parse_corrections
    from assistant.service import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(tmp_path, database_url, review_below=0.5))
    try:
        alice = await services.user_id("alice")
        text = bill("Hydro Nord", "88.20", date(2026, 12, 4), "H-9")
        review = await add(services, alice, text)
        assert review["needs_review"] and review["unsure"] == ["vendor"] and not review.get("filed")
        assert review["fields"]["vendor"] == "Hydro Nord" and review["fields"]["amount_due"] == "88.20"
        assert review["sources"]["amount_due"] and 0 < review["confidence"]["vendor"] < 0.5
        assert await count(services, Commitment) == 0 and await count(services, Document) == 0
        # the user edits: another vendor name; the name on the bill becomes an alias of it
        fixes = parse_corrections("vendor Hydro Nordic Power; due 5 Dec 2026")
        filed = await add(services, alice, text, confirmed=True, vendor=fixes["vendor"],
                          due_date=fixes["due_date"].isoformat())
        assert filed["filed"] and filed["bill"]["vendor"] == "Hydro Nordic Power"
        assert filed["bill"]["due_date"] == "2026-12-05" and filed["fields"]["vendor"] == "Hydro Nordic Power"
        async with services.sessions() as s:
            assert (await s.scalars(select(VendorAlias.alias))).all() == ["Hydro Nord"]
    finally:
        await services.close()


def test_corrections_are_read_from_plain_words():
    from assistant.documents.corrections import parse_corrections

    assert parse_corrections("vendor City Water; amount 45,10; due 10 Dec 2026") == {
        "vendor": "City Water", "amount": Decimal("45.10"), "due_date": date(2026, 12, 10)}
    assert parse_corrections("amount is $1,234.50, due 2026-12-01, vendor: Acme Corp") == {
        "amount": Decimal("1234.50"), "due_date": date(2026, 12, 1), "vendor": "Acme Corp"}
    assert parse_corrections("currency eur") == {"currency": "EUR"} and parse_corrections("looks fine") == {}
