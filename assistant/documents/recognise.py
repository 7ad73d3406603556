"""Is a pasted message a bill (to file) or a question (to answer)?"""

from __future__ import annotations

import re

from assistant.documents.values import find_money

_BILL_WORDS = re.compile(
    r"\b(invoice|bill|statement|amount\s+due|total\s+due|balance|due\s+date|pay\s+by|payment\s+due|"
    r"rechnung|facture|factuur|account\s+(?:no|number))\b", re.IGNORECASE,
)


def looks_like_bill(text: str) -> bool:
    """Several lines (or a long paragraph), bill words, and an amount with a currency or cents."""
    stripped = text.strip()
    if len(stripped) < 40:
        return False
    lines = [line for line in stripped.splitlines() if line.strip()]
    if len(lines) < 3 and len(stripped) < 160:
        return False
    return bool(_BILL_WORDS.search(stripped)) and any(
        m.currency or m.has_decimals for m in find_money(stripped, "USD"))
