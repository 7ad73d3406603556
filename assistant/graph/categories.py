"""A vendor's category (utilities, insurance, ...), guessed from its name and its first bill's text.

Words per category live in `config/categories.yaml`. A word in the vendor's own name decides;
otherwise the bill's text must name a category's words at least `min_text_hits` times, and the
category named most wins. No guess is better than a wrong one: None when nothing is clear.
"""

from __future__ import annotations

import functools
import re

import yaml

from assistant.settings import config_dir


@functools.lru_cache(maxsize=1)
def _table() -> tuple[int, dict[str, re.Pattern[str]]]:
    raw = yaml.safe_load((config_dir() / "categories.yaml").read_text(encoding="utf-8"))
    patterns = {name: re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                                 + r")(?!\w)", re.IGNORECASE)
                for name, words in raw["categories"].items()}
    return int(raw.get("min_text_hits", 2)), patterns


def categories() -> list[str]:
    return list(_table()[1])


def guess_category(vendor_name: str, text: str = "") -> str | None:
    min_hits, patterns = _table()
    for name, pattern in patterns.items():
        if pattern.search(vendor_name):
            return name
    counts = {name: len(pattern.findall(text[:20_000])) for name, pattern in patterns.items()}
    best = max(counts, key=counts.get) if counts else None
    if best is None or counts[best] < min_hits:
        return None
    if sorted(counts.values())[-2] == counts[best]:  # a tie: not clear
        return None
    return best


def _stem(word: str) -> str:
    word = word.strip().lower()
    word = re.sub(r"\s+(?:bills?|invoices?|costs?|payments?)$", "", word)
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def canonical(words: str) -> str:
    """The category a person's words name, else the words themselves (lower-cased): what queries filter on."""
    return category_named(words) or words.strip().lower()


def category_named(words: str) -> str | None:
    """The category a person names ("utilities", "utility bills", "insurance") or None."""
    key = _stem(words)
    for name in categories():
        if key == _stem(name):
            return name
    return None
