"""Test documents made on the fly: bills as text, PDFs with and without a text layer."""

from __future__ import annotations

import zlib
from datetime import date


# A utility bill written in prose: the due date is in a sentence ("no later than ..."), the name is
# printed twice in different forms. (The model extractor's tests read it.)
UTILITY_BILL = """Pacific Power
PO Box 4100, Portland, OR 97208
Customer: Jane Doe, 12 Elm Street
Invoice number: INV-2026-0042
Account number: 5512-3345-01
Statement date: November 1, 2026
Service from October 1 - October 31, 2026
Amount due: $120.50
Please make sure your payment reaches us no later than November 24, 2026.
Pacific Power & Light Co. is a registered utility.
"""


def bill_text(vendor: str = "Pacific Power", amount: str = "120.50", due: date | None = None,
              account: str | None = None, invoice: str = "INV-2026-0042") -> str:
    account = account or f"ACCT-{sum(map(ord, vendor)) * 7919 % 1_000_000:06d}"  # one per vendor
    due_line = f"Due date: {due.isoformat()}\n" if due else ""
    return (f"{vendor}\nInvoice number: {invoice}\nAccount number: {account}\n"
            f"Statement date: 2026-11-01\nAmount due: ${amount}\n{due_line}Thank you for your business.\n")


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def text_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer holds `text` (Helvetica, one line per line)."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    lines = text.splitlines() or [""]
    ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
    for line in lines:
        ops.append(f"({esc(line)}) Tj T*")
    ops.append("ET")
    stream = zlib.compress("\n".join(ops).encode("latin-1", "replace"))
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def padded_pdf(text: str, pad_bytes: int, pages: int = 1) -> bytes:
    """A text PDF whose every page's content stream unpacks to `pad_bytes` more (blank lines, which
    compress ~1000:1): a small file that expands a lot, the way a "zip bomb" does."""
    ops = "BT /F1 11 Tf 50 780 Td (" + text + ") Tj ET\n" + " " * pad_bytes
    stream = zlib.compress(ops.encode("latin-1"), 9)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode()]
    font = 3 + 2 * pages
    for i in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream
                       + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _pdf(objects)


def image_only_pdf() -> bytes:
    """A one-page PDF with a small grey image and no text at all (what a scan looks like)."""
    pixels = zlib.compress(bytes([128]) * (20 * 20))
    content = b"q 200 0 0 200 50 500 cm /Im1 Do Q"
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
        f"<< /Type /XObject /Subtype /Image /Width 20 /Height 20 /ColorSpace /DeviceGray "
        f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(pixels)} >>\nstream\n".encode()
        + pixels + b"\nendstream",
    ])


def tiny_png() -> bytes:
    """A valid 2x2 grey PNG (for "a photo of a bill" in tests that only need an image)."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([128, 128]) for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _rendered(text: str):
    """`text` drawn black on white (a grayscale numpy array), like a clean scan."""
    import cv2
    import numpy as np

    lines = text.splitlines()
    image = np.full((60 + 48 * len(lines), 1100), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(image, line, (30, 60 + 48 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2, cv2.LINE_AA)
    return image


def bill_photo(text: str, kind: str = "png") -> bytes:
    """A PNG (or, with kind="jpg", JPEG) "photo" of a bill whose lines are `text`."""
    import cv2

    ok, image = cv2.imencode(f".{kind}", _rendered(text))
    assert ok
    return image.tobytes()


def bill_email(body: str, attachment: bytes | None = None, html: bool = False,
               sender: str = "City Water Utility <billing@citywater.example>") -> bytes:
    """An RFC 822 email with `body` (plain or HTML) and, optionally, a PDF attached."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Your November bill"
    msg["Date"] = "Sat, 21 Nov 2026 09:00:00 +0000"
    if html:
        msg.set_content(f"<html><body><p>{body}</p></body></html>", subtype="html")
    else:
        msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="bill-november.pdf")
    return bytes(msg)


def scanned_pdf(text: str) -> bytes:
    """A one-page PDF holding only an image of `text` (no text layer), as a scanner makes."""
    image = _rendered(text)
    height, width = image.shape
    pixels = zlib.compress(image.tobytes())
    content = f"q 540 0 0 {540 * height // width} 30 {800 - 540 * height // width} cm /Im1 Do Q".encode()
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray "
        f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(pixels)} >>\nstream\n".encode()
        + pixels + b"\nendstream",
    ])
