"""Offline OCR for photos and scanned PDFs: `rapidocr-onnxruntime` ships its models (PP-OCRv4) in
the wheel, so nothing is downloaded. Blocking and CPU-heavy (seconds per page on two cores): call it
from a thread, as `reader.read_document` is. The recogniser often drops the spaces of Latin text;
they are put back from the gaps in the picture (see `_word_spaces`).
"""

from __future__ import annotations

import re
import struct
import threading

MAX_PIXELS = 40_000_000  # a decompression bomb stops here (a phone photo is 12-50 MP; we refuse above 40)
MAX_SIDE = 2200  # larger images are scaled down first: faster, and as readable
MAX_ASPECT = 8  # longer side / shorter side: thinner images get white margins
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


# Spaces from geometry. The recogniser (PP-OCRv4, trained mostly on Chinese) often reads a line of
# Latin text without its spaces ("GreenleafInsurance", "Amountdue:$35.75"), but the picture still has
# them: the blank columns between two words are clearly wider than those between two letters. The
# recogniser says where each character sits (`return_word_box`); a space goes back between two
# characters when the widest blank run of pixel columns between them is at least WORD_GAP of the
# height of the line's ink and well above the median gap between its letters (so letter-spaced
# headings stay whole). `split_glued_words` still runs after, for lines whose gaps were unreadable.
WORD_GAP = 0.25  # word gaps measure ~0.3-0.6 of the ink height, gaps inside a word mostly 0.05-0.2
NUMBER_GAP = 0.6  # inside a number ("2026-12-20", "1,118.00", "10:30") only a very wide gap splits
_DIGITS = frozenset("0123456789")
_IN_NUMBER_AFTER = _DIGITS | frozenset(".,:/-")  # digit then one of these: "12.", "3,1", "10:"
_IN_NUMBER_BEFORE = _DIGITS | frozenset("./-")  # one of these then a digit (not "," or ":": "Date:3")


def _blank_runs(ink_columns) -> tuple:
    """(start, end) arrays of the runs of columns without ink strictly inside the line's ink."""
    import numpy as np

    blank = np.concatenate(([False], ink_columns == 0, [False]))
    edges = np.flatnonzero(np.diff(blank.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    inner = (starts > 0) & (ends < len(ink_columns))  # not the margins left and right of the text
    return starts[inner], ends[inner]


def _word_spaces(gray, box, chars: list[str], char_boxes) -> set[int]:
    """Indexes i such that a space belongs between chars[i] and chars[i + 1]."""
    import cv2
    import numpy as np

    quad = np.asarray(box, np.float32)
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    if width < 4 or height < 4 or height >= 1.5 * width:  # vertical text: leave it as read
        return set()
    rect = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    to_line = cv2.getPerspectiveTransform(quad, rect)
    crop = cv2.warpPerspective(gray, to_line, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    centres = np.asarray(char_boxes, np.float32).reshape(len(chars), -1, 2).mean(axis=1)
    centres = cv2.perspectiveTransform(centres.reshape(-1, 1, 2), to_line).reshape(-1, 2)[:, 0]

    _, ink = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if ink.mean() > 0.5:  # light text on a dark band
        ink = 1 - ink
    # the text's rows: the run of inked rows holding the most ink (not a sliver of the next line),
    # with what sits just above or below it
    rows = ink.sum(axis=1)
    inked = np.concatenate(([False], rows > 0, [False]))
    edges = np.flatnonzero(np.diff(inked.astype(np.int8)))
    if len(edges) < 2:
        return set()
    runs = [[int(a), int(b)] for a, b in zip(edges[0::2], edges[1::2])]
    main = max(range(len(runs)), key=lambda r: rows[runs[r][0]:runs[r][1]].sum())
    top, bottom = runs[main]
    near = max(1, (bottom - top) // 6)  # an underscore or the dot of an "i" just off the letters
    for start, end in reversed(runs[:main]):
        if top - end > near:
            break
        top = start
    for start, end in runs[main + 1:]:
        if start - bottom > near:
            break
        bottom = end
    text_height = bottom - top
    starts, ends = _blank_runs(ink[top:bottom].sum(axis=0))
    mids = (starts + ends) / 2
    widths = ends - starts

    gaps = np.zeros(len(chars) - 1)
    for i in range(len(chars) - 1):
        lo, hi = np.searchsorted(mids, centres[i], "right"), np.searchsorted(mids, centres[i + 1], "left")
        if lo < hi:
            gaps[i] = widths[lo:hi].max()
    pairs = [i for i in range(len(chars) - 1) if not (chars[i].isspace() or chars[i + 1].isspace())]
    if not pairs:
        return set()
    # well above the usual gap between two letters (digits are often set wider: "4417-0093-1187")
    letters = [i for i in pairs if chars[i].isalpha() and chars[i + 1].isalpha()]
    floor = 2 * float(np.median(gaps[letters if len(letters) >= 3 else pairs])) + 1

    spaces = set()
    for i in pairs:
        a, b = chars[i], chars[i + 1]
        if _is_cjk(a) or _is_cjk(b) or "_" in (a, b):  # "invoice_number_1" is one word
            continue
        in_number = (a in _DIGITS and b in _IN_NUMBER_AFTER) or (b in _DIGITS and a in _IN_NUMBER_BEFORE)
        if gaps[i] >= floor and gaps[i] >= (NUMBER_GAP if in_number else WORD_GAP) * text_height:
            spaces.add(i)
    return spaces


def _is_cjk(char: str) -> bool:
    """Chinese, Japanese, Korean (and their full-width punctuation): written without spaces."""
    return ("\u2e80" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af" or "\uf900" <= char <= "\ufaff"
            or "\ufe30" <= char <= "\ufe4f" or "\uff00" <= char <= "\uffef")


def _line_text(gray, entry) -> str:
    """The text of one recognised line, with the spaces the picture shows put back."""
    box, text = entry[0], entry[1]
    if gray is not None and len(entry) >= 5:
        char_boxes, chars = entry[3], entry[4]
        if char_boxes and len(char_boxes) == len(chars) and "".join(chars) == text and len(chars) > 1:
            try:
                spaces = _word_spaces(gray, box, list(chars), char_boxes)
            except Exception:  # geometry we cannot use (degenerate box): the text as read
                spaces = set()
            text = "".join(c + (" " if i in spaces else "") for i, c in enumerate(chars))
    return split_glued_words(text)


def _lines(result, gray=None) -> str:
    """OCR boxes in reading order: rows by vertical position, left to right within a row."""
    boxes = []
    for entry in result or []:
        box = entry[0]
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        boxes.append((min(ys), max(ys), min(xs), _line_text(gray, entry)))
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
        height, width = image.shape[:2]
    # The detector scales the short side up to 736 px: a sliver (an 87-byte PNG of 2000x2 px) grew to
    # GBs and ran for minutes (found by tests/test_fuzz_ingest.py). White margins make it less thin.
    short = max(height, width) // MAX_ASPECT
    if min(height, width) < short:
        white = (255,) * (image.shape[2] if image.ndim == 3 else 1)
        image = cv2.copyMakeBorder(image, 0, max(0, short - height), 0, max(0, short - width),
                                   cv2.BORDER_CONSTANT, value=white)
    engine = _get_engine()
    try:
        result, _ = engine(image, return_word_box=True)  # + where each character is: ~4% more time
    except Exception:  # the character boxes are an extra; without them we still have the text
        return _lines(engine(image)[0])
    return _lines(result, _gray(image))


def _gray(image):
    import cv2

    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    return None  # an odd layout: the text as read, without the spaces from geometry


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
