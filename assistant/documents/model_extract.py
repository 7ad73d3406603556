"""The model extractor: a bill's fields read by the configured model as structured output, then every
value checked against the document's own text. Same result type as the offline extractor (`Extraction`).

A model may misread, tidy up or invent a value, so none is taken on its word. A value counts as
checked when the text shows it:

- amounts: `find_money` finds the same value in the text (one with a currency or two decimals; a bare
  integer only counts as a weak match);
- dates: `find_date_spans` finds a date that reads as that day, in the document's day/month order
  when its numeric dates settle it (an ambiguous "03/04/2026" in a document that does not is a weak
  match); the start of a range may be partial ("July 1 - July 31, 2014");
- currency: the text names it (symbol, code or word); a bill naming none gets the default currency
  at the offline extractor's low confidence;
- invoice and account numbers: the same letters and digits, separators aside, as a whole token (no
  fuzzy matching: one digit off is another number); the value kept is the one printed;
- vendor: the normalised name (case, punctuation, spacing) as whole words in a line, else a rapidfuzz
  partial ratio of at least 90 against a line.

A checked value gets confidence 0.9 (0.95 when the offline rules read the same, 0.75 when they
confidently read something else; 0.7 for a weak match) and, as its source, the line it was found on.
A value the text does not show is not accepted as it is: the offline extractor's value for the field
takes its place; if the rules found none, the model's value is kept with half the review threshold as
confidence, so the chat's review card asks the user. A field the model reports as absent keeps the
offline reading. A photo goes to the model as an image too (the caller decides whether the provider
sees images); its values are checked against the OCR text, and with no text they all stay below the
review threshold. Then the offline extractor's cross-checks: a due date before the issue date lowers
both, a minimum due above the amount due lowers the minimum, a bill naming several currencies lowers
the currency, and a period that ends before it starts is not taken.

The document goes to the model as data between random markers and the prompt (`prompts/extract_bill.md`)
says it is never instructions. The call goes through the provider it is given, i.e. through the budget:
reserved, settled and recorded in the ledger with the turn's ids. `BudgetExceeded` (refused) and
`ProviderError` (failed, or an answer that is not the requested JSON) reach the caller, which falls back
to the offline extractor.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz

from assistant.documents.extract import Extraction, Field, extract
from assistant.documents.layout import Layout
from assistant.documents.values import (
    DateSpan, DateStyle, Money, complete_partial, currency_mentions, find_date_spans, find_money,
    numeric_date_parts, parse_date, parse_decimal,
)
from assistant.messages import Attachment, Completion, CompletionRequest, Message
from assistant.prompts import load_prompt
from assistant.providers.base import MalformedResponse, Provider, ProviderError
from assistant.providers.chain import LABELS

log = logging.getLogger(__name__)

RESPONSE_NAME = "bill_fields"
MAX_CHARS = 30_000  # of document text sent (~8k tokens); bills say what matters on their first pages
VERIFIED, AGREED, DIFFERS, WEAK, FUZZY = 0.9, 0.95, 0.75, 0.7, 0.85
FUZZY_VENDOR = 90  # rapidfuzz partial ratio for a vendor name written a little differently
_SOURCE_CHARS = 160

_FIELDS: dict[str, str] = {
    "vendor": "who issued the bill and is to be paid, as printed; null if not shown",
    "amount_due": 'amount to pay, digits with a dot for decimals, e.g. "1234.56"; null if not shown',
    "currency": "ISO 4217 code of amount_due, only if the document names a currency; else null",
    "issue_date": "YYYY-MM-DD; null if not shown",
    "due_date": "YYYY-MM-DD; null if not shown",
    "invoice_number": "as printed; null if not shown",
    "account_number": "the customer's account with the vendor, as printed (not a bank account); null if not shown",
    "service_period_start": "YYYY-MM-DD; null if not shown",
    "service_period_end": "YYYY-MM-DD; null if not shown",
    "minimum_due": 'minimum payment, like amount_due; null if not shown',
}


def response_schema() -> dict[str, Any]:
    """The fields as a JSON Schema fit for OpenAI's strict mode: every property required, nullable."""
    return {"type": "object", "additionalProperties": False, "required": list(_FIELDS),
            "properties": {name: {"type": ["string", "null"], "description": text} for name, text in _FIELDS.items()}}


