"""A person's corrections to a bill shown for review: "vendor City Water; amount 45,10; due 10 Dec 2026"."""

from __future__ import annotations

import re

import dateparser

from assistant.documents.values import parse_decimal as parse_amount

_KEYS = {
    "vendor": r"vendor|from|company|biller|payee",
    "amount": r"amount(?:\s+due)?|total|sum",
    "due_date": r"due(?:\s+date)?|pay\s+by",
    "currency": r"currency",
}


def parse_corrections(text: str) -> dict[str, object]:
    """{"vendor": str, "amount": Decimal, "due_date": date, "currency": str} for the parts given."""
    out: dict[str, object] = {}
    for part in re.split(r"[;\n]|,\s+(?=(?:" + "|".join(_KEYS.values()) + r")\b)", text, flags=re.IGNORECASE):
        part = part.strip()
        for key, pattern in _KEYS.items():
            m = re.match(rf"(?:{pattern})\s*(?:is|=|:)?\s*(.+)$", part, re.IGNORECASE)
            if not m:
                continue
            value = m.group(1).strip().strip("`'\"")
            if key == "amount":
                number = re.search(r"-?\d[\d.,' ]*", value)
                parsed = parse_amount(number.group(0)) if number else None
                if parsed is not None:
                    out[key] = parsed
            elif key == "due_date":
                parsed_date = dateparser.parse(value, settings={"PREFER_DAY_OF_MONTH": "first"})
                if parsed_date:
                    out[key] = parsed_date.date()
            elif key == "currency":
                if re.fullmatch(r"[A-Za-z]{3}", value):
                    out[key] = value.upper()
            else:
                out[key] = value
            break
    return out
