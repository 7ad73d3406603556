"""Periods in plain words -> date ranges: "this week", "next 10 days", "in March", "last year"."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {name: i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())})
MONTHS = {k.lower(): v for k, v in MONTHS.items()}
MONTHS["sept"] = 9
_MONTH_RX = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "a": 1}


@dataclass(frozen=True)
class Period:
    start: date | None
    end: date | None
    label: str
    span: tuple[int, int]  # where in the text it was said


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _num(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def find_period(text: str, today: date, future: bool) -> Period | None:
    """The first period named in `text`. `future` picks the next occurrence of a bare month
    ("due in March") rather than the last one ("what did I pay in March")."""
    t = text.lower()
    week_start = today - timedelta(days=today.weekday())
    n_words = r"(\d+|" + "|".join(_NUMBER_WORDS) + r")"
    rules: list[tuple[str, callable]] = [
        (rf"\b(?:in\s+the\s+|within\s+the\s+|within\s+|over\s+the\s+|for\s+the\s+)?(?:next|coming|following)\s+{n_words}\s+(day|week|month)s?\b",
         lambda m: _next_n(today, _num(m.group(1)), m.group(2))),
        (rf"\bwithin\s+{n_words}\s+(day|week|month)s?\b", lambda m: _next_n(today, _num(m.group(1)), m.group(2))),
        (rf"\bin\s+{n_words}\s+(day|week)s?\b", lambda m: _next_n(today, _num(m.group(1)), m.group(2))),
        (rf"\b(?:last|past|previous)\s+{n_words}\s+(day|week|month)s?\b", lambda m: _last_n(today, _num(m.group(1)), m.group(2))),
        (r"\btoday\b", lambda m: (today, today, "today")),
        (r"\btomorrow\b", lambda m: (today + timedelta(days=1), today + timedelta(days=1), "tomorrow")),
        (r"\byesterday\b", lambda m: (today - timedelta(days=1), today - timedelta(days=1), "yesterday")),
        (r"\b(?:this|the\s+current)\s+week\b", lambda m: (week_start, week_start + timedelta(days=6), "this week")),
        (r"\bnext\s+week\b", lambda m: (week_start + timedelta(days=7), week_start + timedelta(days=13), "next week")),
        (r"\blast\s+week\b", lambda m: (week_start - timedelta(days=7), week_start - timedelta(days=1), "last week")),
        (r"\bthis\s+month\b", lambda m: (*_month_range(today.year, today.month), "this month")),
        (r"\bnext\s+month\b", lambda m: (*_month_range(*_shift_month(today, 1)), "next month")),
        (r"\blast\s+month\b", lambda m: (*_month_range(*_shift_month(today, -1)), "last month")),
        (r"\b(?:this\s+year|so\s+far\s+this\s+year|year\s+to\s+date|ytd)\b", lambda m: (date(today.year, 1, 1), date(today.year, 12, 31), "this year")),
        (r"\blast\s+year\b", lambda m: (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), "last year")),
        (r"\bnext\s+year\b", lambda m: (date(today.year + 1, 1, 1), date(today.year + 1, 12, 31), "next year")),
        (rf"\bsince\s+{_MONTH_RX}(?:\s+(\d{{4}}))?\b", lambda m: _since(today, m)),
        (rf"\b{_MONTH_RX}\s+(\d{{4}})\b", lambda m: _named_month(today, m.group(1), int(m.group(2)), future)),
        (rf"\b(?:in|for|during|of)\s+{_MONTH_RX}\b", lambda m: _named_month(today, m.group(1), None, future)),
        (r"\b(?:in|for|during)\s+(\d{4})\b", lambda m: (date(int(m.group(1)), 1, 1), date(int(m.group(1)), 12, 31), m.group(1))),
    ]
    best: Period | None = None
    for pattern, build in rules:
        m = re.search(pattern, t)
        if m and (best is None or m.start() < best.span[0]):
            start, end, label = build(m)
            best = Period(start, end, label, m.span())
    return best


def _next_n(today: date, n: int, unit: str) -> tuple[date, date, str]:
    days = n * {"day": 1, "week": 7, "month": 30}[unit]
    return today, today + timedelta(days=days), f"in the next {n} {unit}{'s' if n != 1 else ''}"


def _last_n(today: date, n: int, unit: str) -> tuple[date, date, str]:
    days = n * {"day": 1, "week": 7, "month": 30}[unit]
    return today - timedelta(days=days), today, f"in the last {n} {unit}{'s' if n != 1 else ''}"


def _shift_month(today: date, delta: int) -> tuple[int, int]:
    index = today.year * 12 + (today.month - 1) + delta
    return index // 12, index % 12 + 1


def _named_month(today: date, name: str, year: int | None, future: bool) -> tuple[date, date, str]:
    month = MONTHS[name]
    if year is None:
        year = today.year
        if future and month < today.month:
            year += 1
        elif not future and month > today.month:
            year -= 1
    start, end = _month_range(year, month)
    return start, end, f"in {calendar.month_name[month]} {year}"


def _since(today: date, m: re.Match) -> tuple[date, date, str]:
    month = MONTHS[m.group(1)]
    year = int(m.group(2)) if m.group(2) else (today.year if month <= today.month else today.year - 1)
    return date(year, month, 1), today, f"since {calendar.month_name[month]} {year}"