@dataclass(frozen=True)
class ModelReading:
    """What the model extractor read, and which provider and model answered at what cost."""

    extraction: Extraction
    provider: str
    model: str
    cost: Decimal


async def extract_with_model(provider: Provider, text: str, *, images: Sequence[Attachment] = (),
                             user_id: str | None = None, thread_id: str | None = None,
                             turn_id: str | None = None, today: date, default_currency: str,
                             review_below: float = 0.35, max_output_tokens: int = 1024,
                             offline: Extraction | None = None) -> Extraction:
    """Every field of the bill in `text` (and `images`), read by `provider` and checked against `text`."""
    reading = await read_with_model(
        provider, text, images=images, user_id=user_id, thread_id=thread_id, turn_id=turn_id, today=today,
        default_currency=default_currency, review_below=review_below, max_output_tokens=max_output_tokens,
        offline=offline)
    return reading.extraction


async def read_with_model(provider: Provider, text: str, *, images: Sequence[Attachment] = (),
                          user_id: str | None = None, thread_id: str | None = None, turn_id: str | None = None,
                          today: date, default_currency: str, review_below: float = 0.35,
                          max_output_tokens: int = 1024, offline: Extraction | None = None) -> ModelReading:
    """`extract_with_model`, saying who answered. `offline` is the offline reading if already made.
    One plain (not streamed) request: nobody watches this text arrive."""
    if offline is None:
        offline = extract(text, default_currency)
    marker = f"DOCUMENT-{secrets.token_hex(6)}"
    request = CompletionRequest(
        system=load_prompt("extract_bill").format(today=today.isoformat(), marker=marker),
        messages=[Message("user", _document(text, marker), attachments=list(images))],
        tools=[], today=today, max_output_tokens=max_output_tokens, temperature=0.0, stream=False,
        user_id=user_id, thread_id=thread_id, turn_id=turn_id,
        response_schema=response_schema(), response_name=RESPONSE_NAME)
    answer = await _ask(provider, request)
    who = answer.provider or provider.name
    try:
        values = _values(answer, LABELS.get(who, who))
    except ProviderError as exc:
        exc.cost = answer.cost  # paid for even though unusable: the reply's cost says so
        raise
    found = verify(values, text, offline, default_currency=default_currency, review_below=review_below,
                   from_image=bool(images))
    return ModelReading(found, who, answer.model or provider.model, answer.cost)


def _document(text: str, marker: str) -> str:
    shown = text[:MAX_CHARS]
    note = (f"\n(The document goes on; only its first {MAX_CHARS} characters are shown.)"
            if len(text) > MAX_CHARS else "")
    return f"Read the fields of this bill.\n<<<{marker}\n{shown}\n{marker}>>>{note}"


async def _ask(provider: Provider, request: CompletionRequest) -> Completion:
    answer: Completion | None = None
    async for item in provider.stream(request):
        if isinstance(item, Completion):
            answer = item
    if answer is None:
        raise MalformedResponse(f"{LABELS.get(provider.name, provider.name)} ended its answer without a result")
    if answer.provider == "offline":  # a chain that fell through to the rules: no model read it
        raise ProviderError("no model provider could read the bill")
    return answer


def _values(answer: Completion, who: str) -> dict[str, Any]:
    """The model's JSON object, or a ProviderError saying why there is none."""
    if answer.finish_reason == "length":
        raise MalformedResponse(f"{who} was cut off before it finished reading the bill")
    if answer.finish_reason == "content_filter" and not answer.text.strip():
        raise ProviderError(f"{who} declined to read this document")
    try:
        values = json.loads(answer.text)
    except json.JSONDecodeError:
        raise MalformedResponse(f"{who} did not answer with the bill's fields as JSON") from None
    if not isinstance(values, dict):
        raise MalformedResponse(f"{who} did not answer with the bill's fields as a JSON object")
    return values


