"""The offline extractor: a bill's text in, its fields out, each with a confidence and its source.

`extract(text, default_currency)` reads labels in English, German, French, Dutch and Polish
(`labels.py`), finds each label's value where PDF text tends to put it (`layout.py`), parses
amounts, dates and identifiers (`values.py`), and picks the issuer (`vendor.py`). It never invents a
value: a field it cannot find is None with confidence 0. A bill that prints no currency at all takes
that of the country it names ("..., Pune, India": INR), else the default currency, both with a low
confidence.

Confidence = how exactly the label names the field (tier) x how far the value sits from the label,
lowered when a cross-check fails:

- the due date falls before the issue date (both lowered);
- the amount to pay is larger than the total printed on the same bill;
- the bill names more than one currency.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from assistant.documents.labels import Kind, LabelHit
from assistant.documents.layout import Layout, Spot
from assistant.documents.values import (
    IBAN_RE, NUMBER_WORD, DateStyle, Money, complete_partial, country_currencies, currency_mentions, find_date_spans,
    find_dates, find_money, numeric_date_parts, parse_identifier, RANGE_SEPARATOR,
)
from assistant.documents.vendor import find_vendor

T = TypeVar("T")

_TIER_BASE = {3: 0.9, 2: 0.8, 1: 0.6}
_FAILED_CHECK = 0.6   # confidence factor when a cross-check fails


@dataclass(frozen=True)
class Field(Generic[T]):
    """One extracted value, how sure we are of it (0..1), and the text it came from."""

    value: T | None = None
    confidence: float = 0.0
    source: str | None = None

    def lowered(self, factor: float = _FAILED_CHECK) -> Field[T]:
        return Field(self.value, round(self.confidence * factor, 2), self.source)


_NOTHING: Field[Any] = Field()


@dataclass(frozen=True)
class Extraction:
    vendor: Field[str]
    amount_due: Field[Decimal]
    currency: Field[str]
    issue_date: Field[date]
    due_date: Field[date]
    invoice_number: Field[str]
    account_number: Field[str]
    service_period: Field[tuple[date, date]]
    minimum_due: Field[Decimal]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-able: {field: {"value", "confidence", "source"}}, dates as ISO strings, money as strings."""
        out = {}
        for f in fields(self):
            item: Field[Any] = getattr(self, f.name)
            out[f.name] = {"value": _jsonable(item.value), "confidence": item.confidence, "source": item.source}
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class _Candidate(Generic[T]):
    value: T
    score: float
    tier: int
    line: int
    snippet: str


def _pick(cands: list[_Candidate[T]], prefer_last: bool = False) -> _Candidate[T] | None:
    """The best candidate: highest tier, then score, then the value found most often, then position."""
    if not cands:
        return None
    counts = Counter(_plain(c.value) for c in cands)
    order = 1 if prefer_last else -1
    return max(cands, key=lambda c: (c.tier, round(c.score, 3), counts[_plain(c.value)], order * c.line))


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Money) else value


def _field(cand: _Candidate[T] | None, bonus_if_repeated: list[_Candidate[T]] | None = None) -> Field[T]:
    if cand is None:
        return _NOTHING
    score = cand.score
    if bonus_if_repeated and sum(c.value == cand.value for c in bonus_if_repeated) > 1:
        score = min(0.98, score + 0.05)
    return Field(cand.value, round(score, 2), cand.snippet)


# ----------------------------------------------------------------------------------------------
# the document as a whole


@dataclass
class _Doc:
    layout: Layout
    default_currency: str
    style: DateStyle
    currencies: list[str]


def _date_style(layout: Layout, currencies: list[str], default_currency: str) -> DateStyle:
    """Day-first or month-first: a first number above 12 in any numeric date settles it (a second one
    above 12 settles the other way); else "Month d, yyyy" vs "d Month yyyy" wording; else the
    language and currency (month-first only for English bills in US dollars)."""
    langs = layout.languages
    parts = numeric_date_parts(layout.text)
    if any(a > 12 >= b for a, b in parts):
        order = "DMY"
    elif any(b > 12 >= a for a, b in parts):
        order = "MDY"
    else:
        spans = [m for m in re.finditer(r"\b[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?\s*,\s*\d{4}", layout.text)]
        dmy = re.findall(r"\b\d{1,2}(?:st|nd|rd|th|er)?\.?\s+[A-Za-zÀ-ÿ]{3,}\.?\s+\d{4}", layout.text)
        currency = Counter(currencies).most_common(1)[0][0] if currencies else default_currency
        if spans and not dmy:
            order = "MDY"
        elif dmy and not spans:
            order = "DMY"
        else:
            order = "MDY" if langs[0] == "en" and currency == "USD" else "DMY"
    tongues = tuple(dict.fromkeys([*langs[:2], "en"]))
    return DateStyle(order, tongues)


