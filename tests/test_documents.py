"""Reading documents (type by content, limits, clear refusals) and the simple bill parser."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader, PdfWriter

from assistant.documents.reader import DocumentError, read_document
from assistant.documents.extract import extract
from assistant.documents.recognise import looks_like_bill
from assistant.documents.values import parse_decimal as parse_amount
from tests.factories import bill_email, bill_text, image_only_pdf, padded_pdf, text_pdf

MB = 1024 * 1024


def read(data, name="f", limit=10 * MB, pages=50):
    return read_document(data, name, limit, pages)


def test_type_is_decided_by_content_not_name():
    pdf = text_pdf("ACME\nAmount due: $5.00")
    assert read(pdf, "bill.txt").mime == "application/pdf"
    assert read(b"ACME\nAmount due: $5.00", "bill.pdf").mime == "text/plain"


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (b"x" * (11 * MB), "the limit is 10.0 MB"),
    (bytes(range(256)) * 40, "not a text file or a PDF"),
    (b"%PDF-1.7\n" + bytes(range(256)) * 40, "looks damaged"),
    (image_only_pdf(), "no text layer"),
    (b"   \n\t  ", "no text"),
])
def test_unusable_documents_get_a_clear_reason(data, words):
    with pytest.raises(DocumentError, match=words):
        read(data, "upload.pdf")


def test_password_protected_pdf_is_refused_plainly():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf("ACME\nAmount due: $5.00"))))
    writer.encrypt(user_password="hunter2", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(DocumentError, match="password-protected"):
        read(buf.getvalue(), "locked.pdf")


def test_page_limit():
    with pytest.raises(DocumentError, match="pages; the limit is 0"):
        read(text_pdf("a"), pages=0)


def test_a_pdf_that_unpacks_past_the_limit_is_refused():
    bomb = padded_pdf("ACME Amount due: 5.00", pad_bytes=8 * MB)
    assert len(bomb) < 50_000  # small on disk
    with pytest.raises(DocumentError, match="expands to more than 2.0 MB"):
        read_document(bomb, "bomb.pdf", 10 * MB, 50, max_decompressed=2 * MB)
    # each page under the limit, together over it
    pages = padded_pdf("ACME Amount due: 5.00", pad_bytes=MB // 2, pages=5)
    with pytest.raises(DocumentError, match="expands to more than 2.0 MB"):
        read_document(pages, "pages.pdf", 10 * MB, 50, max_decompressed=2 * MB)
    # the same document under a larger limit reads
    assert "ACME" in read_document(pages, "pages.pdf", 10 * MB, 50, max_decompressed=4 * MB).text


@pytest.mark.parametrize("raw, value", [
    ("1,234.56", "1234.56"), ("1.234,56", "1234.56"), ("1 234,56", "1234.56"), ("120", "120.00"),
    ("45,1", "45.10"), ("-12.50", "-12.50"), ("1'000.00", "1000.00"),
])
def test_amounts_with_either_separator(raw, value):
    assert parse_amount(raw) == Decimal(value)


def test_plainly_written_bills_are_extracted():
    def fields(text, default="USD"):
        e = extract(text, default)
        return (e.vendor.value, e.amount_due.value, e.currency.value, e.due_date.value, e.issue_date.value)

    assert fields(bill_text("Pacific Power", "1,120.50", date(2026, 11, 25))) == (
        "Pacific Power", Decimal("1120.50"), "USD", date(2026, 11, 25), date(2026, 11, 1))
    assert fields("Stadtwerke Musterstadt GmbH\nRechnung Nr. 2026-11-77\nRechnungsdatum: 03.11.2026\n"
                  "Zu zahlen: 1.234,56 EUR\nFällig am: 17.11.2026\n") == (
        "Stadtwerke Musterstadt GmbH", Decimal("1234.56"), "EUR", date(2026, 11, 17), date(2026, 11, 3))
    assert fields("From: Comcast <bills@comcast.example>\nStatement\nTotal due $89.99\nPay by 12/05/2026\n",
                  "EUR")[:4] == ("Comcast", Decimal("89.99"), "USD", date(2026, 12, 5))


def test_questions_are_not_bills():
    assert looks_like_bill(bill_text(due=date(2026, 12, 1)))
    for q in ["what's due this week?", "how much did I pay Pacific Power this year?", "mark the $120.50 bill paid",
              "Hi there! Can you tell me how to read my electricity bill? It says amount due but I'm not sure."]:
        assert not looks_like_bill(q), q


def _email(body: str, attachment: bytes | None = None, html: bool = False) -> bytes:
    return bill_email(body, attachment, html)


def test_an_email_gives_its_sender_body_and_attached_bill():
    from assistant.documents.extract import extract

    pdf = text_pdf("City Water Utility\nInvoice number: W-2026-11\nAmount due: $45.10\nDue date: 2026-12-10")
    doc = read(_email("Hello, your bill is attached. Thank you.", pdf), "bill.txt")  # the name says .txt
    assert doc.mime == "message/rfc822"
    assert "From: City Water Utility" in doc.text and "--- attachment: bill-november.pdf ---" in doc.text
    found = extract(doc.text, "USD")
    assert found.amount_due.value == Decimal("45.10") and found.due_date.value == date(2026, 12, 10)
    assert "City Water" in found.vendor.value


def test_an_html_email_is_read_as_text_and_a_bad_attachment_is_noted():
    doc = read(_email("Amount due: <b>$12.00</b><br>Due date: 2026-12-01", b"%PDF-1.4 broken", html=True))
    assert "Amount due: $12.00" in doc.text and "Due date: 2026-12-01" in doc.text
    assert "[attachment bill-november.pdf: bill-november.pdf could not be read as a PDF" in doc.text


def test_text_that_merely_mentions_from_is_not_an_email():
    assert read(b"From: my landlord\nRent for December is 1200.00 due on the 1st\n").mime == "text/plain"


OCR_BILL = "Northwind Energy Ltd\nInvoice number: NW-4471\nAmount due: $63.40\nDue date: 2026-12-14"


def test_a_photo_of_a_bill_is_read_offline():
    from assistant.documents.extract import extract
    from tests.factories import bill_photo

    doc = read(bill_photo(OCR_BILL), "IMG_0042.pdf")  # the name lies; the content is a PNG
    assert doc.mime == "image/png" and "Northwind Energy Ltd" in doc.text and "Amount due" in doc.text
    found = extract(doc.text, "USD")
    assert found.amount_due.value == Decimal("63.40") and found.due_date.value == date(2026, 12, 14)


def test_a_scanned_pdf_is_read_offline():
    from assistant.documents.extract import extract
    from tests.factories import scanned_pdf

    doc = read(scanned_pdf(OCR_BILL), "scan.pdf")
    assert doc.mime == "application/pdf" and "nw-4471" in doc.text.replace(" ", "").lower()
    assert "Northwind Energy Ltd" in doc.text and "Due date" in doc.text   # the spaces are kept
    assert extract(doc.text, "USD").amount_due.value == Decimal("63.40")


def test_an_image_too_large_to_decode_is_refused_before_decoding():
    import struct

    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 50000, 50000, 8, 0, 0, 0, 0)
    with pytest.raises(DocumentError, match="50000x50000 image, too large"):
        read(header + b"\x00" * 100, "bomb.png")