# ----------------------------------------------------------------------------------------------
# checking the model's values against the text


@dataclass(frozen=True)
class _Found:
    value: Any
    confidence: float
    source: str


def _norm(text: str) -> str:
    """Case, punctuation and spacing aside: "Pacific Power & Light Co." -> "pacific power light co"."""
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _raw(values: dict[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    value = " ".join(str(value).split())
    return value or None


def _money(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    digits = re.sub(r"[^\d.,\-−]", "", raw)
    return parse_decimal(digits) if re.search(r"\d", digits) else None


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw[:10]) if raw else None
    except ValueError:
        return None


def _code(raw: str | None) -> str | None:
    return raw.upper() if raw and re.fullmatch(r"[A-Za-z]{3}", raw) else None


class _Text:
    """The document's text, indexed once for every check."""

    def __init__(self, text: str, default_currency: str):
        self.text = text
        self.default_currency = default_currency
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.lines = text.split("\n")
        self.norm_lines = [_norm(line) for line in self.lines]
        self.money = find_money(text, default_currency)
        self.bare_money = [m for m in find_money(text, default_currency, bare=True)
                           if m.currency is None and not m.has_decimals and not 1900 <= m.value <= 2100]
        self.spans = find_date_spans(text)
        self.currencies = currency_mentions(text, default_currency)
        langs = Layout(text).languages if text.strip() else ["en"]
        self.languages = tuple(dict.fromkeys([*langs[:2], "en"]))
        self.order = self._date_order()

    def _date_order(self) -> str | None:
        """Day-first or month-first, when a numeric date with a part above 12 settles it."""
        parts = numeric_date_parts(self.text)
        if any(a > 12 >= b for a, b in parts):
            return "DMY"
        if any(b > 12 >= a for a, b in parts):
            return "MDY"
        return None

    def line_of(self, position: int) -> tuple[int, str]:
        i = bisect.bisect_right(self.line_starts, position) - 1
        return i, self.lines[i].strip()[:_SOURCE_CHARS]

    # --- amounts ---
    def find_money(self, value: Decimal) -> tuple[_Found, Money] | None:
        for pool, confidence in ((self.money, VERIFIED), (self.bare_money, WEAK)):
            for m in pool:
                if abs(m.value) == abs(value):
                    return _Found(value, confidence, self.line_of(m.start)[1]), m
        return None

    # --- dates ---
    def _readings(self, span: DateSpan) -> set[date]:
        return {d for order in ("DMY", "MDY") if (d := parse_date(span.text, DateStyle(order, self.languages)))}

    def _reads_as(self, span: DateSpan, value: date) -> float | None:
        """How surely `span` is the date `value`: VERIFIED, WEAK (day/month order unknown) or None."""
        readings = self._readings(span)
        if value not in readings:
            return None
        if len(readings) == 1:
            return VERIFIED
        if self.order is None:
            return WEAK
        return VERIFIED if parse_date(span.text, DateStyle(self.order, self.languages)) == value else None

    def find_date(self, value: date) -> _Found | None:
        best: _Found | None = None
        for span in self.spans:
            confidence = self._reads_as(span, value)
            if confidence is not None and (best is None or confidence > best.confidence):
                best = _Found(value, confidence, self.line_of(span.start)[1])
        return best

    def find_range_start(self, start: date, end: date) -> _Found | None:
        """A range's partial start before its end: "July 1 - July 31, 2014", "du 1er au 31 juillet 2015"."""
        for span in self.spans:
            if self._reads_as(span, end) is None:
                continue
            i, source = self.line_of(span.start)
            prefix = self.text[self.line_starts[i]: span.start]
            for order in ("DMY", "MDY"):
                if complete_partial(prefix, end, DateStyle(order, self.languages)) == start:
                    return _Found(start, VERIFIED, source)
        return None

    # --- names and identifiers ---
    def find_name(self, name: str) -> _Found | None:
        key = _norm(name)
        if len(key) < 2:
            return None
        for line, norm in zip(self.lines, self.norm_lines):
            if f" {key} " in f" {norm} ":
                return _Found(name, VERIFIED, line.strip()[:_SOURCE_CHARS])
        if len(key) < 5:
            return None
        # partial ratio finds the name inside a longer line; a shorter line must match the name whole
        scored = [((fuzz.partial_ratio if len(norm) >= len(key) else fuzz.ratio)(key, norm), i)
                  for i, norm in enumerate(self.norm_lines) if norm]
        score, i = max(scored, default=(0.0, -1))
        if score >= FUZZY_VENDOR:
            return _Found(name, FUZZY, self.lines[i].strip()[:_SOURCE_CHARS])
        return None

    def find_identifier(self, raw: str) -> _Found | None:
        chars = [c for c in raw if c.isalnum()]
        if len(chars) < 3:
            return None
        pattern = r"(?<![^\W_])" + r"[\s\-/._#]{0,3}".join(re.escape(c) for c in chars) + r"(?![^\W_])"
        m = re.search(pattern, self.text, re.IGNORECASE)
        if m is None:
            return None
        return _Found(m.group(0), VERIFIED, self.line_of(m.start())[1])

    # --- currency ---
    def find_currency(self, code: str, amount: Money | None) -> _Found | None:
        if code not in self.currencies:
            return None
        if amount is not None and amount.currency == code:
            return _Found(code, VERIFIED, self.line_of(amount.start)[1])
        source = next((line.strip()[:_SOURCE_CHARS] for line in self.lines
                       if code in currency_mentions(line, self.default_currency)), code)
        return _Found(code, 0.8, source)


def _same(a: Any, b: Any, name: str) -> bool:
    """Do the model and the rules read the same value? Identifiers: the same letters and digits;
    a vendor: one name within the other, or a close spelling."""
    if isinstance(a, str) and isinstance(b, str):
        if _compact(a) == _compact(b):
            return True
        if name != "vendor":
            return False
        x, y = _norm(a), _norm(b)
        return (min(len(x), len(y)) >= 4 and (f" {x} " in f" {y} " or f" {y} " in f" {x} ")) \
            or fuzz.ratio(x, y) >= FUZZY_VENDOR
    return a == b


class _Settle:
    """Turns (the model's value, where the text shows it) into a Field, falling back to the rules."""

    def __init__(self, offline: Extraction, unchecked: float, from_image: bool, has_text: bool):
        self.offline, self.unchecked = offline, unchecked
        self.no_text_reason = "read by the model from the image; no text to check it against" \
            if from_image and not has_text else None

    def __call__(self, name: str, raw: str | None, value: Any, found: _Found | None) -> Field[Any]:
        rules: Field[Any] = getattr(self.offline, name)
        if raw is None:  # the model says the bill does not show it: the rules' reading stands
            return rules
        if found is not None:
            if rules.value is not None and _same(found.value, rules.value, name):
                return Field(found.value, max(AGREED if found.confidence >= VERIFIED else found.confidence,
                                              rules.confidence), found.source)
            confidence = found.confidence
            if rules.value is not None and rules.confidence >= 0.5:
                confidence = min(confidence, DIFFERS)  # the rules confidently read something else
            return Field(found.value, confidence, found.source)
        log.info("model value not found in the document", extra={"field": name})
        if rules.value is not None:
            note = f"the model read {raw!r}, which the document does not show"
            return Field(rules.value, rules.confidence, f"{rules.source} ({note})" if rules.source else note)
        if value is None:  # unreadable (e.g. a date that is no date): nothing to keep
            return rules
        reason = self.no_text_reason or f"read by the model; not found in the document ({raw!r})"
        return Field(value, self.unchecked, reason)


def verify(values: dict[str, Any], text: str, offline: Extraction, *, default_currency: str,
           review_below: float = 0.35, from_image: bool = False) -> Extraction:
    """The model's `values` (the structured answer) checked against `text`; see the module docstring."""
    doc = _Text(text, default_currency)
    settle = _Settle(offline, round(max(review_below, 0.0) / 2, 2), from_image, bool(text.strip()))

    raw = _raw(values, "vendor")
    vendor = settle("vendor", raw, raw, doc.find_name(raw) if raw else None)

    raw = _raw(values, "amount_due")
    amount_value, amount_money = _money(raw), None
    rules_amount = offline.amount_due.value
    if amount_value is not None and rules_amount is not None and rules_amount == -amount_value:
        amount_value = rules_amount  # the rules saw the credit note's title: keep their sign
    hit = doc.find_money(amount_value) if amount_value is not None else None
    if hit is not None:
        amount_money = hit[1]
    amount = settle("amount_due", raw, amount_value, hit[0] if hit else None)

    raw = _raw(values, "currency")
    code = _code(raw)
    found = doc.find_currency(code, amount_money) if code else None
    if found is None and code is not None and not doc.currencies and code == default_currency and text.strip():
        currency = Field(code, 0.3, "no currency printed: the default currency")
    else:
        currency = settle("currency", raw, code, found)
    if currency.value is not None and len(set(doc.currencies)) > 1 and currency is not offline.currency:
        currency = currency.lowered()  # cross-check: the bill names several currencies

    dates: dict[str, Field[date]] = {}
    for name in ("issue_date", "due_date"):
        raw = _raw(values, name)
        day = _day(raw)
        dates[name] = settle(name, raw, day, doc.find_date(day) if day else None)
    issue, due = dates["issue_date"], dates["due_date"]
    if issue.value and due.value and due.value < issue.value:
        issue, due = issue.lowered(), due.lowered()  # cross-check: due before issued

    ids: dict[str, Field[str]] = {}
    for name in ("invoice_number", "account_number"):
        raw = _raw(values, name)
        ids[name] = settle(name, raw, raw, doc.find_identifier(raw) if raw else None)

    period = _period(values, doc, settle)

    raw = _raw(values, "minimum_due")
    minimum_value = _money(raw)
    hit = doc.find_money(minimum_value) if minimum_value is not None else None
    minimum = settle("minimum_due", raw, minimum_value, hit[0] if hit else None)
    if minimum.value is not None and amount.value is not None and minimum.value > amount.value:
        minimum = minimum.lowered()  # cross-check: the minimum is more than the whole amount

    return Extraction(vendor=vendor, amount_due=amount, currency=currency, issue_date=issue, due_date=due,
                      invoice_number=ids["invoice_number"], account_number=ids["account_number"],
                      service_period=period, minimum_due=minimum)


def _period(values: dict[str, Any], doc: _Text, settle: _Settle) -> Field[tuple[date, date]]:
    raw_start, raw_end = _raw(values, "service_period_start"), _raw(values, "service_period_end")
    if raw_start is None or raw_end is None:
        return settle("service_period", None, None, None)
    raw = f"{raw_start} - {raw_end}"
    start, end = _day(raw_start), _day(raw_end)
    if start is None or end is None or start > end:  # cross-check: a period that ends before it starts
        return settle("service_period", raw, None, None)
    found_end = doc.find_date(end)
    found_start = doc.find_date(start) or doc.find_range_start(start, end)
    found = None
    if found_start is not None and found_end is not None:
        source = found_end.source if found_start.source == found_end.source \
            else f"{found_start.source} / {found_end.source}"[:_SOURCE_CHARS]
        found = _Found((start, end), min(found_start.confidence, found_end.confidence), source)
    return settle("service_period", raw, (start, end), found)


__all__ = ["ModelReading", "RESPONSE_NAME", "extract_with_model", "read_with_model", "response_schema", "verify"]
