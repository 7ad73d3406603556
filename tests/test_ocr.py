"""Offline OCR keeps the spaces between words: they are put back from the blank gaps in the picture
(where the recogniser says each character is), not guessed from letter case."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from assistant.documents import ocr
from assistant.documents.extract import extract
from assistant.documents.reader import read_document
from tests.factories import bill_photo, scanned_pdf

MB = 1024 * 1024

GREENLEAF = ("Greenleaf Insurance\nAccount number: 7731-0042\nAmount due: $35.75\nDue date: 2026-12-20\n"
             "Thank you for your business.")
SUMMIT = "Summit Phone Co\nInvoice number: SP-90817\nTotal due: $1,204.50\nStatement date: 2026-11-01"


def read_bill(text: str, kind: str) -> str:
    data = scanned_pdf(text) if kind == "pdf" else bill_photo(text, kind)
    return read_document(data, f"bill.{kind}", 10 * MB, 10).text


@pytest.mark.parametrize("kind", ["png", "jpg", "pdf"])
def test_ocr_keeps_the_spaces_between_words(kind):
    text = read_bill(GREENLEAF, kind)
    assert "Greenleaf Insurance" in text                 # one join: split_glued_words alone left it
    assert "Amount due" in text and "$35.75" in text
    assert "Account number" in text and "Due date" in text
    assert "Thank you for your business" in text
    assert "7731-0042" in text and "2026-12-20" in text  # numbers are not cut up


@pytest.mark.parametrize("kind", ["png", "jpg", "pdf"])
def test_a_two_word_vendor_read_by_ocr_keeps_its_space(kind):
    text = read_bill(GREENLEAF, kind)
    found = extract(text, "USD")
    assert found.vendor.value == "Greenleaf Insurance"   # was "GreenleafInsurance"
    assert found.amount_due.value == Decimal("35.75")


@pytest.mark.parametrize("kind", ["png", "jpg", "pdf"])
def test_ocr_text_extracts_like_the_typed_bill(kind):
    text = read_bill(SUMMIT, kind)
    assert "Summit Phone Co" in text and "Invoice number" in text and "Total due" in text
    assert "$1,204.50" in text and "SP-90817" in text
    typed, read = extract(SUMMIT, "USD"), extract(text, "USD")
    for name in ("vendor", "amount_due", "issue_date", "invoice_number"):
        assert getattr(read, name).value == getattr(typed, name).value, name


# --- the rule itself, on drawn blocks (no model): a space needs a gap well above the others ---------


def _line(gaps: list[int], chars: str, glyph: int = 12, height: int = 30):
    """A white image with one black block per character, `gaps[i]` pixels between blocks i and i+1,
    and the OCR entry the recogniser would give for it (line box, text, score, character boxes)."""
    assert len(gaps) == len(chars) - 1
    image = np.full((height + 40, 40 + len(chars) * glyph + sum(gaps)), 255, np.uint8)
    x, top, boxes = 20, 20, []
    for i, _ in enumerate(chars):
        image[top:top + height, x:x + glyph] = 0
        boxes.append([[x, top], [x + glyph, top], [x + glyph, top + height], [x, top + height]])
        x += glyph + (gaps[i] if i < len(gaps) else 0)
    box = [[10.0, 12.0], [x + 10.0, 12.0], [x + 10.0, top + height + 8.0], [10.0, top + height + 8.0]]
    return image, [box, chars, 0.95, boxes, list(chars)]


def test_a_wide_gap_between_letters_is_a_space():
    image, entry = _line([3, 2, 14, 3, 3], "abcdef")
    assert ocr._lines([entry], image) == "abc def"


def test_evenly_spaced_letters_stay_one_word():
    image, entry = _line([14] * 6, "INVOICE")  # a letter-spaced heading: every gap is wide
    assert ocr._lines([entry], image) == "INVOICE"


def test_a_number_is_split_only_by_a_very_wide_gap():
    image, entry = _line([3, 3, 3, 12, 3, 3, 3], "1204.509")  # 12 px: a word gap, not enough in a number
    assert ocr._lines([entry], image) == "1204.509"
    image, entry = _line([3, 3, 3, 24, 3, 3], "ab12345")
    assert ocr._lines([entry], image) == "ab12 345"


def test_an_underscore_joins():
    image, entry = _line([3, 3, 14, 3, 3], "ab_cde")
    assert ocr._lines([entry], image) == "ab_cde"


def test_without_character_boxes_the_text_is_kept_and_titlecase_joins_split():
    image, entry = _line([3, 14, 3], "abcd")
    assert ocr._lines([entry[:3]], image) == "abcd"
    assert ocr._lines([[entry[0], "SoldBy:NorthStarTrading", 0.9]]) == "SoldBy:North Star Trading"


def test_ocr_array_asks_for_character_boxes_and_copes_without_them(monkeypatch):
    image, entry = _line([3, 14, 3], "abcd")
    calls = []

    def engine(img, **kwargs):
        calls.append(kwargs)
        if kwargs.get("return_word_box"):
            return [entry], [0.1]
        return [entry[:3]], [0.1]

    monkeypatch.setattr(ocr, "_engine", engine)
    assert ocr.ocr_array(np.dstack([image] * 3)) == "ab cd"
    assert calls == [{"return_word_box": True}]

    def fussy(img, **kwargs):
        if kwargs:
            raise IndexError("no boxes for this line")
        return [entry[:3]], [0.1]

    monkeypatch.setattr(ocr, "_engine", fussy)
    assert ocr.ocr_array(np.dstack([image] * 3)) == "abcd"
