"""Fuzzing the ingestion pipeline: malformed PDFs, photos, emails, texts and random bytes, on SQLite and
PostgreSQL. For every input:

* no crash: it ends in a filed bill, or in a message the user can act on (a refusal, a duplicate, a
  review card, a vendor question), never in the registry's "failed unexpectedly" (its traceback is
  shown) and never in an exception out of the pipeline;
* no hang: each input is given HANG_LIMIT seconds of wall clock (a hang detector, not a speed test);
* no partial rows: afterwards the user's rows hold the complete filing (document + commitment +
  vendor, consistent with each other and with the stored originals on disk) or exactly what they
  held before.

The entry point is the one the chat and `assistant ingest` use: `registry.call(add_bill)` with the
input as an attachment (a file on disk, or a pasted text), with the real database, document store and
search index. A review card is answered the way its Confirm button does (`web/app.py:_file_reviewed`);
the review threshold is raised from 0.35 to 0.5 (REVIEW_CONFIDENCE_BELOW) so that a good share of the
inputs (~40% of the texts) go through the card and the confirmed filing, with what the card shows.

Inputs come from tests/fuzz_inputs.py. Hypothesis runs from a fixed seed per database and kind (the
same inputs on every run and in CI, other inputs on each database), does not shrink (a failure names
its input by label and keeps its bytes under tmp_path; shrinking costly inputs would take minutes)
and keeps no example database. The database is not reset between examples (hypothesis does not re-run
fixtures): each example compares the rows after it with a snapshot taken before it.

Examples per test are in QUOTAS: 1,050 on SQLite, 250 on PostgreSQL (a photo or a scan that decodes
goes through OCR, ~0.5-5 s on two cores, so the PostgreSQL run is the smaller one); each test asserts
that its quota ran. Inputs that found bugs are replayed on both databases at the end of the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import signal
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from sqlalchemy import select

from assistant.graph.models import Commitment, Document, Vendor, VendorAlias
from assistant.messages import Attachment, ToolCall
from assistant.providers.offline.answers import describe_filing
from assistant.service import Services, build_services
from tests.conftest import make_settings
from tests.fuzz_inputs import STRATEGIES, Case, all_seeds

QUOTAS = {
    "sqlite": {"text": 300, "pdf": 250, "email": 150, "image": 100, "random": 250},
    "postgresql": {"text": 70, "pdf": 60, "email": 50, "image": 20, "random": 50},
}
HANG_LIMIT = 60  # seconds per input
FILE_NAMES = {"text": "bill.txt", "pdf": "bill.pdf", "image": "photo.jpg", "email": "bill.eml",
              "random": "upload.bin"}
# The registry's answers to an exception out of a tool, to arguments it refused (the Confirm step) and
# to a database that went away: none is a clear refusal of a bad input.
UNCLEAR = ("failed unexpectedly", "invalid arguments", "database is not reachable")


def test_the_quotas_add_up_to_a_thousand_inputs_and_more():
    assert sum(QUOTAS["sqlite"].values()) >= 1000 and set(QUOTAS["sqlite"]) == set(STRATEGIES)
    assert sum(QUOTAS["postgresql"].values()) >= 200 and set(QUOTAS["postgresql"]) == set(STRATEGIES)


# --- what the database holds ---------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """One user's filing rows (the columns that tie them together) and the originals on disk."""

    documents: dict[int, tuple]  # id -> (sha256, vendor_id, replaced_by_id, amount, currency)
    commitments: dict[int, tuple]  # id -> (document_id, vendor_id, amount, currency)
    vendors: dict[int, str]
    aliases: dict[int, int]  # id -> vendor_id
    files: frozenset[str]  # names under the documents directory

    def problems(self) -> list[str]:
        """Everything that would make this a partial or inconsistent filing."""
        found = []
        by_document: dict[int, list[int]] = {}
        for cid, (doc_id, vendor_id, amount, currency) in self.commitments.items():
            by_document.setdefault(doc_id, []).append(cid)
            if doc_id not in self.documents:
                found.append(f"commitment {cid} points to missing document {doc_id}")
                continue
            _, doc_vendor, _, doc_amount, doc_currency = self.documents[doc_id]
            if vendor_id not in self.vendors or vendor_id != doc_vendor:
                found.append(f"commitment {cid} vendor {vendor_id} != its document's {doc_vendor}")
            if (amount, currency) != (doc_amount, doc_currency):
                found.append(f"commitment {cid} {amount} {currency} != document {doc_amount} {doc_currency}")
        for did, (sha, vendor_id, replaced_by, _, _) in self.documents.items():
            if vendor_id not in self.vendors:
                found.append(f"document {did} has no vendor row ({vendor_id})")
            held = by_document.get(did, [])
            if len(held) > 1 or (not held and replaced_by not in self.documents):
                found.append(f"document {did} has {len(held)} commitments and replaced_by={replaced_by}")
        billed = {v for _, v, _, _ in self.commitments.values()}
        found += [f"vendor {vid} ({name!r}) has no bill" for vid, name in self.vendors.items() if vid not in billed]
        found += [f"alias {aid} of missing vendor {vid}" for aid, vid in self.aliases.items()
                  if vid not in self.vendors]
        shas = {sha for sha, *_ in self.documents.values()}
        found += [f"stored original {name} has no document row" for name in sorted(self.files - shas)]
        found += [f"document {sha} has no stored original" for sha in sorted(shas - self.files)]
        return found


