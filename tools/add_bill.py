"""add_bill: file a bill (an attachment, or pasted text) and record what is owed and when."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import logging

from pydantic import BaseModel, Field

from assistant import metrics
from assistant.documents import store
from assistant.documents.catchup import index_document, index_pending
from assistant.documents.reader import DocumentError, ReadDocument, read_path, read_text
from assistant.graph import bills
from assistant.graph.models import IDENTIFIER_WIDTH, MONEY_LIMIT
from assistant.graph.resolve import Resolution, add_alias, resolve_vendor
from assistant.toolkit import ToolContext, ToolError, tool
from tools._extractor import read_fields
from tools._views import bill_view

log = logging.getLogger(__name__)


def _cut(identifier: str | None) -> str | None:
    """An identifier cut to its column's width: PostgreSQL refuses a longer one (a "number" of 700
    characters, found by tests/test_fuzz_ingest.py); SQLite would have kept it."""
    return identifier[:IDENTIFIER_WIDTH] if identifier else identifier


class AddBillArgs(BaseModel):
    attachment_id: str | None = Field(
        None, description="id of a file or pasted bill the user handed over in this conversation turn"
    )
    text: str | None = Field(None, description="the bill's text, when there is no attachment id")
    vendor: str | None = Field(None, description="who issued the bill, if you know better than the document")
    amount: Decimal | None = Field(None, ge=0, description="amount due, if you know better than the document")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217 code")
    due_date: date | None = Field(None, description="YYYY-MM-DD")
    confirmed: bool = Field(False, description="true once the user confirmed fields shown for review")


async def _read(args: AddBillArgs, ctx: ToolContext) -> tuple[ReadDocument, str, str | None]:
    limit, pages = ctx.settings.document_max_bytes, ctx.settings.document_max_pages
    unpacked = ctx.settings.document_max_decompressed_bytes
    try:
        if args.attachment_id:
            att = ctx.attachments.get(args.attachment_id)
            if att is None:
                raise ToolError(f"there is no attachment {args.attachment_id!r} in this turn")
            if att.path is not None:
                doc = await read_path(att.path, att.name, limit, pages, unpacked)
                return doc, att.source, att.name
            if att.text is not None:
                doc = await read_text(att.text, att.name, limit)
                return doc, att.source, None
            raise ToolError(f"attachment {args.attachment_id!r} has no content")
        if args.text and args.text.strip():
            doc = await read_text(args.text, "the pasted text", limit)
            return doc, "paste", None
    except DocumentError as exc:
        raise ToolError(str(exc)) from exc
    raise ToolError("add_bill needs an attachment_id or the bill's text")


async def _index(ctx: ToolContext, document_id: int, vendor: str, text: str) -> None:
    """Make the bill findable by meaning. The bill is filed either way: search is a convenience, and a
    bill filed while the index is down is indexed later (`documents/catchup.py`)."""
    if ctx.index is None:
        return
    if await index_document(ctx.index, ctx.sessions, ctx.user_id, document_id, vendor, text):
        await index_pending(ctx.index, ctx.sessions, ctx.user_id, limit=20)  # any filed during an outage


@tool(AddBillArgs)
async def add_bill(args: AddBillArgs, ctx: ToolContext) -> dict:
    """File a bill the user pasted or attached: store the document, recognise the vendor and record
    the amount due and due date. Use attachment_id for files and pasted bills of this turn."""
    doc, source, filename = await _read(args, ctx)
    if not doc.text and (args.vendor is None or args.amount is None):
        raise ToolError(
            f"{filename or 'this file'} is a photo ({doc.mime}) in which I could not read any text. Send a "
            "sharper photo, paste the bill's text or attach its PDF (a model provider that reads images can "
            "also read it). Nothing was saved.")
    reading = await read_fields(doc, ctx, ctx.attachments.get(args.attachment_id) if args.attachment_id else None)
    found, extractor = reading.found, reading.extractor  # the result says which extractor read the bill
    vendor = args.vendor or found.vendor.value
    amount = args.amount if args.amount is not None else found.amount_due.value
    if vendor is None or amount is None:
        missing = " and ".join(n for n, v in (("who it is from", vendor), ("the amount due", amount)) if v is None)
        raise ToolError(
            f"this does not look like a bill I can file: I could not find {missing}. Nothing was saved."
        )
    if amount < 0:
        raise ToolError("this is a credit note (a negative amount), not a bill to pay; nothing was saved.")
    if amount >= MONEY_LIMIT:
        raise ToolError(f"the amount due reads as {amount:,}, more than any bill I can file (the limit is "
                        f"{MONEY_LIMIT - Decimal('0.01'):,}). Check the amount; nothing was saved.")
    invoice_number, account_number = _cut(found.invoice_number.value), _cut(found.account_number.value)
    currency = (args.currency or found.currency.value or ctx.settings.default_currency).upper()
    due_date, issue_date = args.due_date or found.due_date.value, found.issue_date.value
    period = found.service_period.value
    extracted = found.to_dict()
    for name, given in (("vendor", args.vendor), ("amount_due", args.amount), ("currency", args.currency),
                        ("due_date", args.due_date)):
        if given is not None:  # stated by the user (or read by a model from a photo): say so
            extracted[name] = {"value": str(given) if not isinstance(given, date) else given.isoformat(),
                               "confidence": 1.0, "source": "given"}
    confidence = min(extracted[n]["confidence"] for n in ("vendor", "amount_due", "due_date"))
    # Shown for review before saving: who and how much when unsure, and a due date read but unsure
    # (a due date not found at all is filed as missing: the answer says so).
    unsure = [n for n in ("vendor", "amount_due", "due_date")
              if extracted[n]["confidence"] < ctx.settings.review_below
              and (n != "due_date" or extracted[n]["value"] is not None)]
    if unsure and not args.confirmed:
        return {"filed": False, "needs_review": True, "extractor": extractor, "unsure": unsure,
                "attachment_id": args.attachment_id,
                "fields": {n: f["value"] for n, f in extracted.items()},
                "confidence": {n: f["confidence"] for n, f in extracted.items()},
                "sources": {n: f["source"] for n, f in extracted.items()},
                "hint": "show the fields to the user; file with confirmed=true once they agree or correct them"}
    new_doc = bills.NewDocument(
        sha256=doc.sha256, source=source, filename=filename, mime=doc.mime, size_bytes=doc.size_bytes,
        text=doc.text, fields=extracted, confidence=Decimal(str(round(confidence, 3))),
        invoice_number=invoice_number, account_number=account_number,
        period_start=period[0] if period else None, period_end=period[1] if period else None)
    async with ctx.transaction() as session:
        existing = await bills.find_document_by_sha(session, ctx.user_id, doc.sha256)
        if existing is not None:
            earlier = await bills.commitment_for_document(session, ctx.user_id, existing.id)
            return {"filed": False, "duplicate": True, "same_file": True, "extractor": extractor,
                    "first_filed": existing.created_at.date().isoformat() if existing.created_at else None,
                    "document_id": existing.id, "bill": bill_view(earlier, ctx.today) if earlier else None}
        if args.vendor:  # the user (or the model, from the user's words) named the vendor: trust it
            known = await bills.find_vendor(session, ctx.user_id, args.vendor)
            resolution = Resolution(known, "name" if known else "new")
        else:
            resolution = await resolve_vendor(session, ctx.user_id, vendor, new_doc.account_number)
        if resolution.how == "ambiguous":
            return {"filed": False, "needs_vendor": True, "extractor": extractor, "name_on_bill": vendor,
                    "candidates": [v.name for v, _ in resolution.candidates],
                    "hint": "ask the user which vendor it is, then call add_bill again with vendor set"}
        known_vendor = resolution.vendor
        same = await bills.find_same_bill(session, ctx.user_id, known_vendor.id if known_vendor else None,
                                          new_doc, amount)
        if same is not None and same.amount == amount and (same.issue_date == issue_date or not issue_date):
            earlier = await bills.commitment_for_document(session, ctx.user_id, same.id)
            return {"filed": False, "duplicate": True, "same_file": False, "extractor": extractor,
                    "first_form": same.mime,
                    "first_filed": same.created_at.date().isoformat() if same.created_at else None,
                    "document_id": same.id, "bill": bill_view(earlier, ctx.today) if earlier else None}
        commitment = await bills.file_bill(
            session, ctx.user_id,
            bills.NewBill(vendor_name=vendor, amount=amount, currency=currency, due_date=due_date,
                          issue_date=issue_date,
                          description=f"Invoice {invoice_number}" if invoice_number else None),
            new_doc, today=ctx.today, vendor=known_vendor, replaces=same)
        if resolution.how in ("fuzzy", "account"):
            await add_alias(session, ctx.user_id, commitment.vendor, vendor)  # next time: an exact match
        elif args.vendor and found.vendor.value and found.vendor.value != args.vendor:
            # the user corrected the name on the bill: that name means this vendor from now on
            await add_alias(session, ctx.user_id, commitment.vendor, found.vendor.value)
        # Stored inside the transaction: if the write fails, the rows roll back with it.
        await store.save(ctx.settings.documents_dir, doc.sha256, doc.data)
        view = bill_view(commitment, ctx.today)
        view.update(priority=str(commitment.priority), priority_reason=commitment.priority_reason,
                    recurrence=commitment.recurrence)
    metrics.DOCUMENTS.inc(type=doc.mime)
    await _index(ctx, commitment.document_id, view["vendor"], doc.text)
    missing = [n for n in ("due_date",) if view[n] is None]
    return {"filed": True, "duplicate": False, "extractor": extractor, "replaced_earlier": same is not None,
            "bill": view,
            "document_id": commitment.document_id, "mime": doc.mime, "vendor_match": resolution.how,
            "missing": missing,
            "fields": {n: f["value"] for n, f in extracted.items()},
            "confidence": {n: f["confidence"] for n, f in extracted.items()}}
