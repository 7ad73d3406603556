"""Malformed bills for tests/test_fuzz_ingest.py: hypothesis strategies that take the valid bills
tests/factories.py makes and break them, the way damaged, hostile or merely odd files are broken.

Every strategy yields a `Case`: the input (bytes for a file; text for a paste), how it reaches
add_bill ("file": an upload or `assistant ingest`; "paste": text pasted into the chat) and a label
that says how it was made ("pdf seed 1 | /Length=b'2147483648' | flip@310^0x40"), shown when the
test fails.

Two layers, both drawn by hypothesis (so a run is reproducible from its seed):

* structural damage by kind: PDFs (garbage xref, wrong stream lengths and filters, huge declared
  sizes, deep nesting, reference loops, password locks), PNG/JPEG (bad chunks and CRCs, absurd
  dimensions, broken markers), emails (bad encodings, broken boundaries, nested multiparts, bogus
  charsets, attachments of the wrong type) and texts (control characters, RTL marks, NULs, very long
  lines, lone surrogates, absurd amounts, names and numbers longer than any column);
* then 0-3 generic mutations any file suffers: a flipped byte, truncation at a random offset, a splice
  with another input, a repeated chunk, inserted or deleted bytes, an "interesting" token written in.

Seeds are built once per process (`functools.cache`): the photos are rendered with OpenCV.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage

from hypothesis import strategies as st

from tests.factories import (
    UTILITY_BILL, bill_email, bill_photo, bill_text, image_only_pdf, padded_pdf, text_pdf, tiny_png,
)

#: The largest input a strategy returns: well past any real bill, but under the app's 10 MB limit so
#: that the content is read (the limit has its own test in tests/web/test_bad_input.py).
MAX_INPUT = 3 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One malformed input and how it reaches add_bill."""

    kind: str  # "text" | "pdf" | "image" | "email" | "random"
    label: str
    via: str  # "file" | "paste"
    data: bytes = b""
    text: str = ""

    def __repr__(self) -> str:  # what hypothesis prints for a failing example: not megabytes of input
        return f"Case({self.kind}, {self.via}, {len(self.content())} bytes: {self.label})"

    def content(self) -> bytes:
        """The bytes as the app stores them (a paste: its UTF-8, a lone surrogate as "?")."""
        return self.data if self.via == "file" else self.text.encode("utf-8", "replace")


# --- seeds ---------------------------------------------------------------------------------------

def _due(day: int) -> date:
    return date(2026, 12, day)


@functools.cache
def text_seeds() -> tuple[bytes, ...]:
    return (bill_text().encode(), UTILITY_BILL.encode(),
            bill_text("City Water", "45.10", _due(10), invoice="W-77").encode(),
            bill_text("Stadtwerke Süd", "1.234,56", _due(2), invoice="S-1").encode("utf-8"),
            bill_text("Harbor Gas Co", "61.00", None, invoice="G-7").encode("cp1252"))


def _small_page(pdf: bytes) -> bytes:
    """The PDF with a 100x100 pt page instead of A4 (same length: the xref stays right). Its text layer
    is read all the same; a page without one is rendered for OCR, ~0.5 s at this size, ~5 s for A4."""
    return pdf.replace(b"/MediaBox [0 0 595 842]", b"/MediaBox [0 0 100 100]")


@functools.cache
def pdf_seeds() -> tuple[bytes, ...]:
    plain = (text_pdf(bill_text("Gas Co", "80.00", _due(20), invoice="G-11")), text_pdf(UTILITY_BILL),
             padded_pdf("Amount due: 5.00", 4096), image_only_pdf())
    return (*map(_small_page, plain), _locked_pdf(""), _locked_pdf("s3cret"))


@functools.cache
def image_seeds() -> tuple[bytes, ...]:
    return (tiny_png(), _square(bill_photo("Summit Phone Co\nAmount due: $35.75", "png"), ".png"),
            _square(bill_photo("Summit Phone Co\nAmount due: $35.75", "jpg"), ".jpg"))


