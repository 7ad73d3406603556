"""Offline OCR for photos and scanned PDFs: `rapidocr-onnxruntime` ships its models (PP-OCRv4) in
the wheel, so nothing is downloaded. Blocking and CPU-heavy (seconds per page on two cores): call it
from a thread, as `reader.read_document` is.
"""

from __future__ import annotations

import re
import struct
import threading

MAX_PIXELS = 40_000_000  # a decompression bomb stops here (a phone photo is 12-50 MP; we refuse above 40)
MAX_SIDE = 2200  # larger images are scaled down first: faster, and as readable
MAX_OCR_PAGES = 5  # scanned PDFs: the first pages carry the bill

_engine = None
_lock = threading.Lock()


class OcrUnavailable(Exception):
    pass


def _get_engine():
    global _engine
    with _lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - it is a dependency
                raise OcrUnavailable("OCR is not installed") from exc
            _engine = RapidOCR()
        return _engine


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, without decoding the pixels."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:3] == b"\xff\xd8\xff":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0xD9) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


# where a Titlecase word starts right after another word: "RetailServices", "WSRetail"
_UP, _LOW = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_WORD_JOIN = re.compile(rf"(?<=[{_LOW}]{{2}})(?=[{_UP}][{_LOW}]{{2}})|(?<=[{_UP}]{{2}})(?=[{_UP}][{_LOW}]{{2}})")


def split_glued_words(text: str) -> str:
    """Put back the spaces OCR drops between words. The recogniser often reads a line of small type as
    one word ("WSRetailServicesPvt.Ltd."); a token in which two or more Titlecase words are glued is
    split where each starts ("WS Retail Services Pvt.Ltd."). A single join is left alone: it is as
    likely a name written that way ("PayPal", "QualityHosting")."""
    def split(m: re.Match[str]) -> str:
        token = m.group(0)
        return _WORD_JOIN.sub(" ", token) if len(_WORD_JOIN.findall(token)) >= 2 else token

    return re.sub(r"\S+", split, text)


def _lines(result) -> str:
    """OCR boxes in reading order: rows by vertical position, left to right within a row."""
    boxes = []
    for box, text, _score in result or []:
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        boxes.append((min(ys), max(ys), min(xs), split_glued_words(text)))
    boxes.sort()
    rows: list[list[tuple]] = []
    for top, bottom, left, text in boxes:
        if rows and top < rows[-1][0][1] - (rows[-1][0][1] - rows[-1][0][0]) / 2:
            rows[-1].append((top, bottom, left, text))
        else:
            rows.append([(top, bottom, left, text)])
    return "\n".join("  ".join(t for *_, t in sorted(row, key=lambda b: b[2])) for row in rows)


def ocr_array(image) -> str:
    import cv2

    height, width = image.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
    result, _ = _get_engine()(image)
    return _lines(result)


def ocr_image(data: bytes) -> str:
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a readable image")
    return ocr_array(image)


def ocr_pdf(data: bytes, max_pages: int = MAX_OCR_PAGES) -> str:
    """Render the first pages of a PDF without a text layer and read them."""
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        texts = []
        for index in range(min(len(pdf), max_pages)):
            page = pdf[index]
            width, height = page.get_size()
            scale = min(2.5, MAX_SIDE / max(width, height, 1))
            bitmap = page.render(scale=scale)
            array = np.ascontiguousarray(bitmap.to_numpy()[:, :, :3])
            texts.append(ocr_array(array))
        return "\n\n".join(t for t in texts if t.strip())
    finally:
        pdf.close()
