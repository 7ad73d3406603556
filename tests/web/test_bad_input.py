"""Bad input in the chat, on SQLite and PostgreSQL: each gets a plain answer saying what is wrong,
and nothing is half-saved (no document, bill or vendor row, no stored original)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import pytest
from pypdf import PdfWriter

from tests.conftest import LiveServer
from tests.factories import bill_text, image_only_pdf, padded_pdf, text_pdf
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS, count, files_under


def encrypted_pdf(password: str = "s3cret") -> bytes:
    """A real bill PDF with a text layer, locked with a user password."""
    writer = PdfWriter(clone_from=io.BytesIO(text_pdf(bill_text())))
    writer.encrypt(user_password=password, owner_password="owner-" + password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def oversized_bill(size_mb: int = 50) -> bytes:
    """A genuine, readable text bill padded past the limit: only its size is wrong."""
    head = bill_text().encode()
    return head + b"\n" * (size_mb * 1024 * 1024 - len(head))


@dataclass
class Case:
    text: str
    file: tuple[str, bytes, str] | None  # name, content, mime (what a browser would send)
    says: list[str]  # words the user must see in the answer


CASES = {
    "empty-message": Case("", None, ["Your message was empty", "attach"]),
    "50MB-attachment": Case("here is my bill", ("bill.txt", oversized_bill(), "text/plain"),
                             ["bill.txt is 50.0 MB", "the limit is 10.0 MB", "Nothing was filed"]),
    "random-bytes-named-bill.pdf": Case(
        "", ("bill.pdf", random.Random(20261121).randbytes(64 * 1024), "application/pdf"),
        ["bill.pdf is not a text file or a PDF I can read"]),
    "scan-without-text-layer": Case("my scanned bill", ("scan.pdf", image_only_pdf(), "application/pdf"),
                                    ["scan.pdf has no text layer", "Paste the bill's text"]),
    "pdf-unpacking-past-100MB": Case("", ("bomb.pdf", padded_pdf("Amount due: 5.00", 110 * 1024 * 1024),
                                           "application/pdf"),
                                     ["bomb.pdf expands to more than 100.0 MB", "Nothing was filed"]),
    "password-protected-pdf": Case("", ("locked.pdf", encrypted_pdf(), "application/pdf"),
                                   ["locked.pdf is password-protected", "Remove the password"]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_bad_input_gets_a_clear_answer_and_saves_nothing(module_server: LiveServer, case: Case):
    server = module_server
    async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
        files = []
        if case.file is not None:
            name, data, mime = case.file
            files.append(await chat.upload(name, data, mime))
        turn = await chat.send(case.text, files)

    assert len(turn.texts) == 1, turn.names()
    for words in case.says:
        assert words in turn.text, turn.text
    assert "Traceback" not in turn.text and "went wrong on my side" not in turn.text
    if case.file is None:
        assert turn.tool_steps == []
    else:
        # the attempt is shown as a failed step, and the answer is not a success in disguise
        [step] = turn.tool_steps
        assert step["name"] == "Filing the bill"
        assert step["isError"] is True
        assert "Filed a bill" not in turn.text
        assert turn.text.startswith("I couldn't do that: ")

    # Nothing half-written: no rows, no stored original (the turn is over, so the tool has returned).
    db = server.database_url
    assert {t: await count(db, t) for t in ("documents", "commitments", "vendors", "vendor_aliases")} == {
        "documents": 0, "commitments": 0, "vendors": 0, "vendor_aliases": 0}
    assert files_under(server.data_dir / "documents") == []