def _square(photo: bytes, ext: str) -> bytes:
    """The photo on a 500x500 white page: OCR scales an image's short side up to 736 px, so a wide
    strip of text costs several times a square (a second per photo on two cores, instead of ~5)."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_GRAYSCALE)
    image = cv2.copyMakeBorder(image, 0, image.shape[1] - image.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=255)
    ok, data = cv2.imencode(ext, cv2.resize(image, (500, 500), interpolation=cv2.INTER_AREA))
    assert ok
    return data.tobytes()


@functools.cache
def email_seeds() -> tuple[bytes, ...]:
    body = bill_text("Harbor Gas Co", "61.00", _due(8), invoice="G-7")
    return (bill_email(body), bill_email(body.replace("\n", "<br>"), html=True),
            bill_email("Your bill is attached.", text_pdf(body), sender="Harbor Gas Co <billing@harborgas.example>"),
            _with_attachment(body, tiny_png(), "image", "png", "photo.png"))


def all_seeds() -> tuple[bytes, ...]:
    """Every seed: what a splice draws its second input from."""
    return text_seeds() + pdf_seeds() + image_seeds() + email_seeds()


def _locked_pdf(password: str) -> bytes:
    """A bill PDF encrypted (AES-256) with `password` as the user password ("" opens without one)."""
    from pypdf import PdfReader, PdfWriter

    bill = _small_page(text_pdf(bill_text("Locked Energy", "12.00", _due(5))))
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(bill)))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_attachment(body: str, payload: bytes, maintype: str, subtype: str, filename: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Summit Phone Co <bills@summit.example>", "a@example.com", "Bill"
    msg["Date"] = "Sat, 21 Nov 2026 09:00:00 +0000"
    msg.set_content(body)
    msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(msg)


# --- hostile text --------------------------------------------------------------------------------

#: Characters and strings that break naive text handling.
NASTY = ("\x00", "\x01", "\x07", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029", "\r", "\x0c", "\t",
         "\u202e", "\u200f", "\u2066", "\u200b", "\ufeff", "\ufffd", "\u0301" * 40, "\U0001f4b8", "ﷺ",
         "١٢٣٫٤٥", "𝟏𝟐𝟑.𝟒𝟓", "Ⅻ", "ß", "İ", "€", "NaN", "Infinity", "-0.00", "1e400", "%s%n", "{0}",
         "'; DROP TABLE documents; --", "<script>", "../../etc/passwd", "\\", "\"", "=?utf-8?B?AAAA?=")
#: Only a paste can hold these (a file's bytes are decoded, never into a lone surrogate).
SURROGATES = ("\ud800", "\udfff", "\udc80x")

_DIGITS = st.text("0123456789", min_size=1, max_size=40)


def weighted(**weights: int) -> st.SearchStrategy[str]:
    """One of the names, drawn in proportion to its weight (the costly inputs are the rare ones)."""
    return st.sampled_from([name for name, n in weights.items() for _ in range(n)])


#: Hostile edits of a bill's text. "huge" (a 1 MB line) takes seconds to read, store and index, so about
#: one text in a hundred gets one; "long_line" stays within a few pages.
TEXT_EDITS = weighted(nasty=50, amount=40, long_id=30, long_vendor=30, dates=30, unicode=40, long_line=20, huge=1)


@st.composite
def hostile_text(draw, surrogates: bool = False) -> tuple[str, str]:
    """A bill's text with 1-3 hostile edits: (text, label)."""
    text = draw(st.sampled_from(text_seeds())).decode("utf-8", "replace")
    notes = []
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(TEXT_EDITS)
        if edit == "nasty":
            pool = NASTY + (SURROGATES if surrogates else ())
            nasty, times = draw(st.sampled_from(pool)), draw(st.sampled_from((1, 1, 2, 2, 50, 50, 1000)))
            at = draw(st.integers(0, len(text)))
            text = text[:at] + nasty * times + text[at:]
            notes.append(f"nasty {nasty[:12]!r}x{times}@{at}")
        elif edit == "amount":  # more digits than any money column holds, or signs and separators
            amount = draw(st.one_of(_DIGITS.map(lambda d: d + ".00"), _DIGITS,
                                    st.sampled_from(("-120.50", "(120.50)", "0.00", "0,001", "1.234.567,89",
                                                     "99999999999999.99", "1 000 000 000 000,00"))))
            text = re.sub(r"(?i)(amount due:?\s*\$?)[^\n]*", lambda m: m.group(1) + amount, text, count=1)
            notes.append(f"amount={amount}")
        elif edit in ("long_line", "huge"):
            n = draw(st.sampled_from((1_000, 3_000, 10_000) if edit == "long_line" else (1_000_000,)))
            chunk = draw(st.sampled_from(("A", "1", "Amount due: $1.00 ", " ", "-", "€€", "12/12/2026 ", "\n")))
            text += "\n" + (chunk * (n // len(chunk) + 1))[:n] + "\n"
            notes.append(f"{edit} {chunk!r}x{n}")
        elif edit == "long_vendor":  # the vendor column is 200 characters
            name = draw(st.sampled_from(("Acme", "Ünïcødé Wörks", "X"))) + " Co" * draw(st.integers(70, 400))
            text = name + "\n" + text
            notes.append(f"vendor of {len(name)} chars")
        elif edit == "long_id":  # invoice and account numbers are 80 characters
            ident = "INV-" + draw(_DIGITS) * draw(st.integers(3, 40))
            field = draw(st.sampled_from(("Invoice number", "Account number")))
            text = re.sub(rf"{field}: [^\n]*", f"{field}: {ident}", text) if field in text else \
                f"{field}: {ident}\n{text}"
            notes.append(f"{field} of {len(ident)} chars")
        elif edit == "dates":
            when = draw(st.sampled_from(("2026-02-30", "9999-12-31", "0001-01-01", "10000-01-01", "31/31/2026",
                                         "0000-00-00", "2026-13-01", "29 February 2027", "1 Jan 1")))
            text += f"\nDue date: {when}\nStatement date: {when}\n"
            notes.append(f"dates {when}")
        else:
            alphabet = st.characters(exclude_categories=() if surrogates else ("Cs",))
            junk = draw(st.text(alphabet, max_size=200))
            at = draw(st.integers(0, len(text)))
            text = text[:at] + junk + text[at:]
            notes.append(f"unicode x{len(junk)}@{at}")
    return text, "; ".join(notes)


# --- generic mutations ---------------------------------------------------------------------------

INTERESTING = (b"\x00", b"\xff", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"0", b"-1",
               b"4294967296", b"99999999999999999999", b"%%EOF", b"endstream", b"endobj", b"stream\n", b"<<",
               b">>", b"[", b"(", b"\\", b"R", b"\r\n", b"\n\n", b"--", b"=\r\n", b"\xc3\x28", b"\xed\xa0\x80")


def _offset(draw, data: bytes) -> int:
    return draw(st.integers(0, len(data)))


def _flip(draw, data):
    if not data:
        return data, "flip (empty)"
    at = draw(st.integers(0, len(data) - 1))
    mask = draw(st.integers(1, 255))
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1:], f"flip@{at}^{mask:#x}"


def _truncate(draw, data):
    at = _offset(draw, data)
    return data[:at], f"truncate@{at}"


def _splice(draw, data):
    other = draw(st.sampled_from(all_seeds()))
    at, at2 = _offset(draw, data), _offset(draw, other)
    return data[:at] + other[at2:], f"splice@{at}+other[{at2}:]"


def _repeat(draw, data):
    at = _offset(draw, data)
    n = draw(st.integers(1, 64))
    times = draw(st.sampled_from((2, 10, 100, 1000) * 5 + (50_000,)))  # a huge input is slow to index: rare
    chunk = data[at:at + n] or b"\x00"
    return data[:at] + chunk * times + data[at:], f"repeat[{at}:+{n}]x{times}"


def _insert(draw, data):
    at = _offset(draw, data)
    junk = draw(st.binary(min_size=1, max_size=64))
    return data[:at] + junk + data[at:], f"insert {len(junk)}B@{at}"


def _delete(draw, data):
    at = _offset(draw, data)
    n = draw(st.integers(1, 256))
    return data[:at] + data[at + n:], f"delete[{at}:+{n}]"


def _token(draw, data):
    at = _offset(draw, data)
    token = draw(st.sampled_from(INTERESTING))
    overwrite = draw(st.booleans())
    end = at + len(token) if overwrite else at
    return data[:at] + token + data[end:], f"{'write' if overwrite else 'put'} {token!r}@{at}"


MUTATIONS: tuple[Callable, ...] = (_flip, _truncate, _splice, _repeat, _insert, _delete, _token)


@st.composite
def mutated(draw, data: bytes, label: str, at_most: int = 3) -> tuple[bytes, str]:
    """`data` after 0..`at_most` generic mutations; the label lists them."""
    notes = [label]
    for _ in range(draw(st.integers(0, at_most))):
        data, note = draw(st.sampled_from(MUTATIONS))(draw, data)
        notes.append(note)
    return data[:MAX_INPUT], " | ".join(notes)


def _sub(pattern: bytes, replace: bytes, data: bytes, count: int = 1) -> bytes:
    return re.sub(pattern, lambda _: replace, data, count=count, flags=re.DOTALL)


# --- PDFs ----------------------------------------------------------------------------------------

_HUGE = (b"0", b"-1", b"1", b"2147483647", b"2147483648", b"4294967296", b"9223372036854775808",
         b"99999999999999999999999999", b"1e30", b"3.5", b"1 0 R", b"99 0 R", b"/Name", b"()")


def _pdf_damage(draw, pdf: bytes) -> tuple[bytes, str]:
    how = draw(weighted(xref=3, startxref=3, length=3, filter=3, stream=3, count=3, mediabox=3, nesting=3, loop=3,
                        missing=3, objnum=3, header=3, trailer=3, hostile_text=3, none=3, bomb=1))
    if how == "xref":
        junk = draw(st.binary(max_size=200))
        return _sub(rb"xref\n.*?trailer", b"xref\n" + junk + b"\ntrailer", pdf), f"garbage xref {len(junk)}B"
    if how == "startxref":
        value = draw(st.sampled_from(_HUGE))
        return _sub(rb"startxref\n\d+", b"startxref\n" + value, pdf), f"startxref={value!r}"
    if how == "length":
        value = draw(st.sampled_from(_HUGE))
        return _sub(rb"/Length \d+", b"/Length " + value, pdf, count=0), f"/Length={value!r}"
    if how == "filter":
        value = draw(st.sampled_from((b"/LZWDecode", b"/ASCII85Decode", b"/ASCIIHexDecode", b"/DCTDecode",
                                      b"/JBIG2Decode", b"/RunLengthDecode", b"/CCITTFaxDecode", b"/JPXDecode",
                                      b"/Crypt", b"/Bogus", b"[/FlateDecode /FlateDecode]", b"[]", b"[/FlateDecode"
                                      b" /LZWDecode /ASCII85Decode]", b"/FlateDecode /DecodeParms << /Predictor 15 "
                                      b"/Columns 99999999 >>")))
        if b"/Filter" not in pdf:
            return pdf.replace(b"/Length", b"/Filter " + value + b" /Length", 1), f"filter {value!r} added"
        return _sub(rb"/Filter /FlateDecode", b"/Filter " + value, pdf), f"filter={value!r}"
    if how == "stream":  # the content replaced: garbage, a truncated deflate, or operators gone wrong
        body = draw(st.one_of(
            st.binary(max_size=300),
            st.sampled_from((zlib.compress(b"BT /F1 11 Tf (Amount due: 1.00) Tj ET")[:-5],
                             zlib.compress(b"BT /F9 99999 Tf 1e30 1e30 Td (x) Tj ET"),
                             zlib.compress(b"q " * 100_000), zlib.compress(b"BT " * 50_000 + b"(x) Tj"),
                             zlib.compress(b"BT /F1 11 Tf (" + b"(" * 5000 + b") Tj ET"),
                             zlib.compress(b"BT /F1 11 Tf <" + b"F" * 10001 + b"> Tj ET"),
                             zlib.compress(b"BT /F1 11 Tf [(a) -99999999999 (b)] TJ ET")))))
        out = re.sub(rb"stream\n.*?\nendstream", lambda _: b"stream\n" + body + b"\nendstream", pdf, count=1,
                     flags=re.DOTALL)
        return out, f"stream body {len(body)}B"
    if how == "count":
        value = draw(st.sampled_from(_HUGE))
        return _sub(rb"/Count \d+", b"/Count " + value, pdf), f"/Count={value!r}"
    if how == "mediabox":
        box = draw(st.sampled_from((b"[0 0 0 0]", b"[0 0 -595 -842]", b"[0 0 1e30 1e30]", b"[0 0 14400 14400]",
                                    b"[0 0 99999999 1]", b"[]", b"[0 0 595]", b"[/a /b /c /d]", b"null")))
        return _sub(rb"/MediaBox \[[^\]]*\]", b"/MediaBox " + box, pdf), f"/MediaBox {box!r}"
    if how == "nesting":
        depth = draw(st.sampled_from((100, 1000, 20_000, 200_000)))
        opener = draw(st.sampled_from((b"[", b"<<", b"<< /A ")))
        closer = b"]" if opener == b"[" else b">>"
        deep = b"/Deep " + opener * depth + closer * depth + b" "
        return pdf.replace(b"/Type /Page ", b"/Type /Page " + deep, 1), f"nesting {opener!r}x{depth}"
    if how == "loop":
        loop = draw(st.sampled_from(((b"/Kids [3 0 R]", b"/Kids [2 0 R]"), (b"/Kids [3 0 R]", b"/Kids [3 0 R 3 0 R]"),
                                     (b"/Parent 2 0 R", b"/Parent 3 0 R"), (b"/Contents 4 0 R", b"/Contents 3 0 R"),
                                     (b"/Pages 2 0 R", b"/Pages 1 0 R"), (b"/F1 5 0 R", b"/F1 3 0 R"),
                                     (b"/Root 1 0 R", b"/Root 3 0 R"),
                                     (b"/Contents 4 0 R", b"/Contents [4 0 R 4 0 R]"))))
        return pdf.replace(loop[0], loop[1], 1), f"{loop[0]!r}->{loop[1]!r}"
    if how == "missing":
        ref = draw(st.sampled_from((b"2 0 R", b"3 0 R", b"4 0 R", b"5 0 R")))
        other = draw(st.sampled_from((b"77 0 R", b"0 0 R", b"4 65535 R", b"-1 0 R", b"99999999999 0 R")))
        return pdf.replace(ref, other, 1), f"{ref!r}->{other!r}"
    if how == "objnum":
        which = draw(st.integers(1, 5))
        new = draw(st.sampled_from((b"0 0 obj", b"1 0 obj", b"4 99999 obj", b"-3 0 obj", b"999999999 0 obj")))
        return pdf.replace(f"\n{which} 0 obj".encode(), b"\n" + new, 1), f"obj {which}->{new!r}"
    if how == "header":
        head = draw(st.sampled_from((b"%PDF-9.9", b"%PDF-", b"%PDF-1.4\x00", b"  \n\t%PDF-1.7", b"%PDF-1.4\r%\xff")))
        return head + pdf[8:], f"header {head!r}"
    if how == "trailer":
        trailer = draw(st.sampled_from((b"trailer\n<< >>", b"trailer\n<< /Root 9 0 R /Size 1 >>",
                                        b"trailer\n<< /Size 6 /Root 1 0 R /Prev 0 >>",
                                        b"trailer\n<< /Size 6 /Root 1 0 R /Encrypt 1 0 R >>",
                                        b"trailer\n<< /Size 6 /Root 1 0 R /Info << /Title (\x00\xff) >> >>")))
        return _sub(rb"trailer\n<<.*?>>", trailer, pdf), f"trailer {trailer[8:40]!r}"
    if how == "hostile_text":  # a well-formed PDF whose text layer is hostile
        text, note = draw(hostile_text())
        return _small_page(text_pdf(text[:200_000])), f"text layer: {note}"
    if how == "bomb":  # a page that unpacks to megabytes of blanks
        pad = draw(st.sampled_from((1_000_000, 5_000_000)))
        return _small_page(padded_pdf("Amount due: 5.00", pad, pages=draw(st.integers(1, 3)))), f"padded {pad}B"
    return pdf, "intact"


@st.composite
def pdf_cases(draw) -> Case:
    i = draw(st.integers(0, len(pdf_seeds()) - 1))
    data, note = _pdf_damage(draw, pdf_seeds()[i])
    data, label = draw(mutated(data, f"pdf seed {i} | {note}"))
    return Case("pdf", label, "file", data)


# --- images --------------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


_DIMS = (0, 1, 2, 255, 6000, 65535, 65536, 100_000, 2**31 - 1, 2**32 - 1)


def _png_damage(draw, png: bytes) -> tuple[bytes, str]:
    how = draw(st.sampled_from(("dims", "ihdr", "crc", "chunk", "idat", "no-iend", "none")))
    ihdr_end = 8 + 8 + 13 + 4
    if how == "dims":
        w, h = draw(st.sampled_from(_DIMS)), draw(st.sampled_from(_DIMS))
        fixed_crc = draw(st.booleans())
        ihdr = struct.pack(">II", w, h) + png[24:29]
        return png[:8] + _chunk(b"IHDR", ihdr, None if fixed_crc else 0) + png[ihdr_end:], f"png {w}x{h}"
    if how == "ihdr":
        depth, color, interlace = (draw(st.sampled_from((0, 1, 3, 8, 16, 255))), draw(st.sampled_from((0, 1, 2, 3, 7))),
                                   draw(st.sampled_from((0, 1, 9))))
        ihdr = png[16:24] + bytes([depth, color, 0, 0, interlace])
        return png[:8] + _chunk(b"IHDR", ihdr) + png[ihdr_end:], f"png depth {depth} color {color} il {interlace}"
    if how == "crc":
        return png[:ihdr_end - 1] + bytes([png[ihdr_end - 1] ^ 1]) + png[ihdr_end:], "png ihdr crc"
    if how == "chunk":
        kind = draw(st.sampled_from((b"abCD", b"IDAT", b"PLTE", b"tEXt", b"zTXt", b"iCCP", b"\x00\x00\x00\x00")))
        body = draw(st.binary(max_size=100))
        chunk = draw(st.sampled_from((_chunk(kind, body), struct.pack(">I", 0xFFFFFFFF) + kind + body)))
        return png[:ihdr_end] + chunk + png[ihdr_end:], f"png chunk {kind!r} {len(body)}B"
    if how == "idat":
        body = draw(st.sampled_from((b"", b"\x78\x9c", zlib.compress(b"\x00" * 10), zlib.compress(b"\xff" * 100_000))))
        out = re.sub(rb"....IDAT.*?(?=....IEND)", lambda _: _chunk(b"IDAT", body), png, count=1, flags=re.DOTALL)
        return out, f"png idat {len(body)}B"
    if how == "no-iend":
        return png[:-12], "png without IEND"
    return png, "intact"


def _jpeg_damage(draw, jpg: bytes) -> tuple[bytes, str]:
    how = draw(st.sampled_from(("dims", "marker", "length", "cut", "none")))
    sof = re.search(rb"\xff[\xc0-\xc3]", jpg)
    if how == "dims" and sof:
        w, h = draw(st.sampled_from((0, 1, 65535, 30000))), draw(st.sampled_from((0, 1, 65535, 30000)))
        at = sof.start() + 5
        return jpg[:at] + struct.pack(">HH", h, w) + jpg[at + 4:], f"jpeg {w}x{h}"
    if how == "marker":
        marker = draw(st.sampled_from((b"\xff\xd8", b"\xff\xd9", b"\xff\xc0\x00\x02", b"\xff\xc4\x00\x00",
                                       b"\xff\xdb\xff\xff", b"\xff\xda\x00\x01", b"\xff\xe1\xff\xffExif\x00\x00",
                                       b"\xff\xdd\x00\x04\x00\x00", b"\xff" * 50)))
        at = draw(st.integers(2, len(jpg)))
        return jpg[:at] + marker + jpg[at:], f"jpeg marker {marker[:4]!r}@{at}"
    if how == "length":
        found = list(re.finditer(rb"\xff[\xc0-\xfe]", jpg[:2000]))
        if found:
            m = draw(st.sampled_from(found))
            value = draw(st.sampled_from((0, 1, 2, 0xFFFF)))
            return jpg[:m.end()] + struct.pack(">H", value) + jpg[m.end() + 2:], f"jpeg length {value}@{m.start()}"
    if how == "cut":
        return jpg[:draw(st.integers(3, 600))], "jpeg header only"
    return jpg, "intact"


def valid_png(width: int, height: int) -> bytes:
    """A well-formed white PNG of any size (a few hundred bytes for a sliver)."""
    raw = zlib.compress((b"\x00" + b"\xff" * width) * height)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", raw) + _chunk(b"IEND", b""))


#: Where an image comes from: a seed damaged, another magic number with garbage behind it, or a
#: well-formed image of absurd proportions (OCR of one takes seconds: rare).
IMAGE_SOURCES = weighted(damaged=9, magic=2, sliver=1)


@st.composite
def image_cases(draw) -> Case:
    source = draw(IMAGE_SOURCES)
    if source == "magic":
        magic = draw(st.sampled_from((b"GIF89a", b"GIF87a", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"\xff\xd8\xff",
                                      b"\x89PNG\r\n\x1a\n")))
        data, note = magic + draw(st.binary(max_size=512)), f"magic {magic[:4]!r} + garbage"
    elif source == "sliver":
        w, h = draw(st.sampled_from(((2000, 2), (2, 2000), (2200, 1), (1, 600), (3, 4000), (9000, 4))))
        data, note = valid_png(w, h), f"valid png {w}x{h}"
    else:
        i = draw(st.integers(0, len(image_seeds()) - 1))
        seed = image_seeds()[i]
        data, note = (_png_damage if seed.startswith(b"\x89PNG") else _jpeg_damage)(draw, seed)
        note = f"image seed {i} | {note}"
    data, label = draw(mutated(data, note, at_most=2))
    return Case("image", label, "file", data)


# --- emails --------------------------------------------------------------------------------------

_CHARSETS = ("utf-8", "us-ascii", "iso-8859-1", "x-bogus", "utf-99", "", "\"", "utf-8\x00", "utf-16", "utf-32",
             "cp1252", "unknown-8bit", "idna", "rot13", "base64", "zlib_codec", "utf_7")
_ENCODINGS = ("7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", "")
_TYPES = ("text/plain", "text/html", "application/pdf", "image/png", "image/jpeg", "application/octet-stream",
          "message/rfc822", "text/calendar", "multipart/mixed", "", "text", "/", "application/pdf; name=\"a")


def _encode(body: bytes, cte: str, draw) -> bytes:
    import base64
    import quopri

    if cte == "base64":
        encoded = base64.encodebytes(body)
        if draw(st.booleans()):  # invalid base64: bad padding, stray characters
            encoded = encoded[:-3] + draw(st.sampled_from((b"=", b"===", b"!!", b"\x00", b"")))
        return encoded
    if cte == "quoted-printable":
        return quopri.encodestring(body) + draw(st.sampled_from((b"", b"=", b"=ZZ", b"=\n=0")))
    return body


@st.composite
def _mime_part(draw, depth: int) -> bytes:
    """One MIME part (headers + body), possibly a multipart of its own."""
    ctype = draw(st.sampled_from(_TYPES))
    if ctype == "multipart/mixed" and depth > 0:
        return draw(_multipart(depth - 1))
    charset = draw(st.sampled_from(_CHARSETS))
    cte = draw(st.sampled_from(_ENCODINGS))
    body = draw(weighted(bill=3, text=3, random=3, empty=1, pdf=2, png=1, email=1))
    payload = {"bill": lambda: bill_text("Harbor Gas Co", "61.00", _due(8)).encode(),
               "pdf": lambda: pdf_seeds()[draw(st.integers(0, len(pdf_seeds()) - 1))],
               "png": lambda: draw(st.sampled_from(image_seeds())),
               "email": lambda: draw(st.sampled_from(email_seeds())),
               "random": lambda: draw(st.binary(max_size=300)),
               "empty": lambda: b"",
               "text": lambda: draw(hostile_text())[0].encode("utf-8", "surrogatepass")}[body]()
    filename = draw(st.sampled_from((None, "bill.pdf", "photo.png", "a" * 300 + ".pdf", "../../x.pdf",
                                     "=?utf-8?B?YmlsbC5wZGY=?=", "=?bogus?Q?x?=", "\u202eftp.exe", "")))
    disposition = draw(st.sampled_from(("attachment", "inline", "", "attachment; filename*=utf-8''%ZZ%",
                                        "attachment; filename*=bogus'en'bill.pdf")))
    headers = [f"Content-Type: {ctype}" + (f"; charset=\"{charset}\"" if draw(st.booleans()) else ""),
               f"Content-Transfer-Encoding: {cte}"]
    if disposition:
        headers.append(f"Content-Disposition: {disposition}" + (f"; filename=\"{filename}\"" if filename is not None
                                                                 else ""))
    return "\r\n".join(headers).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + _encode(payload, cte, draw)


@st.composite
def _multipart(draw, depth: int) -> bytes:
    boundary = draw(st.sampled_from(("b1", "==b2==", "", " ", "x" * 200, "b\"q", "b1--", "ümlaut")))
    subtype = draw(st.sampled_from(("mixed", "alternative", "related", "digest", "signed", "bogus")))
    parts = draw(st.lists(_mime_part(depth), max_size=4))
    sep = f"--{boundary}".encode("utf-8")
    end = draw(st.sampled_from(("closed", "unclosed", "wrong", "twice")))
    out = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\npreamble\r\n".encode("utf-8")
    for part in parts:
        out += sep + b"\r\n" + part + b"\r\n"
    out += {"closed": sep + b"--\r\n", "unclosed": b"", "wrong": b"--other--\r\n", "twice": (sep + b"--\r\n") * 2}[end]
    return out + b"epilogue\r\n"


def _headers(draw) -> bytes:
    sender = draw(st.sampled_from(("City Water Utility <billing@citywater.example>", "<<<>>>", "", "@", "\"\" <>",
                                   "=?utf-8?B?####?= <a@b>", "=?x-bogus?Q?Gas=20Co?= <g@c>", "a" * 5000 + " <a@b>",
                                   "Grüße GmbH <g@ü.example>", "undisclosed-recipients:;", "\x00 <n@ul>")))
    subject = draw(st.sampled_from(("Your bill", "=?utf-8?Q?=E2=82=AC_due?=", "=?utf-8?B?AAAA?=", "x\r\n\tfolded",
                                    "s" * 20_000, "\u202eeulav", "=?iso-8859-1?q?=FF?=")))
    when = draw(st.sampled_from(("Sat, 21 Nov 2026 09:00:00 +0000", "yesterday", "",
                                 "Mon, 31 Feb 99999 99:99:99 +9999")))
    extra = draw(st.sampled_from(("", "X-Spam: \x00\r\n", "Received: from a\r\n" * 200, "Bad Header No Colon\r\n",
                                  "MIME-Version: 9.0\r\n", ": empty name\r\n")))
    return (f"From: {sender}\r\nTo: a@example.com\r\nSubject: {subject}\r\nDate: {when}\r\n{extra}"
            "MIME-Version: 1.0\r\n").encode("utf-8", "surrogateescape")


@st.composite
def email_cases(draw) -> Case:
    how = draw(weighted(seed=4, built=4, nested=1))
    if how == "seed":
        i = draw(st.integers(0, len(email_seeds()) - 1))
        data, note = email_seeds()[i], f"email seed {i}"
        swap = draw(st.sampled_from((None, b"application/pdf", b"image/png", b"text/plain; charset=\"x-bogus\"",
                                     b"message/rfc822", b"multipart/mixed")))
        if swap is not None:  # an attachment (or the body) declared as what it is not
            data = re.sub(rb"Content-Type: [^\r\n;]+", lambda _: b"Content-Type: " + swap, data,
                          count=draw(st.integers(1, 3)))
            note += f" | type->{swap!r}"
    elif how == "built":
        data = _headers(draw) + draw(_multipart(depth=draw(st.integers(0, 3))))
        note = "email built"
    else:  # multiparts inside multiparts, deeper than any real mail
        depth = draw(st.sampled_from((10, 50, 300, 1200)))  # Python's email parser gives up near 1,000
        inner = b"Content-Type: text/plain\r\n\r\n" + bill_text("Deep Co", "9.99", _due(9)).encode()
        for level in range(depth):
            b = f"L{level}".encode()
            inner = (b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\r\n\r\n--" + b + b"\r\n" + inner
                     + b"\r\n--" + b + b"--\r\n")
        data, note = _headers(draw) + inner, f"email nested {depth}"
    data, label = draw(mutated(data, note, at_most=2))
    return Case("email", label, "file", data)


# --- texts and random input ----------------------------------------------------------------------

@st.composite
def text_cases(draw) -> Case:
    via = draw(st.sampled_from(("file", "paste")))
    text, note = draw(hostile_text(surrogates=via == "paste"))
    if via == "paste":
        return Case("text", f"paste | {note}", "paste", text=text)
    encoding = draw(st.sampled_from(("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "surrogateescape")))
    if encoding == "surrogateescape":  # invalid UTF-8 sequences in the file
        data = text.encode("utf-8", "replace").replace(b"e", b"\xe9\x80", 3)
    else:
        data = text.encode(encoding, "replace")
    data, label = draw(mutated(data, f"text file ({encoding}) | {note}", at_most=2))
    return Case("text", label, "file", data)


_MAGICS = (b"", b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP",
           b"From: a@b\nSubject: x\n\n", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe", b"\x1f\x8b\x08")


#: Characters random text is made of: printable ASCII, and what breaks naive text handling.
_ALPHABET = ("".join(map(chr, range(32, 127)))
             + "\n\r\t\x00\x0b\x0c\x1b\x7f\x85\xa0\u2028\u202e\u200f\ufeff\ufffd€ßİ١𝟏💸\ud800")


@st.composite
def random_cases(draw) -> Case:
    """Random bytes or characters, up to 64 KB, drawn from a hypothesis-seeded `Random` (hypothesis's own
    binary() strategy stays small), sometimes behind a magic number the reader sniffs."""
    rnd = draw(st.randoms(use_true_random=True))  # seeded from what hypothesis draws: reproducible
    size = draw(st.sampled_from((0, 1, 16, 200, 4096, 65536)))
    n = rnd.randint(0, size)
    if draw(st.booleans()):
        text = "".join(rnd.choices(_ALPHABET, k=n))
        if draw(st.booleans()):
            return Case("random", f"random paste {n} chars", "paste", text=text)
        return Case("random", f"random text file {n} chars", "file", data=text.encode("utf-8", "surrogatepass"))
    magic = draw(st.sampled_from(_MAGICS))
    data = magic + rnd.randbytes(n)
    return Case("random", f"random bytes {len(data)}B after {magic[:6]!r}", "file", data=data)


STRATEGIES = {"text": text_cases, "pdf": pdf_cases, "image": image_cases, "email": email_cases,
              "random": random_cases}
