"""Bytes -> text. The type is decided by content, not by the file name.

Blocking work (PDF parsing) is meant to run in a thread: call `read_document` via
`asyncio.to_thread` (see `read_attachment`).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.documents import ocr

log = logging.getLogger(__name__)


class DocumentError(Exception):
    """The document cannot be used; the message tells the user why, in plain words."""


@dataclass
class ReadDocument:
    text: str
    mime: str
    pages: int
    sha256: str
    size_bytes: int
    data: bytes

    def __post_init__(self) -> None:
        # NUL is no character of a bill, and PostgreSQL's text columns refuse it ("invalid byte sequence
        # for encoding UTF8: 0x00"): a PDF's text layer or an email's body can hold some.
        self.text = self.text.replace("\x00", "")


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif",
               b"RIFF": "image/webp"}


def sniff_image(head: bytes) -> str | None:
    """The image type of a file from its first bytes, or None."""
    for magic, mime in IMAGE_MAGIC.items():
        if head.startswith(magic) and (mime != "image/webp" or head[8:12] == b"WEBP"):
            return mime
    return None


DEFAULT_MAX_DECOMPRESSED = 100 * 1024 * 1024


def read_document(data: bytes, name: str, max_bytes: int, max_pages: int,
                  max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> ReadDocument:
    """Text from a text file, an email or a PDF (an image or a scan: through OCR).

    Limits, each with its own message: `max_bytes` (the file), `max_pages` (a PDF's pages),
    `max_decompressed` (what a PDF's compressed streams expand to, all pages together, and the text
    taken out of it: a small file can hold a "zip bomb"). Images are limited by their pixel count
    (`ocr.MAX_PIXELS`), read from the header before any pixel is decoded."""
    if not data:
        raise DocumentError(f"{name} is empty.")
    if len(data) > max_bytes:
        raise DocumentError(f"{name} is {_mb(len(data))}; the limit is {_mb(max_bytes)}. Nothing was filed.")
    sha = hashlib.sha256(data).hexdigest()
    image = sniff_image(data[:16])
    if image:
        return ReadDocument(_image_text(data, name), image, 1, sha, len(data), data)
    if data.lstrip()[:5] == b"%PDF-":
        text, pages = _pdf_text(data, name, max_pages, max_decompressed)
        return ReadDocument(text, "application/pdf", pages, sha, len(data), data)
    if looks_like_email(data):
        try:
            text = _email_text(data, name, max_bytes, max_pages, max_decompressed)
        except RecursionError as exc:  # the parser recurses once per multipart: 1,000 nested ones stop it
            raise DocumentError(f"{name} is an email nested too deeply to read (parts inside parts, "
                                "hundreds deep). Forward the bill on its own or attach its PDF.") from exc
        except (AttributeError, TypeError, IndexError) as exc:
            # the email package trips over some broken structures: a multipart whose boundary is broken
            # holds text, not parts, and get_body()/iter_attachments() call part methods on that text
            log.info("email unreadable", extra={"file_name": name, "error": type(exc).__name__})
            raise DocumentError(f"{name} is an email whose parts are damaged, so I could not read it. "
                                "Forward the bill again, or attach its PDF or paste its text.") from exc
        return ReadDocument(text, "message/rfc822", 1, sha, len(data), data)
    return ReadDocument(_plain_text(data, name), "text/plain", 1, sha, len(data), data)


_HEADER = re.compile(rb"^(?:Received|Return-Path|Delivered-To|From|To|Subject|Date|Message-ID|MIME-Version|"
                     rb"Content-Type|X-[\w-]+|Reply-To|DKIM-Signature|ARC-[\w-]+):", re.IGNORECASE)


def looks_like_email(data: bytes) -> bool:
    """An RFC 822 message: it starts with header lines, among them From and one of Subject/Date/MIME-Version."""
    head = data[:4096].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].split(b"\n")
    if not head or not _HEADER.match(head[0]):
        return False
    names = {line.split(b":", 1)[0].strip().lower() for line in head if b":" in line and not line[:1].isspace()}
    return b"from" in names and bool(names & {b"subject", b"date", b"mime-version"})


def _email_text(data: bytes, name: str, max_bytes: int, max_pages: int, max_decompressed: int) -> str:
    """The sender, subject and body of an email, followed by the text of its PDF and text attachments
    (a bill is often the attachment, the sender names the vendor)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    parts = [f"From: {message.get('From', '')}", f"Subject: {message.get('Subject', '')}",
             f"Date: {message.get('Date', '')}", ""]
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        try:
            content = body.get_content()
        except LookupError:  # a charset Python does not know ("x-bogus"): its bytes read as UTF-8
            content = (body.get_payload(decode=True) or b"").decode("utf-8", "replace")
        if body.get_content_type() == "text/html":
            content = _html_text(content)
        parts.append(content.strip())
    for attachment in message.iter_attachments():
        filename = attachment.get_filename() or "attachment"
        payload = attachment.get_payload(decode=True) or b""
        if not payload or len(payload) > max_bytes:
            continue
        try:
            inner = read_document(payload, filename, max_bytes, max_pages, max_decompressed)
        except DocumentError as exc:
            parts.append(f"\n[attachment {filename}: {exc}]")
            continue
        if inner.text:
            parts.append(f"\n--- attachment: {filename} ---\n{inner.text.strip()}")
    text = "\n".join(parts).strip()
    if not text:
        raise DocumentError(f"{name} is an email with nothing readable in it.")
    return text


def _html_text(html: str) -> str:
    html = re.sub(r"(?is)<(script|style).*?</\1>", " ", html)
    html = re.sub(r"(?i)<br\s*/?>|</p>|</tr>|</div>|</h\d>", "\n", html)
    text = re.sub(r"<[^>]+>", " ", html)
    text = (text.replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&euro;", "€").replace("&pound;", "£"))
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines() if line.strip())


def _plain_text(data: bytes, name: str) -> str:
    head = data[:8192]
    if b"\x00" in head:
        raise DocumentError(
            f"{name} is not a text file or a PDF I can read (it looks like binary data). "
            "Attach the bill as a PDF or a .txt file, or paste its text."
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise DocumentError(f"{name} is not readable text.")
    controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\r\n\t\f")
    if controls > max(4, len(text[:8192]) // 50):
        raise DocumentError(f"{name} is not a text file or a PDF I can read (it looks like binary data).")
    if not text.strip():
        raise DocumentError(f"{name} has no text in it.")
    return text.replace("\r\n", "\n")


def _too_big(name: str, limit: int) -> DocumentError:
    return DocumentError(f"{name} expands to more than {_mb(limit)} when unpacked (the limit for one document); "
                         "it is not a bill I can read. Nothing was filed.")


def _pdf_text(data: bytes, name: str, max_pages: int, max_decompressed: int) -> tuple[str, int]:
    from pypdf import apply_configuration
    from pypdf.errors import LimitReachedError

    # pypdf stops any one stream at the limit; the pages' streams together are counted below.
    limits = {k: max_decompressed for k in ("maximum_declared_stream_length", "zlib_maximum_output_length",
                                            "lzw_maximum_output_length", "run_length_maximum_output_length",
                                            "array_based_stream_maximum_output_length",
                                            "brotli_maximum_output_length", "jbig2_maximum_output_length",
                                            "image_maximum_buffer_size")}
    try:
        with apply_configuration(**limits):
            return _pdf_text_limited(data, name, max_pages, max_decompressed)
    except LimitReachedError as exc:
        log.info("pdf over the decompressed limit", extra={"file_name": name})
        raise _too_big(name, max_decompressed) from exc


def _pdf_text_limited(data: bytes, name: str, max_pages: int, max_decompressed: int) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("")
            except Exception:
                unlocked = 0
            if not unlocked:
                raise DocumentError(
                    f"{name} is password-protected. Remove the password (or print it to a new PDF) "
                    "and attach it again."
                )
        pages = len(reader.pages)
        if pages > max_pages:
            raise DocumentError(f"{name} has {pages} pages; the limit is {max_pages}. Nothing was filed.")
        unpacked, texts = 0, []
        for page in reader.pages:
            contents = page.get_contents()
            unpacked += len(contents.get_data()) if contents is not None else 0
            if unpacked > max_decompressed:
                raise _too_big(name, max_decompressed)
            texts.append(page.extract_text() or "")
            unpacked += len(texts[-1])
            if unpacked > max_decompressed:
                raise _too_big(name, max_decompressed)
        text = "\n".join(texts)
    except (DocumentError, LimitReachedError):
        raise
    except FileNotDecryptedError as exc:
        raise DocumentError(f"{name} is password-protected.") from exc
    except NotImplementedError as exc:  # an /Encrypt entry naming a handler pypdf lacks (found by fuzzing)
        raise DocumentError(f"{name} is encrypted in a way I cannot read; send an unprotected copy.") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError,
            RecursionError, OSError, AssertionError, ZeroDivisionError, OverflowError) as exc:
        log.info("pdf unreadable", extra={"file_name": name, "error": type(exc).__name__})
        raise DocumentError(f"{name} could not be read as a PDF: the file looks damaged.") from exc
    if not text.strip():
        text = _ocr(lambda: ocr.ocr_pdf(data), name)
    if not text.strip():
        raise DocumentError(
            f"{name} has no text layer (it looks like a scan) and I could not read any text in the "
            "scanned pages. Paste the bill's text, or attach a sharper scan."
        )
    return text, pages


def _image_text(data: bytes, name: str) -> str:
    size = ocr.image_size(data)
    if size and size[0] * size[1] > ocr.MAX_PIXELS:
        raise DocumentError(f"{name} is a {size[0]}x{size[1]} image, too large to read; send a smaller photo.")
    return _ocr(lambda: ocr.ocr_image(data), name)


def _ocr(run, name: str) -> str:
    """OCR text, or "" when OCR cannot read it (the caller says so plainly)."""
    try:
        return run()
    except Exception as exc:  # a broken image, an unusual PDF: no text, not a crash
        log.info("ocr failed", extra={"file_name": name, "error": type(exc).__name__})
        return ""


async def read_path(path: Path, name: str, max_bytes: int, max_pages: int,
                    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> ReadDocument:
    """Read a file from disk off the event loop, refusing an oversized one before loading it."""
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    if size > max_bytes:
        raise DocumentError(f"{name} is {_mb(size)}; the limit is {_mb(max_bytes)}. Nothing was filed.")
    data = await asyncio.to_thread(path.read_bytes)
    return await asyncio.to_thread(read_document, data, name, max_bytes, max_pages, max_decompressed)


async def sniff_path(path: Path) -> str | None:
    def head() -> bytes:
        with path.open("rb") as fh:
            return fh.read(16)

    return sniff_image(await asyncio.to_thread(head))


async def read_text(text: str, name: str, max_bytes: int) -> ReadDocument:
    # "replace": a paste can hold a lone surrogate (half an emoji, sent as "\ud800" in JSON), which
    # UTF-8 cannot encode; it becomes "?" rather than a crash.
    return await asyncio.to_thread(read_document, text.encode("utf-8", "replace"), name, max_bytes, 1)