def _spot_candidates(doc: _Doc, kind: Kind, parse, lines_ahead: int = 2, join_bare: bool = False,
                     accept=None, with_label: bool = False) -> list[_Candidate]:
    """For every label of `kind`, the first value `parse(spot)` (`parse(spot, hit)` with `with_label`)
    finds next to it."""
    cands = []
    for i, hit in doc.layout.labelled(kind):
        if accept is not None and not accept(i, hit):
            continue
        for spot in doc.layout.spots(i, hit, lines_ahead=lines_ahead, join_bare=join_bare):
            value = parse(spot, hit) if with_label else parse(spot)
            if value is not None:
                tier = hit.tier(kind)
                cands.append(_Candidate(value, _TIER_BASE[tier] * spot.weight, tier, spot.line, spot.snippet))
                break
    return cands


# ----------------------------------------------------------------------------------------------
# amounts and currency


def _labelled_money(doc: _Doc, spot: Spot) -> Money | None:
    found = find_money(spot.text, doc.default_currency)
    if not found:
        found = [m for m in find_money(spot.text, doc.default_currency, bare=True) if not _yearish(m)]
    return found[-1] if found else None   # the last amount on a table's total row is its total


def _yearish(m: Money) -> bool:
    return m.currency is None and 1900 <= m.value <= 2100


def _is_credit_note(layout: Layout) -> bool:
    """A credit note says so in its title: a short line near the top that starts with the words."""
    for i, hits in enumerate(layout.hits[:20]):
        for hit in hits:
            if hit.tier(Kind.TITLE) == 3 and hit.start <= 2 and len(layout.lines[i].split()) <= 6:
                return True
    return False


def _amount(doc: _Doc) -> tuple[Field[Decimal], Money | None]:
    cands = _spot_candidates(doc, Kind.AMOUNT, lambda s: _labelled_money(doc, s), join_bare=True)
    best = _pick(cands, prefer_last=True)
    if best is None:
        return _NOTHING, None
    money: Money = best.value
    result = _field(_Candidate(money.value, best.score, best.tier, best.line, best.snippet),
                    [_Candidate(c.value.value, c.score, c.tier, c.line, c.snippet) for c in cands])
    totals = [c.value.value for c in cands if c.tier < 3]
    if best.tier == 3 and totals and money.value > max(totals) + Decimal("0.005"):
        result = result.lowered()   # cross-check: asked to pay more than the bill's total
    if _is_credit_note(doc.layout) and money.value > 0:
        result = Field(-money.value, round(result.confidence * 0.9, 2), result.source)
    return result, money


def _minimum_due(doc: _Doc) -> Field[Decimal]:
    cands = _spot_candidates(doc, Kind.MIN_DUE, lambda s: _labelled_money(doc, s))
    best = _pick(cands)
    if best is None:
        return _NOTHING
    return Field(best.value.value, round(best.score, 2), best.snippet)


def _currency(doc: _Doc, money: Money | None, amount: Field[Decimal]) -> Field[str]:
    """The currency printed with the amount due, else the one the bill names most, else that of the country
    the bill names (OCR often loses "₹" or "€"), else the default."""
    distinct = set(doc.currencies)
    if money is not None and money.currency:
        result = Field(money.currency, 0.9, amount.source)
    elif doc.currencies:
        code, n = Counter(doc.currencies).most_common(1)[0]
        result = Field(code, 0.7 if n > 1 else 0.55, _line_with_currency(doc, code))
    elif amount.value is not None and (countries := country_currencies(doc.layout.text)):
        code, n = Counter(countries).most_common(1)[0]
        result = Field(code, 0.4, _line_with_country(doc, code))
        distinct = set(countries)
    elif amount.value is not None:
        return Field(doc.default_currency, 0.3, "no currency printed: the default currency")
    else:
        return _NOTHING
    if len(distinct) > 1:
        result = result.lowered()   # cross-check: the bill names several currencies
    return result


def _line_with_country(doc: _Doc, code: str) -> str | None:
    for line in doc.layout.lines:
        if code in country_currencies(line):
            return line
    return None


def _line_with_currency(doc: _Doc, code: str) -> str | None:
    for line in doc.layout.lines:
        if code in currency_mentions(line, doc.default_currency):
            return line
    return None


# ----------------------------------------------------------------------------------------------
# dates


def _first_date(doc: _Doc, spot: Spot) -> date | None:
    found = find_dates(spot.text, doc.style)
    return found[0][0] if found else None


