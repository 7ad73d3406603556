"""What a person is asking, read with rules: which tool calls a model would make for it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from assistant.documents.recognise import looks_like_bill
from assistant.messages import Message
from assistant.providers.offline.periods import Period, find_period

_DUE = re.compile(r"\b(due|owe|upcoming|coming\s+up|to\s+pay|need\s+to\s+pay|have\s+to\s+pay|overdue|late|unpaid|outstanding|open\s+bills?)\b")
_OVERDUE = re.compile(r"\b(overdue|late|past\s+due|missed)\b")
_SPEND = re.compile(r"\b(how\s+much|total|sum|spent|spend)\b")
_PAID_WORDS = re.compile(r"\b(pa(?:y|id)|spen[dt])\b")
_BILLED_WORDS = re.compile(r"\b(bill(?:ed)?|charg(?:e|ed)|invoic(?:e|ed))\b")
_VENDORS = re.compile(r"\b(vendors?|billers?|payees?|companies|providers?|who\s+do\s+i\s+(?:pay|owe))\b")
_MARK_PAID = [
    re.compile(r"\bmark\s+(?P<target>.*?)\s*(?:as\s+)?paid\b"),
    re.compile(r"\b(?:i\s+(?:have\s+|just\s+|already\s+)?)paid\s+(?P<target>(?:the|my|bill|#).*?)(?:\s+(?:today|yesterday|already|off))?[.!]?$"),
    re.compile(r"^(?P<target>.+?)\s+(?:is|was|has\s+been)\s+paid\b"),
    re.compile(r"\bpaid\s+off\s+(?P<target>.+?)[.!]?$"),
]
_AI_COST = re.compile(r"\b(ai|a\.i\.|llm|models?|tokens?|openai|anthropic|gemini|the\s+assistant|you)\b.*\b(cost|spen[dt]|usage|used|charge)|"
                      r"\b(cost|spen[dt]|usage|used)\b.*\b(ai|a\.i\.|llm|models?|tokens?|openai|anthropic|gemini)\b|"
                      r"^(ai\s+)?usage\b")
_SEARCH = re.compile(r"^(?:please\s+)?(?:find|search(?:\s+for)?|look\s+(?:for|up)|where(?:'s|\s+is)|show\s+me)\s+"
                     r"(?:my\s+|the\s+|a\s+)?(?P<q>.+)$")
_GREETING = re.compile(r"^\s*(hi|hello|hey|good\s+(morning|afternoon|evening)|thanks|thank\s+you)\b[\s!.]*$")
_PRONOUN = re.compile(r"^(?:it|that|this|that\s+one|this\s+one|the\s+bill|that\s+bill|this\s+bill)$")
_FILLER = re.compile(r"\b(the|my|our|bill|bills|invoice|one|as|from|for|to|a|an)\b")
# Words that can follow "to"/"for"/"from" without being a vendor ("what do I have to pay ...").
_NOT_VENDOR = {"pay", "paid", "be", "me", "us", "you", "do", "it", "them", "this", "that", "all", "anything",
               "something", "everything", "everyone", "now", "soon", "bills", "bill", "the", "my", "our", "a"}


@dataclass
class Intent:
    kind: str  # add_bill | due | spending | mark_paid | vendors | greeting | help
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    period: Period | None = None
    vendor: str | None = None
    mode: str | None = None  # spending: paid | billed; due: open | overdue


def read_intent(message: Message, history: list[Message], today: date) -> Intent:
    text = message.content.strip()
    if message.attachments:
        return Intent("add_bill", [("add_bill", {"attachment_id": a.id}) for a in message.attachments])
    if looks_like_bill(text):
        return Intent("add_bill", [("add_bill", {"text": text})])
    t = re.sub(r"\s+", " ", text.lower().replace("’", "'")).strip()
    if not t:
        return Intent("help")
    question = pending_vendor_question(history)
    if question is not None:
        vendor = _chosen_vendor(t, text, question, strict=True)
        if vendor:
            return _file_as(question, vendor)
    intent = _read(t, history, today)
    if intent.kind == "help" and question is not None:
        vendor = _chosen_vendor(t, text, question, strict=False)
        if vendor:
            return _file_as(question, vendor)
    return intent


def _read(t: str, history: list[Message], today: date) -> Intent:
    for rx in _MARK_PAID:
        m = rx.search(t.rstrip("?.! "))
        if m:
            return _mark_paid(m.group("target"), history, t, today)
    if _AI_COST.search(t):
        return Intent("ai_usage", [("ai_usage", {})])
    if _VENDORS.search(t) and not _SPEND.search(t):
        return Intent("vendors", [("list_vendors", {})])
    if _SPEND.search(t) and (_PAID_WORDS.search(t) or _BILLED_WORDS.search(t)) and not re.search(r"\b(due|owe)\b", t):
        return _spending(t, today)
    if _DUE.search(t) or re.search(r"\b(what|which|any)\b.*\bbills?\b", t):
        return _due(t, today)
    search = _SEARCH.search(t)
    if search:
        return Intent("search", [("search_documents", {"query": search.group("q").strip(" ?.!")})])
    if _GREETING.match(t):
        return Intent("greeting")
    return Intent("help")


def _due(t: str, today: date) -> Intent:
    if _OVERDUE.search(t):
        return Intent("due", [("find_bills", {"status": "overdue"})], mode="overdue")
    period = find_period(t, today, future=True)
    args: dict[str, Any] = {"status": "open"}
    if period:
        args.update(date_from=period.start.isoformat(), date_to=period.end.isoformat())
    vendor = _vendor_after(t, r"\b(?:to|for|from|with)\b", period)
    if vendor:
        args["vendor"] = vendor
    return Intent("due", [("find_bills", args)], period=period, vendor=vendor, mode="open")


def _spending(t: str, today: date) -> Intent:
    period = find_period(t, today, future=False)
    billed = bool(_BILLED_WORDS.search(t)) and not _PAID_WORDS.search(t)
    vendor = None
    patterns = [
        r"\b(?:pa(?:y|id)|spen[dt])\s+(?:on\s+|to\s+|for\s+)?(?P<v>.+)",
        r"\b(?:billed|charged|invoiced)\s+(?:me\s+)?(?:by|from)\s+(?P<v>.+)",
        r"\bdid\s+(?P<v>.+?)\s+(?:bill|charge|invoice)\b",
        r"\bfrom\s+(?P<v>.+)",
    ]
    for p in patterns:
        m = re.search(p, t)
        if m:
            vendor = _clean_vendor(m.group("v"), period, m.start("v"))
            if vendor:
                break
    args: dict[str, Any] = {"status": "any" if billed else "paid", "date_field": "issued" if billed else "paid"}
    if vendor:
        args["vendor"] = vendor
    if period:
        args.update(date_from=period.start.isoformat(), date_to=period.end.isoformat())
    return Intent("spending", [("find_bills", args)], period=period, vendor=vendor,
                  mode="billed" if billed else "paid")


def _vendor_after(t: str, lead: str, period: Period | None) -> str | None:
    m = re.search(lead + r"\s+(?P<v>.+)", t)
    if not m:
        return None
    return _clean_vendor(m.group("v"), period, m.start("v"))


def _clean_vendor(raw: str, period: Period | None, offset: int) -> str | None:
    if period and period.span[0] >= offset:
        raw = raw[: period.span[0] - offset]
    raw = re.split(r"\b(?:in|this|last|next|since|during|so\s+far|altogether|in\s+total|overall|total|today|for\s+the|over\s+the|within|by)\b|[?.!,]", raw)[0]
    raw = re.sub(r"^(?:i|me|us|we|my|our|the)\s+", "", raw.strip())
    raw = re.sub(r"\s+(?:bills?|invoices?|company)$", "", raw.strip())
    tokens = raw.split()
    while tokens and tokens[0] in _NOT_VENDOR:
        tokens.pop(0)
    words = " ".join(tokens)
    if not words or _FILLER.sub("", words).strip() == "" or words in ("it", "them", "bills", "everything", "everyone", "all"):
        return None
    return words


def _mark_paid(target: str, history: list[Message], t: str, today: date) -> Intent:
    target = target.strip(" .!?")
    paid_date = today.isoformat()
    if re.search(r"\byesterday\b", t):
        from datetime import timedelta

        paid_date = (today - timedelta(days=1)).isoformat()
    m = re.search(r"(?:#|\bbill\s+(?:no\.?\s*|number\s*)?)(\d+)\b", target)
    if m:
        return Intent("mark_paid", [("mark_paid", {"bill_id": int(m.group(1)), "paid_date": paid_date})])
    if not target or _PRONOUN.match(target):
        bill_id = last_bill_mentioned(history)
        if bill_id is None:
            return Intent("mark_paid")  # nothing to point at: the answer asks which bill
        return Intent("mark_paid", [("mark_paid", {"bill_id": bill_id, "paid_date": paid_date})])
    vendor = re.sub(r"\b(the|my|our|bill|invoice|one)\b", " ", target)
    vendor = re.sub(r"\s+", " ", vendor).strip()
    if not vendor:
        bill_id = last_bill_mentioned(history)
        if bill_id is None:
            return Intent("mark_paid")
        return Intent("mark_paid", [("mark_paid", {"bill_id": bill_id, "paid_date": paid_date})])
    return Intent("mark_paid", [("mark_paid", {"vendor": vendor, "paid_date": paid_date})], vendor=vendor)


@dataclass
class VendorQuestion:
    """add_bill asked which vendor a bill is from: its arguments, the name on the bill, the candidates."""

    arguments: dict[str, Any]
    name_on_bill: str
    candidates: list[str]


def pending_vendor_question(history: list[Message]) -> VendorQuestion | None:
    """The vendor question of the previous turn, if that turn ended with one."""
    last_user = max((i for i, m in enumerate(history) if m.role == "user"), default=-1)
    calls = {c.id: c for m in history[last_user + 1:] if m.role == "assistant" for c in m.tool_calls}
    for message in reversed(history[last_user + 1:]):
        if message.role != "tool" or message.is_error or message.name != "add_bill":
            continue
        result = message.result()
        call = calls.get(message.tool_call_id or "")
        if result.get("needs_vendor") and call is not None:
            return VendorQuestion({k: v for k, v in call.arguments.items() if k in ("attachment_id", "text")},
                                  result["name_on_bill"], list(result.get("candidates") or []))
    return None


_ORDINALS = {"first": 0, "1st": 0, "1": 0, "one": 0, "second": 1, "2nd": 1, "2": 1, "two": 1,
             "third": 2, "3rd": 2, "3": 2, "three": 2}
_NEW = re.compile(r"^(?:(?:it'?s|it\s+is|that'?s|that\s+is)\s+)?(?:a\s+)?(?:new|neither|none|another|"
                  r"different)(?:\s+(?:one|vendor|company|of\s+them))?$")
_LEAD = re.compile(r"^(?:yes|yeah|yep|no|nope|ok|okay)?[,.!]?\s*(?:(?:it'?s|it\s+is|its|that'?s|that\s+is|"
                   r"this\s+is|it\s+was|that\s+was)\s+)?(?:(?:from|by)\s+)?(?:the\s+)?", re.IGNORECASE)


def _chosen_vendor(t: str, original: str, question: VendorQuestion, strict: bool) -> str | None:
    """Which vendor the reply names: a candidate (by name or "the first one"), the name on the bill
    ("a new one"), or, when nothing else in the reply makes sense (`strict=False`), a short reply
    taken as the vendor's name."""
    from rapidfuzz import fuzz, process

    words = t.strip(" .!?")
    if _NEW.match(words):
        return question.name_on_bill
    bare = _LEAD.sub("", words).strip()
    ordinal = re.fullmatch(r"(\w+)(?:\s+one)?", bare)
    if ordinal and ordinal.group(1) in _ORDINALS and _ORDINALS[ordinal.group(1)] < len(question.candidates):
        return question.candidates[_ORDINALS[ordinal.group(1)]]
    if not bare:
        return None
    options = question.candidates + [question.name_on_bill]
    best = process.extractOne(bare, options, scorer=fuzz.WRatio, processor=str.lower)
    if best and best[1] >= 88:
        return best[0]
    name = _LEAD.sub("", original.strip(" .!?")).strip()
    if not strict and "?" not in original and 0 < len(name.split()) <= 5:
        return name
    return None


def _file_as(question: VendorQuestion, vendor: str) -> Intent:
    return Intent("add_bill", [("add_bill", {**question.arguments, "vendor": vendor})], vendor=vendor)


def last_bill_mentioned(history: list[Message]) -> int | None:
    """The bill the conversation was last about: the newest tool result naming exactly one bill."""
    for message in reversed(history):
        if message.role != "tool" or message.is_error:
            continue
        result = message.result()
        if isinstance(result.get("bill"), dict):
            return result["bill"]["id"]
        bills = result.get("bills")
        if isinstance(bills, list) and len(bills) == 1:
            return bills[0]["id"]
        if isinstance(bills, list) and bills:
            return None
    return None
