"""Periods in plain words -> date ranges: "this week", "next 10 days", "in March", "last year", "Q3",
"since January", "between 1 and 15 December", "this weekend", "year to date", "by Friday".

Decisions:
- A bare month or quarter ("in March", "Q1") is the next one for questions about what is due
  (`future=True`) and the most recent one (the current one included) for questions about the past.
- "this year" / "this month" / "this week" are whole calendar units; "year to date", "so far this
  year" end today. "last/next N days|weeks|months" are rolling, counted from today.
- The first period named in the text wins ("how does this month compare to last month" is about this
  month; the tool compares it with the one before).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())})
MONTHS["sept"] = 9
MONTH_RX = (r"(january|february|march|april|may|june|july|august|september|october|november|december|"
            r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?")
# a bare month name, no preposition: full names only, and not "may" (a verb more often than a month)
_BARE_MONTH_RX = r"(january|february|march|april|june|july|august|september|october|november|december)"
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20,
                "thirty": 30, "sixty": 60, "ninety": 90, "a": 1, "an": 1, "a couple of": 2, "a few": 3}
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
WEEKDAYS.update({name[:3]: i for name, i in list(WEEKDAYS.items())})
WEEKDAYS.update({"tues": 1, "wednes": 2, "thur": 3, "thurs": 3})
_WEEKDAY_RX = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun)"
_WEEKDAY_FULL_RX = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_N = r"(\d+|" + "|".join(sorted((re.escape(k) for k in NUMBER_WORDS), key=len, reverse=True)) + r")"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_QUARTERS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "last": 4}


@dataclass(frozen=True)
class Period:
    start: date | None
    end: date | None
    label: str
    span: tuple[int, int]  # where in the text it was said
    days_ahead: int | None = None  # "next 10 days": the number of days, for upcoming(days)


def month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def shift_month(today: date, delta: int) -> tuple[int, int]:
    index = today.year * 12 + (today.month - 1) + delta
    return index // 12, index % 12 + 1


def number(token: str) -> int:
    token = token.strip()
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def _month_label(year: int, month: int) -> str:
    return f"in {calendar.month_name[month]} {year}"


def day_label(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


def find_period(text: str, today: date, future: bool) -> Period | None:
    """The first period named in `text`. `future` picks the next occurrence of a bare month
    ("due in March") rather than the most recent one ("what did I pay in March")."""
    found = find_periods(text, today, future)
    return found[0] if found else None


def find_periods(text: str, today: date, future: bool) -> list[Period]:
    """Every period named in `text`, in order, none overlapping (the longest wins where they do)."""
    t = text.lower()
    candidates: list[Period] = []
    for pattern, build in _rules(today, future):
        for m in re.finditer(pattern, t):
            built = build(m)
            if built is None:
                continue
            start, end, label, *extra = built
            candidates.append(Period(start, end, label, m.span(), extra[0] if extra else None))
    candidates.sort(key=lambda p: (p.span[0], -(p.span[1] - p.span[0])))
    chosen: list[Period] = []
    for p in candidates:
        if all(p.span[1] <= c.span[0] or p.span[0] >= c.span[1] for c in chosen):
            chosen.append(p)
    return sorted(chosen, key=lambda p: p.span[0])


Rule = tuple[str, Callable[[re.Match], tuple | None]]


def _rules(today: date, future: bool) -> list[Rule]:
    week_start = today - timedelta(days=today.weekday())
    saturday = week_start + timedelta(days=5)
    return [
        # rolling windows
        (rf"\b(?:in\s+the\s+|within\s+the\s+|within\s+|over\s+the\s+|for\s+the\s+|during\s+the\s+)?(?:next|coming|following)\s+{_N}\s+(day|week|month)s?\b",
         lambda m: _next_n(today, number(m.group(1)), m.group(2))),
        (rf"\bwithin\s+{_N}\s+(day|week|month)s?\b", lambda m: _next_n(today, number(m.group(1)), m.group(2))),
        (r"\b(?:in\s+the\s+|within\s+the\s+|within\s+|over\s+the\s+|for\s+the\s+)?(?:next|coming)\s+fortnight\b|\b(?:in|within)\s+a\s+fortnight\b",
         lambda m: _next_n(today, 2, "week")),
        (rf"\bin\s+{_N}\s+(day|week)s?\b", lambda m: _next_n(today, number(m.group(1)), m.group(2))),
        (rf"\b(?:in\s+the\s+|over\s+the\s+|for\s+the\s+|during\s+the\s+)?(?:last|past|previous)\s+{_N}\s+(day|week|month|year)s?\b",
         lambda m: _last_n(today, number(m.group(1)), m.group(2))),
        (r"\b(?:in\s+|over\s+|during\s+)?the\s+(?:past|last)\s+(week|month|year)\b",
         lambda m: _last_n(today, 1, m.group(1))),
        (r"\bpast\s+(week|month|year)\b", lambda m: _last_n(today, 1, m.group(1))),
        # single days
        (r"\b(?:today|tonight)\b", lambda m: (today, today, "today")),
        (r"\btomorrow\b", lambda m: (today + timedelta(days=1), today + timedelta(days=1), "tomorrow")),
        (r"\byesterday\b", lambda m: (today - timedelta(days=1), today - timedelta(days=1), "yesterday")),
        # weeks, weekends
        (r"\b(?:this|the\s+current)\s+week\b", lambda m: (week_start, week_start + timedelta(days=6), "this week")),
        (r"\bnext\s+week\b", lambda m: (week_start + timedelta(days=7), week_start + timedelta(days=13), "next week")),
        (r"\blast\s+week\b", lambda m: (week_start - timedelta(days=7), week_start - timedelta(days=1), "last week")),
        (r"\b(?:this|the)\s+weekend\b|\bover\s+the\s+weekend\b",
         lambda m: (saturday, saturday + timedelta(days=1), "this weekend")),
        (r"\bnext\s+weekend\b", lambda m: (saturday + timedelta(days=7), saturday + timedelta(days=8), "next weekend")),
        (r"\blast\s+weekend\b", lambda m: (saturday - timedelta(days=7), saturday - timedelta(days=6), "last weekend")),
        # months
        (r"\b(?:this|the\s+current)\s+month\b", lambda m: (*month_range(today.year, today.month), "this month")),
        (r"\bnext\s+month\b", lambda m: (*month_range(*shift_month(today, 1)), "next month")),
        (r"\b(?:last|previous)\s+month\b", lambda m: (*month_range(*shift_month(today, -1)), "last month")),
        (r"\b(?:by|before|until|till|through)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?month\b|\brest\s+of\s+(?:the|this)\s+month\b",
         lambda m: (today, month_range(today.year, today.month)[1], "by the end of the month")),
        (r"\b(?:by|before|until|till|through)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week\b|\brest\s+of\s+(?:the|this)\s+week\b",
         lambda m: (today, week_start + timedelta(days=6), "by the end of the week")),
        (r"\b(?:by|before|until|till|through)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?year\b|\brest\s+of\s+(?:the|this)\s+year\b",
         lambda m: (today, date(today.year, 12, 31), "by the end of the year")),
        # quarters
        (r"\b(?:this|the\s+current)\s+quarter\b", lambda m: _quarter(today, (today.month - 1) // 3 + 1, today.year, "this quarter")),
        (r"\b(?:last|previous)\s+quarter\b", lambda m: _quarter_shift(today, -1, "last quarter")),
        (r"\bnext\s+quarter\b", lambda m: _quarter_shift(today, 1, "next quarter")),
        (r"\bq([1-4])(?:\s*(?:of\s+)?(\d{4}|last\s+year|this\s+year))?\b",
         lambda m: _named_quarter(today, int(m.group(1)), m.group(2), future)),
        (r"\b(first|1st|second|2nd|third|3rd|fourth|4th)\s+quarter(?:\s+(?:of\s+)?(\d{4}|last\s+year|this\s+year))?\b",
         lambda m: _named_quarter(today, _QUARTERS[m.group(1)], m.group(2), future)),
        # years
        (r"\b(?:year\s+to\s+date|ytd|so\s+far\s+this\s+year|this\s+year\s+so\s+far|since\s+the\s+(?:start|beginning)\s+of\s+(?:the|this)\s+year)\b",
         lambda m: (date(today.year, 1, 1), today, "so far this year")),
        (r"\b(?:this|the\s+current)\s+year\b", lambda m: (date(today.year, 1, 1), date(today.year, 12, 31), "this year")),
        (r"\b(?:last|previous)\s+year\b", lambda m: (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), "last year")),
        (r"\bnext\s+year\b", lambda m: (date(today.year + 1, 1, 1), date(today.year + 1, 12, 31), "next year")),
        (r"\b(?:in|for|during|of|from)\s+(20\d\d)\b(?![-/.]\d)",
         lambda m: (date(int(m.group(1)), 1, 1), date(int(m.group(1)), 12, 31), f"in {m.group(1)}")),
        (r"(?<![\w$€£.,/-])(20\d\d)(?![\w/-]|[.,]\d)", lambda m: _bare_year(today, m)),
        # explicit ranges of days
        (rf"\b(?:between|from)\s+(?:the\s+)?{_DAY}\s+(?:and|to|until|till|-)\s+(?:the\s+)?{_DAY}\s+(?:of\s+)?{MONTH_RX}(?:\s+(\d{{4}}))?",
         lambda m: _days_of_month(today, int(m.group(1)), int(m.group(2)), m.group(3), m.group(4), future)),
        (rf"\b{_DAY}\s*(?:-|–|to)\s*{_DAY}\s+(?:of\s+)?{MONTH_RX}(?:\s+(\d{{4}}))?",
         lambda m: _days_of_month(today, int(m.group(1)), int(m.group(2)), m.group(3), m.group(4), future)),
        (rf"\b(?:between\s+|from\s+)?{MONTH_RX}\s+{_DAY}\s*(?:-|–|to|and|until|till)\s*(?:{MONTH_RX}\s+)?{_DAY}\b(?:,?\s+(\d{{4}}))?",
         lambda m: _days_of_month(today, int(m.group(2)), int(m.group(4)), m.group(1), m.group(5), future,
                                  m.group(3))),
        (rf"\bbetween\s+{MONTH_RX}\s+and\s+{MONTH_RX}(?:\s+(\d{{4}}))?\b|\bfrom\s+{MONTH_RX}\s+(?:to|until|till|through)\s+{MONTH_RX}(?:\s+(\d{{4}}))?\b",
         lambda m: _months_between(today, m.group(1) or m.group(4), m.group(2) or m.group(5),
                                   m.group(3) or m.group(6), future)),
        # since ...
        (rf"\bsince\s+(?:the\s+)?(?:{_DAY}\s+(?:of\s+)?)?{MONTH_RX}(?:\s+{_DAY})?(?:,?\s+(\d{{4}}))?",
         lambda m: _since(today, m)),
        (r"\bsince\s+last\s+month\b", lambda m: (month_range(*shift_month(today, -1))[0], today, "since last month")),
        (r"\bsince\s+last\s+year\b", lambda m: (date(today.year - 1, 1, 1), today, "since last year")),
        # by / before a weekday, on a weekday
        (rf"\b(?:by|before|until|till)\s+(?:this\s+|next\s+)?{_WEEKDAY_RX}\b",
         lambda m: (today, _next_weekday(today, m.group(1)), f"by {day_label(_next_weekday(today, m.group(1)))}")),
        (rf"\b(?:on\s+|this\s+|next\s+|coming\s+|last\s+)?{_WEEKDAY_FULL_RX}\b(?!\s+(?:night|morning))",
         lambda m: _on_weekday(today, m, future)),
        # up to a day of a month
        (rf"\b(?:by|before|until|till|through|up\s+to)\s+(?:the\s+)?{_DAY}\s+(?:of\s+)?{MONTH_RX}(?:\s+(\d{{4}}))?\b",
         lambda m: _until(today, _one_day(today, int(m.group(1)), m.group(2), m.group(3), True))),
        (rf"\b(?:by|before|until|till|through|up\s+to)\s+{MONTH_RX}\s+{_DAY}\b(?:,?\s+(\d{{4}}))?",
         lambda m: _until(today, _one_day(today, int(m.group(2)), m.group(1), m.group(3), True))),
        # one day of a month
        (rf"\b(?:on\s+)?(?:the\s+)?{_DAY}\s+(?:of\s+)?{MONTH_RX}(?:\s+(\d{{4}}))?\b",
         lambda m: _one_day(today, int(m.group(1)), m.group(2), m.group(3), future)),
        (rf"\b(?:on\s+)?{MONTH_RX}\s+{_DAY}\b(?!\s*(?:-|–|to|and)\s*\d)(?:,?\s+(\d{{4}}))?",
         lambda m: _one_day(today, int(m.group(2)), m.group(1), m.group(3), future)),
        # whole months
        (rf"\b{MONTH_RX}\s+(\d{{4}})\b", lambda m: _named_month(today, m.group(1), int(m.group(2)), future)),
        (rf"\b(?:in|for|during|of|from|over)\s+{MONTH_RX}\b(?!\s+\d)", lambda m: _named_month(today, m.group(1), None, future)),
        (rf"\b{_BARE_MONTH_RX}\b(?!\s+\d)", lambda m: _named_month(today, m.group(1), None, future)),
        (r"\b(\d{4})-(\d{2})-(\d{2})\b", lambda m: _iso_day(m)),
    ]


def _next_n(today: date, n: int, unit: str) -> tuple:
    if unit == "month":
        y, mo = shift_month(today, n)
        end = date(y, mo, min(today.day, calendar.monthrange(y, mo)[1]))
    else:
        end = today + timedelta(days=n * (7 if unit == "week" else 1))
    return today, end, f"in the next {n} {unit}{'s' if n != 1 else ''}", (end - today).days


def _last_n(today: date, n: int, unit: str) -> tuple:
    if unit in ("month", "year"):
        y, mo = shift_month(today, -n * (12 if unit == "year" else 1))
        start = date(y, mo, min(today.day, calendar.monthrange(y, mo)[1]))
    else:
        start = today - timedelta(days=n * (7 if unit == "week" else 1))
    label = f"in the last {n} {unit}s" if n != 1 else f"in the past {unit}"
    return start, today, label


def _named_month(today: date, name: str, year: int | None, future: bool) -> tuple:
    month = MONTHS[name.rstrip(".")]
    if year is None:
        year = today.year
        if future and month < today.month:
            year += 1
        elif not future and month > today.month:
            year -= 1
    start, end = month_range(year, month)
    return start, end, _month_label(year, month)


def _year_of(today: date, month: int, year: str | None, future: bool) -> int:
    if year:
        return int(year)
    if future:
        return today.year + 1 if month < today.month else today.year
    return today.year - 1 if month > today.month else today.year


def _days_of_month(today: date, first: int, last: int, name: str, year: str | None, future: bool,
                   end_name: str | None = None) -> tuple | None:
    month = MONTHS[name.rstrip(".")]
    end_month = MONTHS[end_name.rstrip(".")] if end_name else month
    y = _year_of(today, month, year, future)
    end_y = y + (1 if end_month < month else 0)
    try:
        start, end = date(y, month, first), date(end_y, end_month, last)
    except ValueError:
        return None
    if end < start:
        return None
    return start, end, f"from {day_label(start)} to {day_label(end)}"


def _months_between(today: date, first: str, last: str, year: str | None, future: bool) -> tuple:
    m1, m2 = MONTHS[first.rstrip(".")], MONTHS[last.rstrip(".")]
    if year:
        y2 = int(year)
        y1 = y2 - (1 if m1 > m2 else 0)
    else:
        y1 = _year_of(today, m1, None, future)
        y2 = y1 + (1 if m2 < m1 else 0)
    start, end = month_range(y1, m1)[0], month_range(y2, m2)[1]
    return start, end, f"from {calendar.month_name[m1]} {y1} to {calendar.month_name[m2]} {y2}"


def _one_day(today: date, day: int, name: str, year: str | None, future: bool) -> tuple | None:
    month = MONTHS[name.rstrip(".")]
    y = _year_of(today, month, year, future)
    if not year and future and month == today.month and day < today.day:
        y += 1
    try:
        d = date(y, month, day)
    except ValueError:
        return None
    return d, d, f"on {day_label(d)}"


def _until(today: date, day: tuple | None) -> tuple | None:
    if day is None or day[0] < today:
        return None
    return today, day[0], f"by {day_label(day[0])}"


def _iso_day(m: re.Match) -> tuple | None:
    try:
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return d, d, f"on {day_label(d)}"


def _since(today: date, m: re.Match) -> tuple | None:
    day = int(m.group(1) or m.group(3) or 1)
    month = MONTHS[m.group(2).rstrip(".")]
    year = int(m.group(4)) if m.group(4) else (today.year if month <= today.month else today.year - 1)
    try:
        start = date(year, month, day)
    except ValueError:
        return None
    label = f"since {calendar.month_name[month]} {year}" if day == 1 and not (m.group(1) or m.group(3)) \
        else f"since {day_label(start)}"
    return start, today, label


def _bare_year(today: date, m: re.Match) -> tuple | None:
    """"2025 bills": a year said without a preposition, unless it is an amount ("over 2000")."""
    year = int(m.group(1))
    before = m.string[: m.start()]
    if not today.year - 10 <= year <= today.year + 5 or re.search(
            r"(?:over|under|above|below|than|least|most|between|and|to|[$€£#])\s*$", before):
        return None
    return date(year, 1, 1), date(year, 12, 31), f"in {year}"


def _quarter(today: date, q: int, year: int, label: str | None = None) -> tuple:
    start = date(year, 3 * q - 2, 1)
    end = month_range(year, 3 * q)[1]
    return start, end, label or f"in Q{q} {year}"


def _quarter_shift(today: date, delta: int, label: str) -> tuple:
    index = today.year * 4 + (today.month - 1) // 3 + delta
    return _quarter(today, index % 4 + 1, index // 4, label)


def _named_quarter(today: date, q: int, year: str | None, future: bool) -> tuple:
    current = (today.month - 1) // 3 + 1
    if year and year.isdigit():
        y = int(year)
    elif year and "last" in year:
        y = today.year - 1
    elif year:
        y = today.year
    elif future:
        y = today.year + (1 if q < current else 0)
    else:
        y = today.year - (1 if q > current else 0)
    return _quarter(today, q, y)


def _next_weekday(today: date, name: str) -> date:
    """The next such weekday after today (a week today when today is that day)."""
    target = WEEKDAYS[name]
    ahead = (target - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def _on_weekday(today: date, m: re.Match, future: bool) -> tuple:
    said = m.group(0)
    target = WEEKDAYS[m.group(1)]
    if said.startswith("last") or (not future and not said.startswith(("next", "this", "coming"))):
        back = (today.weekday() - target) % 7 or 7
        d = today - timedelta(days=back)
    else:
        d = today + timedelta(days=(target - today.weekday()) % 7)
        if d == today and not said.startswith("this"):
            d = today if not said.startswith("next") else today + timedelta(days=7)
    return d, d, f"on {day_label(d)}"