def _excluded_for_issue(hits: list[LabelHit]) -> bool:
    """Lines whose dates are something else: due, period, order or delivery dates, terms."""
    return any(Kind.DUE in h.kinds or Kind.PERIOD in h.kinds or Kind.TERMS in h.kinds
               or h.tier(Kind.OTHER) >= 2 for h in hits)


def _issue_date(doc: _Doc) -> Field[date]:
    cands = _spot_candidates(doc, Kind.ISSUE, lambda s: _first_date(doc, s), lines_ahead=3)
    for i, hit in doc.layout.labelled(Kind.INVOICE_NO):   # "Facture n° 562044387 du 02 juillet 2015"
        line = doc.layout.lines[i]
        found = [d for d, span in find_dates(line[hit.end:], doc.style) if not _in_range(line[hit.end:], span)]
        if found:
            cands.append(_Candidate(found[0], 0.75, 2, i, line))
    if not cands:
        cands = _fallback_issue(doc)
    return _field(_pick(cands), cands)


def _fallback_issue(doc: _Doc) -> list[_Candidate[date]]:
    """No issue-date label: the first date of the bill that no other label claims (confidence 0.35)."""
    for i, line in enumerate(doc.layout.lines):
        if _excluded_for_issue(doc.layout.hits[i]):
            continue
        for value, span in find_dates(line, doc.style):
            if not _in_range(line, span):
                return [_Candidate(value, 0.35, 0, i, line)]
    return []


def _terms_days(text: str) -> int | None:
    m = re.search(r"(?:net\s*)?(\d{1,3})\s*(?:days?|tage[n]?|jours?|dagen|dni)\b|\bnet\s*(\d{1,3})\b", text, re.I)
    if not m:
        return None
    days = int(m.group(1) or m.group(2))
    return days if 0 < days <= 180 else None


def _due_date(doc: _Doc, issue: Field[date]) -> Field[date]:
    cands = _spot_candidates(doc, Kind.DUE, lambda s: _first_date(doc, s), lines_ahead=3)
    if issue.value is not None:
        for c in _spot_candidates(doc, Kind.TERMS, lambda s: _terms_days(s.text), lines_ahead=1):
            cands.append(_Candidate(issue.value + timedelta(days=c.value), 0.4, 0, c.line,
                                    f"{c.snippet} (from the issue date)"))
    best = _pick(cands)
    return _field(best, cands)


def _in_range(line: str, span) -> bool:
    """Is this date one end of a range ("01.05.14-31.05.14", "du 1er au 31 juillet 2015")?"""
    spans = find_date_spans(line)
    for other in spans:
        if other.end <= span.start and RANGE_SEPARATOR.match(line[other.end: span.start]):
            return True
        if other.start >= span.end and RANGE_SEPARATOR.match(line[span.end: other.start]):
            return True
    return bool(re.search(r"(?:-|–|\bau|\bbis|\bto|\btot)\s*$", line[: span.start])
                and re.search(r"\d{1,2}\s*(?:er|st|nd|rd|th)?\.?\s*(?:[A-Za-zÀ-ÿ]+\.?\s*)?(?:-|–|au|bis|to|tot)\s*$",
                              line[: span.start]))


def _ranges(doc: _Doc, line: str) -> list[tuple[date, date]]:
    found = find_dates(line, doc.style)
    out = []
    for (d1, s1), (d2, s2) in zip(found, found[1:]):
        if RANGE_SEPARATOR.match(line[s1.end: s2.start]) and d1 <= d2:
            out.append((d1, d2))
    for d2, s2 in found:
        d1 = complete_partial(line[: s2.start], d2, doc.style)
        if d1 is not None and not any(r[1] == d2 for r in out):
            out.append((d1, d2))
    return out


def _service_period(doc: _Doc) -> Field[tuple[date, date]]:
    """A labelled range ("Billing period July 1 - July 31, 2014") wins; else the range printed most."""
    labelled, seen = [], []
    for i, line in enumerate(doc.layout.lines):
        for rng in _ranges(doc, line):
            is_labelled = any(Kind.PERIOD in h.kinds for h in doc.layout.hits[i])
            (labelled if is_labelled else seen).append(_Candidate(rng, 0.85 if is_labelled else 0.5, 1, i, line))
    if labelled:
        return _field(labelled[0])
    best = _pick(seen)
    return _field(best, seen)


# ----------------------------------------------------------------------------------------------
# identifiers


def _keeps_hash(hit: LabelHit) -> bool:
    """After a label that already says "No."/"Number", a printed "#" belongs to the identifier."""
    return "#" not in hit.text and NUMBER_WORD.search(hit.text) is not None


