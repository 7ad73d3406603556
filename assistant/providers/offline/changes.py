"""Requests that change bills, read with rules: mark paid, snooze, cancel, a new commitment, and the
calendar link.

"it", "that one", "the bill" point at the bill the conversation was last about; with none (or several)
the answer asks which bill. Whether the change is done at once or confirmed first is the tool's
decision (tools/_confirm.py), not the parser's.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any

from assistant.messages import Message
from assistant.providers.offline.conversation import last_bill_mentioned
from assistant.providers.offline.parsed import Intent, Slots
from assistant.providers.offline.periods import NUMBER_WORDS, Period, find_periods, shift_month
from assistant.providers.offline.words import find_amounts, find_money, mask, plain_number, subject

# A question asks for information, not a change ("did I pay the water bill?"); "can you ..." asks.
QUESTION = re.compile(r"^(?:(?:and|so|but|ok|okay|hey|hi|also|then|now)\b[\s,]*)*"
                      r"(?:how|what|what's|whats|when|which|who|whom|whose|why|where|did|do|does|have|has|had|is|"
                      r"was|are|were|am|should|shall|must|any|anything|show|list)\b")
_CALENDAR = re.compile(r"\b(?:calendar|calender|ics|ical|icalendar|webcal|\.ics|google\s+cal|outlook\s+cal)\b")
_PRONOUN = re.compile(r"^(?:it|that|this|that\s+one|this\s+one|the\s+bill|that\s+bill|this\s+bill|the\s+last\s+one|"
                      r"the\s+same(?:\s+one)?|the\s+one|one|them)$")
_BILL_NO = re.compile(r"(?:#\s*|\bbill\s+(?:no\.?\s*|number\s*|#\s*)?|\bnumber\s+|\bid\s+)(\d+)\b")
_MARK_PAID = [
    re.compile(r"\bmark\s+(?P<target>.*?)\s*(?:as\s+)?(?:paid|payed|settled)\b"),
    re.compile(r"\b(?:i\s+(?:have\s+|just\s+|already\s+)*|i've\s+(?:just\s+|already\s+)?|i\s+just\s+|just\s+|already\s+)?"
               r"(?:paid|payed|settled)\s+(?P<target>(?:the|my|bill|#|it|that|this|off).*?)"
               r"(?:\s+(?:today|yesterday|already|off|this\s+morning|last\s+night|on\s+\w+(?:\s+\d+)?))?[.!]?$"),
    re.compile(r"^(?P<target>.+?)\s+(?:is|was|has\s+been|got|been)\s+(?:already\s+)?(?:paid|payed|settled)\b"),
    re.compile(r"^(?:i\s+)?paid\s+(?P<target>.+?)[.!]?$"),
]
_SNOOZE = re.compile(r"\b(?:snooze|remind\s+me(?!\s+to\s+pay)|postpone|put\s+off|push\s+back|defer|hide)\b|"
                     r"\bput\s+(?:\S+\s+){1,4}?off\b|\bpush\s+(?:\S+\s+){1,4}?back\b")
_CANCEL = re.compile(r"^(?:please\s+|pls\s+|can\s+you\s+|could\s+you\s+|would\s+you\s+)?(?:cancel|delete|remove|drop|void)\b\s*"
                     r"(?P<target>.*)$|\bi\s+(?:have\s+|'ve\s+|just\s+)?cancell?ed\s+(?P<target2>.*)$|"
                     r"\b(?:don't|do\s+not|no\s+longer)\s+(?:need\s+to\s+)?(?:have\s+to\s+)?pay\s+(?P<target3>.*?)"
                     r"(?:\s+any\s*more|\s+anymore)?$")
_REPEATS = [
    (re.compile(r"\b(?:weekly|every\s+week|each\s+week|a\s+week|per\s+week|/\s*wk|/\s*week)\b"), "weekly"),
    (re.compile(r"\b(?:quarterly|every\s+(?:quarter|3\s+months|three\s+months)|each\s+quarter|a\s+quarter|per\s+quarter)\b"),
     "quarterly"),
    (re.compile(r"\b(?:yearly|annually|annual|every\s+year|each\s+year|a\s+year|per\s+year|/\s*yr|/\s*year)\b"), "yearly"),
    (re.compile(r"\b(?:monthly|every\s+month|each\s+month|a\s+month|per\s+month|/\s*mo(?:nth)?)\b|"
                r"\b(?:of\s+)?(?:every|each)\s+month\b"), "monthly"),
]
_DAY_OF_MONTH = re.compile(r"\b(?:on\s+|due\s+|by\s+)?(?:the\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)\b"
                           r"(?!\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))"
                           r"(?:\s+of\s+(?:each|every|the)\s+month)?|\bday\s+(?P<day2>\d{1,2})\b")
_CREATE_LEAD = re.compile(r"^(?:please\s+)?(?:add|new|create|set\s+up|record|track|remind\s+me\s+to\s+pay|i\s+pay|i\s+owe|"
                          r"i\s+have\s+to\s+pay|i\s+need\s+to\s+pay)\b|\bdue\s+(?:on|every|each|by)\b")
_FOR = re.compile(r"\bfor\s+(?P<n>\d+|" + "|".join(NUMBER_WORDS) + r")\s+(?P<unit>day|week|month)s?\b")


def read_change(original: str, t: str, history: list[Message], today: date) -> Intent | None:
    """A request to change bills (or for the calendar link), or None."""
    plain = t.rstrip(" ?.!")
    if _CALENDAR.search(t) and not re.search(r"\bcalendar\s+(?:year|month)\b", t):
        return Intent("calendar", [("calendar_feed", {})])
    asks = not QUESTION.match(t) or re.match(r"^(?:can|could|would|will)\s+you\b", t)
    if not asks:
        return None
    created = _create(original, t, today)
    if created is not None:
        return created
    if _SNOOZE.search(t):
        return _snooze(t, history, today)
    m = _CANCEL.search(plain)
    if m:
        target = next(g for g in (m.group("target"), m.group("target2"), m.group("target3")) if g is not None)
        return _targeted("cancel", target, history, {})
    for rx in _MARK_PAID:
        m = rx.search(plain)
        if m and not re.search(r"\b(?:how|what|which|when|who|bills)\b", m.group("target")):
            return _mark_paid(m.group("target"), t, history, today)
    return None


def _targeted(kind: str, target_text: str, history: list[Message], extra: dict[str, Any]) -> Intent:
    """An action on the bill `target_text` names: "#12", a vendor, or "it" (the last bill talked about)."""
    tool = {"mark_paid": "mark_paid", "snooze": "snooze", "cancel": "cancel"}[kind]
    target_text = target_text.strip(" .!?,")
    m = _BILL_NO.search(target_text)
    if m:
        return Intent(kind, [(tool, {"bill_id": int(m.group(1)), **extra})])
    cleaned = re.sub(r"^(?:the|my|our)\s+", "", target_text)
    run = subject(target_text)
    if not target_text or _PRONOUN.match(target_text) or _PRONOUN.match(cleaned) or run is None:
        bill_id = last_bill_mentioned(history)
        if bill_id is None:
            return Intent("which_bill", mode=kind)  # nothing (or several) to point at: ask which
        return Intent(kind, [(tool, {"bill_id": bill_id, **extra})])
    return Intent(kind, [(tool, {"vendor": run.words, **extra})], Slots(vendor=run.words))


def _mark_paid(target: str, t: str, history: list[Message], today: date) -> Intent:
    paid_date = today
    if re.search(r"\byesterday\b|\blast\s+night\b", t):
        paid_date = today - timedelta(days=1)
    else:
        for p in find_periods(t, today, future=False):
            if p.start == p.end and p.start is not None and p.start <= today and p.label.startswith("on "):
                paid_date = p.start
    target = re.sub(r"\b(?:yesterday|today|this\s+morning|last\s+night|on\s+\w+(?:\s+\d+)?)$", "", target.strip())
    return _targeted("mark_paid", target, history, {"paid_date": paid_date.isoformat()})


def _snooze(t: str, history: list[Message], today: date) -> Intent:
    spans: list[tuple[int, int]] = []
    when: dict[str, Any] | None = None
    m = _FOR.search(t)
    if m:
        n = int(m.group("n")) if m.group("n").isdigit() else NUMBER_WORDS[m.group("n")]
        if m.group("unit") == "month":
            y, mo = shift_month(today, n)
            when = {"until": date(y, mo, min(today.day, calendar.monthrange(y, mo)[1])).isoformat()}
        else:
            when = {"days": n * (7 if m.group("unit") == "week" else 1)}
        spans.append(m.span())
    for p in find_periods(t, today, future=True):
        spans.append(p.span)
        if when is None:
            when = _snooze_until(p, today)
    if when is None:
        when = {"days": 7}  # "snooze it": a week
    rest = mask(t, *spans)
    rest = re.sub(r"\b(?:snooze|remind\s+me(?:\s+(?:again|later))?|postpone|put|off|push|back|defer|hide)\b", " ", rest)
    rest = re.sub(r"\b(?:about|of|for|until|till|to)\b", " ", rest)
    target = " ".join(w for w in re.split(r"[\s|]+", rest) if w)
    return _targeted("snooze", target, history, when)


def _snooze_until(p: Period, today: date) -> dict[str, Any]:
    if p.days_ahead is not None and p.label.startswith("in the next"):
        return {"days": max(1, p.days_ahead)}
    if p.start is not None and p.start > today:
        return {"until": p.start.isoformat()}  # "next week": until it starts
    if p.end is not None and p.end > today:
        return {"until": p.end.isoformat()}  # "until 5 December"
    return {"days": 7}


def _create(original: str, t: str, today: date) -> Intent | None:
    """"rent 1,200 due on the 1st every month" -> create_commitment."""
    if find_amounts(t).spans:
        return None  # "bills over $100 due next week" is a question with a filter
    periods = [p for p in find_periods(t, today, future=True)]
    day = _DAY_OF_MONTH.search(t)
    spans = [p.span for p in periods] + ([day.span()] if day else [])
    money = find_money(mask(t, *spans))
    if money is None:
        return None
    repeats = next((name for rx, name in _REPEATS if rx.search(t)), None)
    single = next((p for p in periods if p.start is not None and p.start == p.end), None)
    if not (repeats or day or single or _CREATE_LEAD.search(t)):
        return None
    args: dict[str, Any] = {}
    vendor = _new_vendor(original, t, money.span)
    if vendor is None:
        return None
    args["vendor"] = vendor
    args["amount"] = plain_number(money.amount)
    if money.currency:
        args["currency"] = money.currency
    if day is not None and 1 <= int(day.group("day") or day.group("day2")) <= 31:
        args["day_of_month"] = int(day.group("day") or day.group("day2"))
    elif single is not None:
        args["due_date"] = single.start.isoformat()
    else:
        return Intent("when_due", slots=Slots(vendor=vendor))  # ask when it is due
    args["repeats"] = repeats or "none"
    return Intent("create", [("create_commitment", args)], Slots(vendor=vendor))


def _new_vendor(original: str, t: str, money_span: tuple[int, int]) -> str | None:
    """Who a new commitment is to: the words before the amount ("rent 1,200 ..."), else after
    "to"/"for" ("I pay 45 to the gym ...")."""
    before = re.sub(r"\b(?:remind\s+me\s+to\s+pay|set\s+up|i\s+pay|i\s+owe|i\s+have\s+to\s+pay|i\s+need\s+to\s+pay)\b",
                    lambda m: "|" + " " * (len(m.group(0)) - 1), t[: money_span[0]])
    run = subject(before)
    if run is None:
        after = t[money_span[1]:]
        m = re.search(r"\b(?:to|for|from)\s+(.*)$", after)
        run = subject(m.group(1)) if m else None
        if run is None:
            return None
        offset = money_span[1] + m.start(1)
        start, end = run.span[0] + offset, run.span[1] + offset
    else:
        start, end = run.span
    name = original[start:end] if len(original) == len(t) else run.words
    if run.words != name.lower():  # a nickname was put in place of the word: keep what was said
        name = run.words
    return name.title() if name == name.lower() else name