async def snapshot(services: Services, user_id: str) -> Snapshot:
    async with services.sessions() as s:
        def rows(*columns, model):
            return s.execute(select(*columns).where(model.owner_id == user_id))

        docs = await rows(Document.id, Document.sha256, Document.vendor_id, Document.replaced_by_id,
                          Document.amount, Document.currency, model=Document)
        bills = await rows(Commitment.id, Commitment.document_id, Commitment.vendor_id, Commitment.amount,
                           Commitment.currency, model=Commitment)
        vendors = await rows(Vendor.id, Vendor.name, model=Vendor)
        aliases = await rows(VendorAlias.id, VendorAlias.vendor_id, model=VendorAlias)
        root = services.settings.documents_dir
        files = await asyncio.to_thread(lambda: frozenset(p.name for p in root.rglob("*") if p.is_file())
                                        if root.exists() else frozenset())
        return Snapshot({r[0]: tuple(r[1:]) for r in docs}, {r[0]: tuple(r[1:]) for r in bills},
                        {r[0]: r[1] for r in vendors}, {r[0]: r[1] for r in aliases}, files)


# --- one input through add_bill ------------------------------------------------------------------

class InputHung(Exception):
    """An input ran past the hang limit (raised by the alarm when the event loop itself is stuck)."""


@contextlib.contextmanager
def alarm(seconds: float, label: str) -> Iterator[None]:
    """Backstop for a hang that blocks the event loop (asyncio.wait_for cannot fire then): SIGALRM
    interrupts the main thread, regular expressions included, and fails the input by name."""
    def ring(signum, frame):
        raise InputHung(f"still running after {seconds:.0f} s: {label}")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Tracebacks(logging.Handler):
    """The traceback the registry logs when a tool raises (it answers "failed unexpectedly")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(logging.Formatter().format(record))


@dataclass
class Fuzzer:
    services: Services
    user_id: str
    work: Path
    tracebacks: Tracebacks
    examples: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (seconds, label), printed at the end

    async def call(self, attachment: Attachment, **args: Any) -> tuple[dict, bool]:
        ctx = self.services.tool_context(self.user_id, [attachment])
        outcome = await self.services.registry.call(
            ToolCall("fuzz", "add_bill", {"attachment_id": attachment.id, **args}), ctx)
        return outcome.result, outcome.is_error

    async def file(self, case: Case, attachment: Attachment) -> tuple[dict, bool]:
        """add_bill as the chat runs it; a review card answered with Confirm (as `_file_reviewed` does)."""
        result, is_error = await self.call(attachment)
        if not is_error and result.get("needs_review"):
            self.outcomes["review"] = self.outcomes.get("review", 0) + 1
            fields = result["fields"]
            given_ = {"vendor": fields.get("vendor"), "amount": fields.get("amount_due"),
                      "currency": fields.get("currency"), "due_date": fields.get("due_date")}
            result, is_error = await self.call(attachment, confirmed=True,
                                               **{k: str(v) for k, v in given_.items() if v is not None})
        return result, is_error

    async def check(self, case: Case) -> tuple[dict, bool]:
        """Files `case` and checks the outcome and the rows; returns add_bill's result and error flag."""
        self.examples += 1
        saved = self.work / f"failing-{case.kind}.bin"  # the bytes of the input, kept if it fails
        saved.write_bytes(case.content())
        name = f"{case.label} (bytes in {saved})"
        if case.via == "file":
            path = self.work / FILE_NAMES[case.kind]
            path.write_bytes(case.data)
            attachment = Attachment("file-1", path.name, "upload", path=path)
        else:
            attachment = Attachment("paste-1", "pasted bill", "paste", text=case.text)
        before = await snapshot(self.services, self.user_id)
        self.tracebacks.records.clear()
        started = time.monotonic()
        try:
            result, is_error = await asyncio.wait_for(self.file(case, attachment), HANG_LIMIT)
        except TimeoutError:
            raise AssertionError(f"hung for more than {HANG_LIMIT} s: {name}") from None
        self.slowest = sorted([*self.slowest, (time.monotonic() - started, case.label)], reverse=True)[:5]
        message = describe_filing(result, is_error)  # what the user is told
        assert message.strip(), name
        if is_error:
            error = result.get("error", "")
            assert not any(words in error for words in UNCLEAR), (
                f"{error}\n{name}\n" + "\n".join(self.tracebacks.records))
        after = await snapshot(self.services, self.user_id)
        assert not after.problems(), f"{after.problems()}\n{name}"
        outcome = "filed" if result.get("filed") else ("refused" if is_error else "answered")
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome != "filed":
            assert after == before, f"not filed, but the rows or files changed\n{name}"
            return result, is_error
        # filed: one new document (this input's), its commitment, at most one new vendor, nothing lost
        new_docs = set(after.documents) - set(before.documents)
        assert new_docs == {result["document_id"]} and set(before.documents) <= set(after.documents), name
        assert after.documents[result["document_id"]][0] == hashlib.sha256(case.content()).hexdigest(), name
        [bill] = [c for c, row in after.commitments.items() if row[0] == result["document_id"]]
        assert bill == result["bill"]["id"] and set(before.commitments) <= set(after.commitments), name
        assert len(set(after.commitments) - set(before.commitments)) == (0 if result["replaced_earlier"] else 1), name
        assert set(before.vendors) <= set(after.vendors) and len(after.vendors) - len(before.vendors) <= 1, name
        return result, is_error


