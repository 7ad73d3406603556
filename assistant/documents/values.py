"""Values inside bill text: amounts with either decimal separator, currencies, dates, identifiers.

Amounts: "1.234,56", "1,234.56", "1 234,56", "1'234.56", "-9,32", "(12.00)", "€ 5", "5 EUR". A number
counts as money when it carries a currency or two decimals; a bare integer is left alone (it is more
often a quantity, a year or a day count). Thousands grouped by plain spaces are read only with a
decimal comma ("1 234,56"), since "1 278.61" in a table row is far more often two numbers.

Dates are found by pattern (numeric, ISO, and day/month-name forms in five languages) and parsed
with `dateparser`, given the date order and the languages inferred for the whole document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import dateparser

# ----------------------------------------------------------------------------------------------
# currencies

_DOLLAR_CODES = {"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"}
_CURRENCY_TOKEN = (
    r"(?:US\$|CA\$|C\$|AU\$|A\$|NZ\$|[$€£¥₹]|(?<![A-Za-z])Rs\.?(?=\s?[-(]?\d)|\bINR\b|\bUSD\b|\bEUR\b|\bGBP\b|\bCHF\b"
    r"|\bPLN\b|z[łl](?![a-z])|\bCAD\b|\bAUD\b|\bNZD\b|\bSEK\b|\bNOK\b|\bDKK\b|\bJPY\b|\bCZK\b|\bHUF\b)"
)
_SYMBOL_CODES = {
    "US$": "USD", "CA$": "CAD", "C$": "CAD", "AU$": "AUD", "A$": "AUD", "NZ$": "NZD", "€": "EUR", "£": "GBP",
    "¥": "JPY", "₹": "INR", "RS": "INR", "RS.": "INR", "ZŁ": "PLN", "ZL": "PLN",
}
# currency named in words ("All charges are in US Dollars", "3.441.812 Euros")
_CURRENCY_WORDS = [
    (re.compile(r"\bU\.?S\.?\s+dollars?\b", re.I), "USD"), (re.compile(r"\beuros?\b", re.I), "EUR"),
    (re.compile(r"\bpounds?\s+sterling\b", re.I), "GBP"), (re.compile(r"\brupees?\b", re.I), "INR"),
    (re.compile(r"\bz[łl]otych\b|\bz[łl]oty\b", re.I), "PLN"), (re.compile(r"\bswiss\s+francs?\b", re.I), "CHF"),
]


# where the bill is from, for a bill that prints no currency at all (OCR often loses "₹" or "€"):
# country names in English and their own language (capitalised: "usa" is also a word), and tax ids
# that exist in one country only
_COUNTRY_CURRENCY = [(re.compile(rf"\b(?:{names})\b", re.I), code) for names, code in [
    (r"India|Bharat|GSTIN", "INR"),
    (r"United\s+Kingdom|Great\s+Britain|England|Scotland|(?<!South\s)Wales|Northern\s+Ireland", "GBP"),
    (r"Germany|Deutschland|France|Netherlands|Nederland|Belgium|Belgi[eë]|Belgique|Austria|[ÖO]sterreich|Italy|Italia"
     r"|Spain|Espa[ñn]a|(?<!Northern\s)Ireland|Portugal|Finland|Suomi|Luxembourg|Greece|Slovakia|Slovenia|Estonia"
     r"|Latvia|Lithuania", "EUR"),
    (r"Poland|Polska", "PLN"),
    (r"Switzerland|Schweiz|Suisse|Svizzera", "CHF"),
    (r"United\s+States(?:\s+of\s+America)?|U\.S\.A\.|USA", "USD"),
    (r"Canada", "CAD"), (r"Australia", "AUD"), (r"New\s+Zealand", "NZD"), (r"Japan", "JPY"),
    (r"Sweden|Sverige", "SEK"), (r"Norway|Norge", "NOK"), (r"Denmark|Danmark", "DKK"),
    (r"Czech\s+Republic|Czechia|[ČC]esk[áa]\s+republika", "CZK"), (r"Hungary|Magyarorsz[áa]g", "HUF"),
]]


def country_currencies(text: str) -> list[str]:
    """The currencies of the countries the text names (see `_COUNTRY_CURRENCY`), in order."""
    found = [(m.start(), code) for rx, code in _COUNTRY_CURRENCY for m in rx.finditer(text) if m.group(0)[0].isupper()]
    return [code for _, code in sorted(found)]


def currency_code(token: str, default_currency: str) -> str:
    """ISO 4217 code for a currency token; a bare "$" is the default currency when that is a dollar."""
    upper = token.upper()
    if upper == "$":
        return default_currency if default_currency in _DOLLAR_CODES else "USD"
    return _SYMBOL_CODES.get(upper, upper)


# ----------------------------------------------------------------------------------------------
# amounts

_NUMBER = (
    r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?"            # 1,234.56
    r"|\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?"           # 1.234,56
    r"|\d{1,3}(?:['’]\d{3})+(?:[.,]\d{1,2})?"      # 1'234.56
    r"|\d{1,3}(?:[ \u00a0\u202f]\d{3})+,\d{1,2}"   # 1 234,56
    r"|\d{1,3}(?:[\u00a0\u202f]\d{3})+(?:\.\d{1,2})?"
    r"|\d+(?:[.,]\d{1,2})?"
)
MONEY_RE = re.compile(
    rf"(?P<neg>[-−](?=[$€£¥₹\d]))?(?:(?P<pre>{_CURRENCY_TOKEN})\s?(?P<neg2>[-−])?\s?)?"
    rf"(?<![\d.,'’])(?P<num>{_NUMBER})(?![\d]|[.,'’]\d)(?!\s?%)(?:\s?(?P<post>{_CURRENCY_TOKEN})(?!\s?[-−]?\d))?"
)


@dataclass(frozen=True)
class Money:
    value: Decimal
    currency: str | None
    has_decimals: bool
    start: int
    end: int
    text: str


def parse_decimal(raw: str) -> Decimal | None:
    """'1.234,56' / '1,234.56' / '1 234,56' / "1'234.56" / '120' -> Decimal; the last separator
    followed by one or two digits is the decimal one, every other separator groups thousands."""
    s = re.sub(r"['’\s\u00a0\u202f]", "", raw.strip())
    negative = s[:1] in "-−"
    s = s.lstrip("-−")
    m = re.search(r"[.,](\d{1,2})$", s)
    whole, frac = (s[: m.start()], m.group(1)) if m else (s, "0")
    whole = re.sub(r"[.,]", "", whole)
    if not whole.isdigit() and whole:
        return None
    try:
        value = Decimal(f"{whole or '0'}.{frac}").quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return -value if negative else value


def find_money(text: str, default_currency: str, *, bare: bool = False) -> list[Money]:
    """Amounts in `text`, outside dates. `bare` also accepts integers without a currency."""
    taken = [(d.start, d.end) for d in find_date_spans(text)]
    found: list[Money] = []
    for m in MONEY_RE.finditer(text):
        if any(s < m.end("num") and m.start("num") < e for s, e in taken):
            continue
        token = m.group("pre") or m.group("post")
        has_decimals = re.search(r"[.,]\d{2}$", m.group("num")) is not None
        if not token and not has_decimals and not bare:
            continue
        value = parse_decimal(m.group("num"))
        if value is None:
            continue
        before, after = text[: m.start()].rstrip(), text[m.end():].lstrip()
        if m.group("neg") or m.group("neg2") or (before.endswith("(") and after.startswith(")")):
            value = -value
        code = currency_code(token, default_currency) if token else None
        found.append(Money(value, code, has_decimals, m.start(), m.end(), m.group(0).strip()))
    return found


def currency_mentions(text: str, default_currency: str) -> list[str]:
    """Every currency the text names, as ISO codes, in order (symbols, codes, and words)."""
    found: list[tuple[int, str]] = [
        (m.start(), currency_code(m.group(0), default_currency)) for m in re.finditer(_CURRENCY_TOKEN, text)
    ]
    for rx, code in _CURRENCY_WORDS:
        found.extend((m.start(), code) for m in rx.finditer(text))
    return [code for _, code in sorted(found)]


# ----------------------------------------------------------------------------------------------
# dates

_MONTH_NAMES = """
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
januar jänner februar märz mai juni juli oktober dezember mär mrz okt dez
janvier février fevrier mars avril juin juillet août aout septembre octobre novembre décembre decembre
janv févr fév avr juil déc
januari februari maart mei augustus mrt
styczeń stycznia luty lutego marzec marca kwiecień kwietnia maj maja czerwiec czerwca lipiec lipca
sierpień sierpnia wrzesień września październik października listopad listopada grudzień grudnia
sty lut kwi cze lip sie wrz paź lis gru
""".split()
MONTH = "(?:" + "|".join(sorted({re.escape(n) for n in _MONTH_NAMES}, key=len, reverse=True)) + r")(?![a-zà-ÿ])\.?"
_ORDINAL = r"(?:st|nd|rd|th|er|e)?"
DATE_RE = re.compile(
    rf"(?<![\d.,/])(?:"
    rf"(?P<iso>\d{{4}}(?P<s1>[-/.])\d{{1,2}}(?P=s1)\d{{1,2}})"
    rf"|(?P<num>\d{{1,2}}(?P<s2>[./-])\d{{1,2}}(?P=s2)(?:\d{{4}}|\d{{2}}))"
    rf"|(?P<dmy>\d{{1,2}}{_ORDINAL}\.?\s*(?:de\s+)?{MONTH},?\s*\d{{4}})"
    rf"|(?P<mdy>(?<![A-Za-z]){MONTH}\s*\d{{1,2}}{_ORDINAL}\s*,?\s*\d{{4}})"
    rf")(?![\d]|[./]\d)",
    re.IGNORECASE,
)
# a day (and maybe a month) that starts a range whose end is a full date: "July 1 - July 31, 2014"
_PARTIAL_START = re.compile(
    rf"(?:(?P<m1>(?<![A-Za-z]){MONTH})\s*(?P<d1>\d{{1,2}}){_ORDINAL}|(?P<d2>\d{{1,2}}){_ORDINAL}\.?(?:\s*(?P<m2>{MONTH}))?)"
    rf"\s*(?:-|–|to|au|bis|tot|do|until|through)\s*$",
    re.IGNORECASE,
)
_PARTIAL_TAIL = 80  # characters: a month name, a day, an ordinal, a separator and spaces
RANGE_SEPARATOR = re.compile(r"^\s*(?:-|–|to|au|bis|tot|do|until|through|till)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DateSpan:
    start: int
    end: int
    text: str
    numeric: bool


@dataclass(frozen=True)
class DateStyle:
    """How this document writes dates: day-first ("DMY") or month-first ("MDY"), and its languages."""
    order: str
    languages: tuple[str, ...]


def find_date_spans(text: str) -> list[DateSpan]:
    return [DateSpan(m.start(), m.end(), m.group(0), bool(m.group("num"))) for m in DATE_RE.finditer(text)]


def numeric_date_parts(text: str) -> list[tuple[int, int]]:
    """(first, second) number of every d/m/y or m/d/y date in the text, to infer the order."""
    parts = []
    for span in find_date_spans(text):
        if span.numeric:
            a, b = re.split(r"[./-]", span.text)[:2]
            parts.append((int(a), int(b)))
    return parts


@lru_cache(maxsize=4096)
def _dateparser(text: str, order: str, languages: tuple[str, ...]) -> date | None:
    settings = {"DATE_ORDER": order, "REQUIRE_PARTS": ["day", "month", "year"], "PARSERS": ["absolute-time"],
                "PREFER_DAY_OF_MONTH": "first"}
    parsed = dateparser.parse(text, languages=list(languages), settings=settings)
    return parsed.date() if parsed else None


def parse_date(raw: str, style: DateStyle) -> date | None:
    """One date token -> date. ISO dates are read directly; the rest through dateparser."""
    text = re.sub(r"\s+,", ",", raw.strip())
    iso = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    text = re.sub(r"(\d)(?:st|nd|rd|th|er)\b", r"\1", text, flags=re.IGNORECASE)
    parsed = _dateparser(text, style.order, style.languages)
    if parsed is None and "en" not in style.languages:
        parsed = _dateparser(text, style.order, (*style.languages, "en"))
    if parsed is None or not 1900 <= parsed.year <= 2100:
        return None
    return parsed


def find_dates(text: str, style: DateStyle) -> list[tuple[date, DateSpan]]:
    found = []
    for span in find_date_spans(text):
        value = parse_date(span.text, style)
        if value is not None:
            found.append((value, span))
    return found


def complete_partial(prefix: str, end: date, style: DateStyle) -> date | None:
    """The start of a range written "July 1 - July 31, 2014" / "du 1er au 31 juillet 2015", given its end."""
    # Only the prefix's tail can hold the start ("July 1 - "): searching the whole line for every date
    # in it was quadratic (a line of 2,000 dates took minutes; found by tests/test_fuzz_ingest.py).
    m = _PARTIAL_START.search(prefix[-_PARTIAL_TAIL:])
    if not m:
        return None
    day = int(m.group("d1") or m.group("d2"))
    month_name = m.group("m1") or m.group("m2")
    month = end.month
    if month_name:
        probe = parse_date(f"{day} {month_name} {end.year}", DateStyle("DMY", style.languages))
        if probe is None:
            return None
        month = probe.month
    try:
        start = date(end.year, month, day)
    except ValueError:
        return None
    return start if start <= end else None


# ----------------------------------------------------------------------------------------------
# identifiers (invoice and account numbers)

_ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/_.]*[A-Za-z0-9]|[0-9]")
_PREFIX_TOKEN = re.compile(r"[A-Z]{1,3}")


# a label that already names the number ("Invoice No", "Rechnungsnr.", "N°", "Customer ID")
NUMBER_WORD = re.compile(r"no(?![a-z])|nr(?![a-z])|num|n[°º]|(?<![a-z])id(?![a-z])", re.IGNORECASE)


def parse_identifier(span: str, keep_hash: bool = False) -> str | None:
    """The identifier at the start of `span`: one token with a digit ("INV/2023/03/0008"), or a short
    capital prefix and such a token ("F 1234K20/1234/12"). Dates and amounts are not identifiers.

    A leading "#" is a "number" marker and dropped ("Invoice # 123"), unless `keep_hash`: after a label
    that already says "No."/"Number" ("Invoice No : # BLR_123") the "#" is printed as part of the
    identifier and kept, glued to it ("#BLR_123")."""
    if keep_hash:
        m = re.match(r"[\s:.\-]*#\s*(?=\S)", span)
        if m:
            value = parse_identifier(span[m.end():])
            return f"#{value}" if value is not None and " " not in value else value
    s = span.strip()
    while True:
        stripped = re.sub(r"^(?:[:#.\-]|n[°º]|no\.?(?=\s)|nr\.?(?=\s))\s*", "", s, flags=re.IGNORECASE).strip()
        if stripped == s:
            break
        s = stripped
    s = re.split(r"\s{2,}|\t", s)[0]
    tokens = s.split()
    if not tokens:
        return None
    picked: list[str] = []
    if len(tokens) > 1 and _PREFIX_TOKEN.fullmatch(tokens[0]) and re.search(r"\d", tokens[1]):
        picked.append(tokens.pop(0))
    first = tokens[0].rstrip(",;:.")
    if not _ID_TOKEN.fullmatch(first) or not re.search(r"\d", first):
        return None
    if DATE_RE.fullmatch(first) or re.fullmatch(r"\d{1,3}(?:[.,]\d{2})", first):
        return None
    picked.append(first)
    if first.isdigit():   # digit groups printed with spaces: "88 1234"
        picked.extend(t for t in _leading(tokens[1:], str.isdigit))
    value = " ".join(picked)
    return value if len(value.replace(" ", "")) >= 3 else None


def _leading(tokens: list[str], keep) -> list[str]:
    out = []
    for token in tokens:
        if not keep(token):
            break
        out.append(token)
    return out


IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