def _invoice_number(doc: _Doc) -> Field[str]:
    parse = lambda s: parse_identifier(s.text)   # noqa: E731
    cands = _spot_candidates(doc, Kind.INVOICE_NO, lambda s, hit: parse_identifier(s.text, _keeps_hash(hit)),
                             lines_ahead=1, with_label=True)
    if not cands:   # a title followed by a number: "Invoice" / "INV/2023/03/0008"
        titles = _spot_candidates(doc, Kind.TITLE, parse, lines_ahead=1,
                                  accept=lambda i, hit: hit.start <= 2 and len(doc.layout.lines[i].split()) <= 4)
        cands = [_Candidate(c.value, 0.5 * c.score / 0.6, 1, c.line, c.snippet) for c in titles]
    if not cands:
        cands = _marked_number(doc)
    return _field(_pick(cands), cands)


_MARKED_ID = re.compile(r"(?:#|n[°º]|no\.)\s*(\S+)", re.IGNORECASE)


def _marked_number(doc: _Doc, top: int = 15) -> list[_Candidate[str]]:
    """No number label: a line near the top of a titled bill ("INVOICE" / "RECEIPT") that holds only a
    number sign and one identifier ("# INV-0042", "No. 2024/118") is the bill's number."""
    lines = doc.layout.lines[:top]
    if not any(hit.tier(Kind.TITLE) for hits in doc.layout.hits[:top] for hit in hits):
        return []
    for i, line in enumerate(lines):
        m = _MARKED_ID.fullmatch(line)
        value = parse_identifier(m.group(1)) if m else None
        if value is not None:
            return [_Candidate(value, 0.45, 1, i, line)]
    return []


def _not_bank(doc: _Doc, i: int, hit: LabelHit) -> bool:
    """The bank trap: an "Account No." among the vendor's bank details is the vendor's own account."""
    layout = doc.layout
    for j in range(max(0, i - 2), min(len(layout.lines), i + 2)):
        if any(Kind.BANK in h.kinds for h in layout.hits[j]):
            return False
    return True


def _account_number(doc: _Doc, invoice: Field[str]) -> Field[str]:
    def parse(spot: Spot, hit: LabelHit) -> str | None:
        value = parse_identifier(spot.text, _keeps_hash(hit))
        if value is None or IBAN_RE.match(spot.text.strip(" :#.-")) or value == invoice.value:
            return None
        return value

    cands = _spot_candidates(doc, Kind.ACCOUNT_NO, parse, lines_ahead=1, accept=lambda i, h: _not_bank(doc, i, h),
                             with_label=True)
    return _field(_pick(cands), cands)


# ----------------------------------------------------------------------------------------------


#: What the rules read of a document. A bill's fields sit on its first pages, and some rules cost more
#: than the text's length (the labels on one line are compared pairwise, each date of a line looks back
#: along it): a 20 KB line of dates kept the event loop busy for 3 minutes, a 1 MB one for hours (found
#: by tests/test_fuzz_ingest.py). 100,000 characters is ~30 pages; a printed line is ~100 characters.
MAX_TEXT = 100_000
MAX_LINE = 1_000


def _bounded(text: str) -> str:
    """The first MAX_TEXT characters of `text`, lines longer than MAX_LINE cut into lines of that length."""
    text = text[:MAX_TEXT]
    lines = text.split("\n")
    if all(len(line) <= MAX_LINE for line in lines):
        return text
    return "\n".join(line[i:i + MAX_LINE] for line in lines for i in range(0, len(line) or 1, MAX_LINE))


def extract(text: str, default_currency: str) -> Extraction:
    """Every field of the bill in `text`; `default_currency` applies only when none is printed."""
    text = _bounded(text)
    layout = Layout(text)
    currencies = currency_mentions(text, default_currency)
    doc = _Doc(layout, default_currency, _date_style(layout, currencies, default_currency), currencies)
    amount, money = _amount(doc)
    issue = _issue_date(doc)
    due = _due_date(doc, issue)
    if issue.value and due.value and due.value < issue.value:
        issue, due = issue.lowered(), due.lowered()   # cross-check: due before issued
    invoice = _invoice_number(doc)
    name, confidence, source = find_vendor(layout)
    return Extraction(
        vendor=Field(name, confidence, source) if name else _NOTHING,
        amount_due=amount,
        currency=_currency(doc, money, amount),
        issue_date=issue,
        due_date=due,
        invoice_number=invoice,
        account_number=_account_number(doc, invoice),
        service_period=_service_period(doc),
        minimum_due=_minimum_due(doc),
    )
