"""What the conversation so far says: the vendor question add_bill asked, the bill last talked about."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from assistant.messages import Message

_OPEN = ("due", "overdue")


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


def chosen_vendor(t: str, original: str, question: VendorQuestion, strict: bool) -> str | None:
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


def last_bill_mentioned(history: list[Message]) -> int | None:
    """The bill the conversation was last about: the newest tool result naming exactly one bill (a
    vendor's profile: its one unpaid bill; "what should I pay first": the first). None when the newest
    result that names bills names several."""
    for index in range(len(history) - 1, -1, -1):
        message = history[index]
        if message.role != "tool" or message.is_error:
            continue
        result = message.result()
        if isinstance(result.get("bill"), dict) and "id" in result["bill"]:
            return result["bill"]["id"]
        bills = result.get("bills")
        if not isinstance(bills, list):
            continue
        if message.name == "vendor_profile":
            open_ = [b for b in bills if b.get("status") in _OPEN]
            if len(open_) == 1:
                return open_[0]["id"]
            if open_:
                return None
            continue
        if len(bills) == 1:
            return bills[0]["id"]
        if bills and message.name == "upcoming" and _asked_first(history[:index]):
            return bills[0]["id"]
        if bills:
            return None
    return None


def _asked_first(history: list[Message]) -> bool:
    """Whether the user message that led to this point asked what to pay first."""
    for message in reversed(history):
        if message.role == "user":
            return bool(re.search(r"\b(?:first|most\s+urgent|priorit)", message.content.lower()))
    return False