@contextlib.contextmanager
def fuzzer(database_url: str, tmp_path: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, Fuzzer]]:
    """Services on `database_url` in an event loop of our own (hypothesis calls a plain function per
    example; each runs to completion in this loop), and the registry's error log watched.

    The loop is closed without waiting for its worker threads (asyncio.Runner would wait): after a hang
    in a thread (PDF parsing, OCR) the test fails and reports at once; the thread may still hold up the
    interpreter's exit, after the report."""
    tracebacks = Tracebacks()
    registry_log = logging.getLogger("assistant.toolkit")
    registry_log.addHandler(tracebacks)
    # pypdf warns once per damaged object: 200,000 nested dictionaries make 100,000 warnings, which
    # pytest's log capture keeps (~30 s). (The app logs them: assistant/logs.py leaves pypdf at WARNING.)
    pypdf_log = logging.getLogger("pypdf")
    pypdf_level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)
    work = tmp_path / "inputs"
    work.mkdir()
    all_seeds()  # built here, not inside a strategy (pypdf's encryption draws from `random`)
    loop = asyncio.new_event_loop()
    try:
        services = build_services(make_settings(tmp_path, database_url, review_below=0.5))
        try:
            user_id = loop.run_until_complete(services.user_id("fuzz"))
            yield loop, Fuzzer(services, user_id, work, tracebacks)
        finally:
            loop.run_until_complete(services.close())
            loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
        registry_log.removeHandler(tracebacks)
        pypdf_log.setLevel(pypdf_level)


@pytest.mark.parametrize("kind", list(STRATEGIES))
def test_malformed_input_is_filed_or_refused_whole(kind, database_url, tmp_path):
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    quota = QUOTAS[backend][kind]
    with fuzzer(database_url, tmp_path) as (loop, fuzz):
        @seed(zlib.crc32(f"{backend}-{kind}".encode()))  # reproducible; other inputs on each database
        @settings(max_examples=quota, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=STRATEGIES[kind]())
        def one(case: Case) -> None:
            with alarm(HANG_LIMIT + 30, case.label):
                loop.run_until_complete(fuzz.check(case))

        one()
    print(f"\n{backend} {kind}: {fuzz.examples} inputs, {fuzz.outcomes}; slowest: "
          + "; ".join(f"{t:.1f} s {label[:80]}" for t, label in fuzz.slowest))
    assert fuzz.examples >= quota, fuzz.examples  # the number of inputs is proven, not assumed


# --- inputs that found bugs (each once failed the fuzz test above) -------------------------------

