"""Every kind of bill, sent in the real chat (socket client, live app, SQLite and PostgreSQL): pasted
text, .txt, .eml with a PDF attached, a PDF with a text layer, a scanned PDF, a PNG and a JPEG photo
(both read by offline OCR). Each is filed once, with its vendor, amount and due date, and its
original is stored. The file names lie on purpose: the type is decided by the content."""

from __future__ import annotations

from datetime import date

from tests.conftest import LiveServer
from tests.factories import bill_email, bill_photo, bill_text, scanned_pdf, text_pdf
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS, count, files_under


def ocr_bill(vendor: str, number: str, amount: str, due: str) -> str:
    return f"{vendor}\nInvoice number: {number}\nAmount due: ${amount}\nDue date: {due}"


INPUTS = [  # (what the user sends, file or None, vendor, amount, due)
    ("pasted", None, bill_text("Pacific Power", "120.50", date(2026, 12, 15), invoice="P-1"),
     "Pacific Power", "$120.50", "Tue 15 Dec 2026"),
    ("txt", ("water.txt", bill_text("City Water", "45.10", date(2026, 12, 10), invoice="W-1").encode(),
             "text/plain"), "here is my water bill", "City Water", "$45.10", "Thu 10 Dec 2026"),
    ("eml", ("mail.txt", bill_email("Hello, your bill is attached.", text_pdf(
        "Harbor Gas Co\nInvoice number: G-77\nAmount due: $61.00\nDue date: 2026-12-08"),
        sender="Harbor Gas Co <billing@harborgas.example>"),
        "message/rfc822"), "", "Harbor Gas", "$61.00", "Tue 8 Dec 2026"),
    ("pdf", ("internet.pdf", text_pdf(bill_text("FastLink Broadband", "59.99", date(2026, 12, 3), invoice="F-9")),
             "application/pdf"), "", "FastLink Broadband", "$59.99", "Thu 3 Dec 2026"),
    ("scanned-pdf", ("scan.pdf", scanned_pdf(ocr_bill("Northwind Energy Ltd", "NW-4471", "63.40", "2026-12-14")),
                     "application/pdf"), "my scanned bill", "Northwind Energy", "$63.40", "Mon 14 Dec 2026"),
    ("png-photo", ("IMG_0042.pdf", bill_photo(ocr_bill("Greenleaf Insurance", "GL-2210", "88.20", "2026-12-20")),
                   "application/pdf"), "", "Greenleaf Insurance", "$88.20", "Sun 20 Dec 2026"),
    ("jpeg-photo", ("photo.png", bill_photo(ocr_bill("Summit Phone Co", "SP-310", "35.75", "2026-12-22"), "jpg"),
                    "image/png"), "", "Summit Phone", "$35.75", "Tue 22 Dec 2026"),
]


async def test_every_kind_of_bill_is_filed_from_the_chat(live_server: LiveServer):
    server = live_server
    async with ChatClient(server.url, "alice", USERS["alice"], timeout=90) as chat:
        for kind, file, text, vendor, amount, due in INPUTS:
            files = [await chat.upload(*file)] if file else []
            turn = await chat.send(text, files)
            assert [s["name"] for s in turn.tool_steps] == ["Filing the bill"], (kind, turn.names())
            assert f"Filed a bill from **{vendor}" in turn.text, (kind, turn.text)
            assert f"{amount}, due {due}" in turn.text, (kind, turn.text)
    db = server.database_url
    assert await count(db, "commitments") == len(INPUTS)
    assert await count(db, "documents") == len(INPUTS)
    mimes = sorted(r for r in await _mimes(db))
    assert mimes == sorted(["text/plain", "text/plain", "message/rfc822", "application/pdf", "application/pdf",
                            "image/png", "image/jpeg"])
    assert len(files_under(server.data_dir / "documents")) == len(INPUTS)  # every original stored once


async def _mimes(db: str) -> list[str]:
    from tests.web.conftest import query

    return [row["mime"] for row in await query(db, "SELECT mime FROM documents")]