def _regressions() -> dict[str, tuple[Case, str]]:
    """name -> (the input, what the user is told: "filed" or words of the refusal)."""
    from tests.factories import bill_email, bill_text, text_pdf
    from tests.fuzz_inputs import valid_png

    bill = bill_text("Harbor Gas Co", "61.00")
    nested = b"Content-Type: text/plain\r\n\r\n" + bill.encode()
    for level in range(2000):
        b = f"L{level}".encode()
        nested = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n" + nested
                  + b"\r\n--" + b + b"--\r\n")
    line = "Amount due: $1.00 1 Jan 2026 - 12/12/2026 "
    return {
        # email.get_content() raised LookupError: add_bill "failed unexpectedly"
        "charset x-bogus": (Case("email", "email seed 0 | type->text/plain; charset=x-bogus", "file",
                                 bill_email(bill).replace(b'charset="utf-8"', b'charset="x-bogus"')), "filed"),
        # text.encode("utf-8") raised UnicodeEncodeError on half an emoji
        "lone surrogates": (Case("text", "paste | nasty '\\ud800'x12@22", "paste",
                                 text=bill[:22] + "\ud800" * 12 + bill[22:]), "filed"),
        # pypdf seeks to startxref: OverflowError, which the reader did not catch
        "startxref 10^26": (Case("pdf", "pdf seed 0 | startxref=10^26 - 1", "file",
                                 re.sub(rb"startxref\n\d+", b"startxref\n" + b"9" * 26, text_pdf(bill))),
                            "could not be read as a PDF"),
        # the email parser recursed once per level: RecursionError
        "multiparts 2000 deep": (Case("email", "email nested 2000", "file",
                                      b"From: a@b.example\r\nSubject: bill\r\nMIME-Version: 1.0\r\n" + nested),
                                 "nested too deeply"),
        # a "related" multipart whose boundary is broken holds text, and email's get_body() called
        # is_attachment() on a str: AttributeError
        "broken related multipart": (Case("email", "email built (multipart/related; boundary=\"b\"q\")", "file",
                                          b'From: a@b.example\r\nSubject: bill\r\nMIME-Version: 1.0\r\n'
                                          b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
                                          b'Content-Type: multipart/related; boundary="b"q"\r\n\r\n--b"q\r\n'
                                          b'Content-Type: text/plain\r\n\r\nAmount due: $5.00\r\n--b1--\r\n'),
                                     "parts are damaged"),
        # PostgreSQL refused what SQLite stored: a NUL in the text, a 724-character invoice "number", an
        # amount past Numeric(14, 2)
        "NUL in an email body": (Case("email", "email built | NUL in the body", "file",
                                      bill_email(bill + "\x00\x00 Thank you.\n")), "filed"),
        "invoice number of 724 chars": (Case("text", "paste | Invoice number of 724 chars", "paste",
                                             text=bill.replace("INV-2026-0042", "INV-" + "1234" * 180)), "filed"),
        "amount of 10^12": (Case("text", "paste | amount=1 000 000 000 000,00", "paste",
                                 text=bill.replace("$61.00", "$1 000 000 000 000,00")), "more than any bill"),
        # every date looked back along its whole line and a line's labels were compared pairwise: a
        # 20 KB line of dates took 3 minutes on the event loop, this one hours (the alarm stops it)
        "30 KB line of dates and amounts": (Case("text", "long_line of dates and amounts", "file",
                                                 (bill + line * (30_000 // len(line))).encode()), "filed"),
        # OCR scales an image's short side up to 736 px: this 91-byte PNG took GBs and minutes
        "2000x2 png": (Case("image", "valid png 2000x2", "file", valid_png(2000, 2)), "could not read any text"),
    }


REGRESSIONS = _regressions()


@pytest.mark.parametrize("name", list(REGRESSIONS))
def test_inputs_that_found_bugs_are_filed_or_refused_whole(name, database_url, tmp_path):
    case, told = REGRESSIONS[name]
    with fuzzer(database_url, tmp_path) as (loop, fuzz), alarm(HANG_LIMIT + 30, case.label):
        result, is_error = loop.run_until_complete(fuzz.check(case))
    if told == "filed":
        assert result.get("filed") and not is_error, result
    else:
        assert is_error and told in result["error"], result


async def test_a_long_document_is_indexed_in_bounded_time(tmp_path):
    """Search indexing runs in the filing turn: a 1 MB text (1,500 chunks) kept the user waiting ~45 s, a
    10 MB one would take many minutes. Only its first MAX_INDEXED_CHARS are indexed now."""
    from assistant.documents.index import CHUNK_CHARS, MAX_INDEXED_CHARS, DocumentIndex

    index = DocumentIndex(make_settings(tmp_path, "sqlite+aiosqlite://"))
    stored = await index.add("owner", 1, "Acme", "Water and sewer service, 14 cubic meters. " * 25_000)
    assert 0 < stored <= 2 * MAX_INDEXED_CHARS // CHUNK_CHARS
    assert (await index.search("owner", "sewer service"))[0]["document_id"] == 1
