"""What a person is asking, read with rules: which tool calls a model would make for it.

The reading goes: a pasted or attached bill; the answer to a vendor question add_bill asked; a
change (mark paid, snooze, cancel, a new commitment, the calendar); a follow-up of the previous
question ("and last month?", "what about City Water?"); then a question, from its pieces: period,
vendor words or category, amounts, status, sorting, grouping (`words`, `periods`), mapped to a tool
as `parsed` describes.
"""

from __future__ import annotations

import re
from datetime import date

from assistant.documents.recognise import looks_like_bill
from assistant.messages import Message
from assistant.providers.offline.changes import read_change
from assistant.providers.offline.conversation import (VendorQuestion, chosen_vendor, last_bill_mentioned,
                                                      pending_vendor_question)
from assistant.providers.offline.parsed import QUERY_KINDS, Intent, Slots, build
from assistant.providers.offline.periods import Period, find_periods
from assistant.providers.offline.words import (ANY_STATUS, CANCELLED, ISSUED, NOT_PAID, OPEN, OVERDUE, PAID, Sort,
                                               find_amounts, find_category, find_sort, mask, normalize, subject)

__all__ = ["Intent", "Slots", "read_intent", "last_bill_mentioned", "pending_vendor_question", "VendorQuestion"]

_AI_COST = re.compile(r"\b(?:ai|a\.i\.|llm|models?|tokens?|openai|anthropic|gemini|the\s+assistant|chatgpt|claude)\b.*"
                      r"\b(?:cost|spen[dt]|usage|used|charge)|"
                      r"\b(?:cost|spen[dt]|usage|used)\b.*\b(?:ai|a\.i\.|llm|models?|tokens?|openai|anthropic|gemini)\b|"
                      r"\b(?:have|did|do)\s+you\s+cost\b|\byour\s+(?:own\s+)?(?:cost|usage)\b|^(?:ai\s+)?usage\b")
_VENDORS = re.compile(r"\b(?:vendors|billers|payees|companies|providers)\b|\bwho\s+do\s+i\s+(?:pay|owe)\b(?!\s+(?:the\s+)?most)|"
                      r"\bwho\s+(?:sends|bills)\s+me\b|\blist\s+(?:my\s+)?(?:vendor|biller|payee)s?\b")
_HOW_MUCH = re.compile(r"\bhow\s+much\b|\bhow\s+many\s+(?:dollars|euros|bucks)\b|\btotal\b|\bsum\b|\baltogether\b|"
                       r"\bspen[dt]\b|\bspending\b|\bexpenses?\b|\bcost(?:s|ed)?\b|\boutgoings\b")
_PAY_WORDS = re.compile(r"\b(?:pa(?:y|id|ying|yed)|spen[dt]|spending|cost(?:s|ed)?|expenses?|outgoings)\b")
_BILLED = re.compile(r"\b(?:billed|charged|invoiced|(?:bill|charge|invoice)\s+(?:me|us)|did\s+.+?\s+(?:bill|charge|invoice))\b")
_GROUP = [
    ("month", re.compile(r"\b(?:by|per|each|every|a)\s+month\b|\bmonth[-\s]by[-\s]month\b|\bmonthly\s+(?:breakdown|totals?|spend\w*)\b|"
                         r"\bper-month\b|\bmonthly\b(?=.*\b(?:spen[dt]|spending|costs?|paid)\b)")),
    ("year", re.compile(r"\b(?:by|per|each|a)\s+year\b|\byear[-\s]by[-\s]year\b|\b(?:yearly|annual)\s+(?:breakdown|totals?|spend\w*)\b")),
    ("category", re.compile(r"\b(?:by|per|each)\s+categor(?:y|ies)\b|\b(?:which|what)\s+(?:kind|type|categor(?:y|ies))\b|"
                            r"\bcategories\b|\bcategory\s+breakdown\b")),
    ("vendor", re.compile(r"\b(?:by|per|each)\s+(?:vendor|company|biller|payee|provider)\b|"
                          r"\b(?:which|what)\s+(?:vendor|company|biller|payee|provider)s?\b.*\b(?:most|least|biggest|highest|largest|more)\b|"
                          r"\bwho\b.*\b(?:most|biggest)\b|\bbiggest\s+(?:expense|spend|cost)s?\b|"
                          r"\b(?:most|least)\s+expensive\s+(?:vendor|company|biller|provider|payee)s?\b|"
                          r"\b(?:biggest|largest|priciest)\s+(?:vendor|company|biller|provider|payee)s?\b|"
                          r"\bwhere\s+(?:does|did|is)\s+(?:my|the|all\s+my)\s+money\s+go")),
]
_TOP = re.compile(r"\b(?:most|biggest|highest|largest)\b")
_COMPARE = re.compile(r"\bcompar\w*|\bvs\.?(?=\s)|\bversus\b|\b(?:up|down)\s+(?:or\s+down|from|on)\b|\bmore\s+or\s+less\b|"
                      r"\bthan\s+(?:last|the\s+previous|before|usual)\b|\bchanged?\b|\bdifference\b|\btrend\b")
_UPCOMING = re.compile(r"\bcoming\s+up\b|\bupcoming\b|\bcoming\s+due\b")
_FIRST = re.compile(r"\bpay\s+(?:first|1st)\b|\b(?:should|do|must)\s+i\s+pay\s+(?:first|next)\b|\bfirst\s+to\s+pay\b|\burgent\w*\b|"
                    r"\bpriorit\w*\b|\bwhat'?s\s+next\b|\bnext\s+up\b|\bwhat\s+to\s+pay\b|\bmost\s+important\b|\bpay\s+next\b|"
                    r"\b(?:should|do)\s+i\s+pay\s+now\b")
_PROFILE = re.compile(r"\btell\s+me\s+(?:\w+\s+)?about\b|\bknow\s+about\b|\b(?:info|information|details|profile|overview)\b|"
                      r"\bsummary\s+(?:of|for)\b|\busual(?:ly)?\b|\busualy\b|\btypical(?:ly)?\b|\bnormal(?:ly)?\b|\baverage\b|"
                      r"\bavg\b|\bunusual\b|\banomal\w*|\bweird\b|\bstrange\b|\bodd\b|\bspikes?\b|\bhistory\s+(?:with|of|for)\b|"
                      r"\beverything\s+about\b|\bwhat'?s\s+up\s+with\b|\bwhat\s+about\s+my\b.*\b(?:bill|account)\b(?!s)|"
                      r"\bhow\s+often\b|\bwhen\s+(?:is|does)\b.*\b(?:due|come)\b.*\busually\b|\bhigher\s+than\s+(?:normal|before)\b")
_BILLS_WORD = re.compile(r"\b(?:bills?|invoices?|payments?|charges?|statements?)\b")
_LIST = re.compile(r"\b(?:show|list|display|see|which|what|any|all|every)\b")
_HOW_MANY = re.compile(r"\bhow\s+many\b")
_TEXT = re.compile(r"\b(?:invoice|inv|ref(?:erence)?|bill|account)\s*(?:number|no\.?|nr\.?|#)?\s*:?\s*(?P<code>[a-z]{1,6}-?\d[\w-]*)\b")
_SEARCH = re.compile(r"^(?:please\s+|can\s+you\s+|could\s+you\s+)?(?:find|search(?:\s+for)?|look\s+(?:for|up)|where(?:'s|\s+is|\s+are)|"
                     r"pull\s+up|dig\s+up)\s+(?:my\s+|the\s+|a\s+|for\s+)?(?P<q>.+)$")
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|thanks|thank\s+you|thx|cheers)\b"
                       r"(?:\s+(?:there|again|a\s+lot|so\s+much))?[\s!.]*$")
_FOLLOW = re.compile(r"^(?:(?:and|also|ok(?:ay)?|so|now|then|plus|but|right|hmm)\b[\s,]*)*"
                     r"(?:(?:what|wat|wht|how)\s+(?:about|abt|bout)|what\s+of|same\s+(?:thing\s+)?(?:for|but(?:\s+for)?|with|again\s+for)|"
                     r"and\s+for|and\s+in|and|also|same|now\s+for|ok\s+now)\b[\s,]*")
_NOT_ONLY = re.compile(r"\b(?:only|just)\b")


def read_intent(message: Message, history: list[Message], today: date) -> Intent:
    text = message.content.strip()
    if message.attachments:
        return Intent("add_bill", [("add_bill", {"attachment_id": a.id}) for a in message.attachments])
    if looks_like_bill(text):
        return Intent("add_bill", [("add_bill", {"text": text})])
    original, t = normalize(text)
    if not t or (text.count("\n") >= 2 and "?" not in text):
        return Intent("help")  # several lines and no question: a note or letter, not a request
    question = pending_vendor_question(history)
    if question is not None:
        vendor = chosen_vendor(t, text, question, strict=True)
        if vendor:
            return _file_as(question, vendor)
    intent = _read(original, t, history, today)
    if intent.kind == "help" and question is not None:
        vendor = chosen_vendor(t, text, question, strict=False)
        if vendor:
            return _file_as(question, vendor)
    return intent


def _file_as(question: VendorQuestion, vendor: str) -> Intent:
    return Intent("add_bill", [("add_bill", {**question.arguments, "vendor": vendor})], Slots(vendor=vendor))


# ----------------------------------------------------------------------------------------------


class _Pieces:
    """The pieces of one question: periods (as due-type and past-type dates), category, amounts,
    vendor words, status and sorting."""

    def __init__(self, t: str, today: date):
        self.t = t
        self.today = today
        self.future_periods = find_periods(t, today, future=True)
        self.past_periods = find_periods(t, today, future=False)
        spans = [p.span for p in self.future_periods]
        self.code = _TEXT.search(t)
        if self.code:
            spans.append(self.code.span())
        self.amounts = find_amounts(mask(t, *spans))
        spans += list(self.amounts.spans)
        spans += [m.span() for m in re.finditer(r"#\s*\d+", t)]
        self.category = find_category(mask(t, *spans))
        if self.category:
            spans.append(self.category[1])
        self.masked = mask(t, *spans)
        run = subject(self.masked)
        self.vendor = re.sub(r"'s\b", "", run.words) if run else None  # "pacific power's" -> "pacific power"
        self.sort = find_sort(t)

    def period(self, future: bool) -> Period | None:
        found = self.future_periods if future else self.past_periods
        return found[0] if found else None

    @property
    def category_name(self) -> str | None:
        return self.category[0] if self.category else None

    def has_slots(self, vendor: bool = True) -> bool:
        return bool(self.future_periods or (vendor and self.vendor) or self.category or self.amounts.spans
                    or self.sort.field or self.status())

    def status(self) -> str | None:
        t = self.t
        if NOT_PAID.search(t):
            return "open"
        if OVERDUE.search(t):
            return "overdue"
        if CANCELLED.search(t):
            return "cancelled"
        if PAID.search(t):
            return "paid"
        if OPEN.search(t):
            return "open"
        if ANY_STATUS.search(t):
            return "any"
        return None


def _read(original: str, t: str, history: list[Message], today: date) -> Intent:
    change = read_change(original, t, history, today)
    if change is not None:
        return change
    if _AI_COST.search(t):
        return Intent("ai_usage", [("ai_usage", {})])
    pieces = _Pieces(t, today)
    follow = _follow_up(t, pieces, history, today)
    if follow is not None:
        return follow
    group = next((name for name, rx in _GROUP if rx.search(t)), None)
    if pieces.code:
        return build("bills", Slots(text=original[pieces.code.start("code"):pieces.code.end("code")]
                                    if len(original) == len(t) else pieces.code.group("code"), status="any"), today)
    if _VENDORS.search(t) and not group and not _HOW_MUCH.search(t):
        return Intent("vendors", [("list_vendors", {})])
    if _PROFILE.search(t) and pieces.vendor and not group:
        return build("profile", Slots(vendor=pieces.vendor), today)
    status = pieces.status()
    past = pieces.period(False)
    spend_q = bool(_HOW_MUCH.search(t)) and status not in ("open", "overdue", "cancelled") and (
        bool(_PAY_WORDS.search(t)) or bool(_BILLED.search(t))
        or (status is None and past is not None and past.start is not None and past.start <= today))
    compare = bool(_COMPARE.search(t)) and bool(pieces.future_periods or _PAY_WORDS.search(t))
    billed_q = bool(_BILLED.search(t)) and bool(_HOW_MUCH.search(t) or re.match(r"^(?:and\s+)?what\b", t))
    if spend_q or group or compare or billed_q:
        billed = bool(_BILLED.search(t)) and not re.search(r"\b(?:paid|pay|spen[dt])\b", t)
        slots = Slots(period=pieces.period(False), vendor=pieces.vendor, category=pieces.category_name,
                      group_by=group, basis="billed" if billed else "paid", compare=compare,
                      top=bool(group in ("vendor", "category") and _TOP.search(t)))
        if group == "category":
            slots.category = None if not pieces.category else slots.category
        return build("spending", slots, today)
    first = bool(_FIRST.search(t))
    upcoming = bool(_UPCOMING.search(t))
    period = pieces.future_periods[0] if pieces.future_periods else None
    filters = pieces.vendor or pieces.category or pieces.amounts.spans
    if first and not filters:
        return build("upcoming", Slots(period=period, first=True), today)
    if upcoming and not filters and period is None:
        return build("upcoming", Slots(), today)
    only_period = period is not None and not (pieces.vendor or pieces.category or status or pieces.amounts.spans
                                              or pieces.sort.field or _BILLS_WORD.search(t))
    if only_period and period.days_ahead is not None:
        return build("upcoming", Slots(period=period, days=period.days_ahead), today)
    category = pieces.category and (_LIST.search(t) or _BILLS_WORD.search(t) or t.endswith("?"))
    listish = (status or upcoming or pieces.amounts.spans or pieces.sort.field or category
               or _HOW_MANY.search(t) or (_BILLS_WORD.search(t) and (_LIST.search(t) or pieces.vendor or period))
               or (_HOW_MUCH.search(t) and (pieces.vendor or pieces.category)))
    search = _SEARCH.search(t)
    if listish and not (search and not (status or pieces.amounts.spans or pieces.sort.field or pieces.category
                                        or period)):
        return _bills(t, pieces, status, today)
    if search:
        return Intent("search", [("search_documents", {"query": search.group("q").strip(" ?.!")})])
    if _GREETING.match(t):
        return Intent("greeting")
    return Intent("help")


_DID_I_PAY = re.compile(r"\b(?:did|have|has)\s+(?:i|we|it|that|this|the\s+\w+(?:\s+\w+)?)\s+(?:already\s+)?(?:pay|paid|been\s+paid)\b|"
                        r"\bis\s+(?:it|that|the\s+.+?)\s+(?:already\s+)?paid\b")


def _bills(t: str, pieces: _Pieces, status: str | None, today: date) -> Intent:
    sort = pieces.sort
    if _DID_I_PAY.search(t) and pieces.vendor and not sort.field:
        # "did I pay the water bill?": its bills whatever their status, latest first
        status, sort = "any", Sort("latest", True, latest=True)
    if status is None:
        if sort.latest or ISSUED.search(t):
            status = "any"
        else:
            past = pieces.period(False)
            status = "any" if past is not None and past.end is not None and past.end < today else "open"
    future = status in ("open", "overdue")
    date_field = "paid" if status == "paid" else ("issued" if ISSUED.search(t) else None)
    if date_field == "issued" or status in ("paid", "any"):
        future = False
    slots = Slots(period=pieces.period(future), vendor=pieces.vendor, category=pieces.category_name, status=status,
                  date_field=date_field, amount_min=pieces.amounts.minimum, amount_max=pieces.amounts.maximum,
                  sort=sort)
    return build("bills", slots, today)


# ----------------------------------------------------------------------------------------------
# follow-ups


def _follow_up(t: str, pieces: _Pieces, history: list[Message], today: date) -> Intent | None:
    """"and last month?", "what about City Water?", "insurance?": the previous question again, with
    what this message changes (period, vendor, category, status, amounts)."""
    lead = _FOLLOW.match(t)
    rest = t[lead.end():] if lead else t
    if not rest.strip(" ?.!") or not history:
        return None
    own_words = (_PROFILE.search(rest) or _HOW_MUCH.search(rest) or _FIRST.search(rest) or _UPCOMING.search(rest)
                 or _VENDORS.search(rest) or any(rx.search(rest) for _, rx in _GROUP)
                 or _SEARCH.search(rest) or _GREETING.match(rest))
    short = len(rest.split()) <= 5 and not _BILLS_WORD.search(rest) and not _LIST.search(rest)
    if own_words or not (lead or short):
        return None
    rest_pieces = _Pieces(rest, today)
    if not rest_pieces.has_slots():
        return None
    if not lead and not rest_pieces.has_slots(vendor=False) and "?" not in t:
        return None  # a bare name ("Hamburg Energie") is not taken as a question about it
    previous = previous_question(history, today)
    if previous is None:
        return None
    slots = previous.slots.with_()
    kind = previous.kind
    future = kind in ("upcoming",) or (kind == "bills" and previous.mode in ("open", "overdue"))
    period = rest_pieces.period(future)
    if period is not None:
        slots.period = period
        slots.days = period.days_ahead if kind == "upcoming" else slots.days
        if kind == "upcoming" and period.days_ahead is None and period.end is not None:
            slots.days = max(0, (period.end - today).days)
    if rest_pieces.category:
        slots.category, slots.vendor = rest_pieces.category_name, None
    elif rest_pieces.vendor:
        slots.vendor = rest_pieces.vendor
        if not _NOT_ONLY.search(rest):
            slots.category = None
    if kind == "bills" and slots.status == "overdue" and period is not None and period.start is not None \
            and period.start > today:
        slots.status = "open"  # "anything overdue?" then "and next month?": what is due then
    status = rest_pieces.status()
    if status and kind == "bills":
        slots.status = status
        slots.date_field = "paid" if status == "paid" else None
    if rest_pieces.amounts.spans:
        slots.amount_min, slots.amount_max = rest_pieces.amounts.minimum, rest_pieces.amounts.maximum
    if rest_pieces.sort.field:
        slots.sort = rest_pieces.sort
    if kind == "profile" and rest_pieces.category and not rest_pieces.vendor:
        kind = "spending"
    intent = build(kind, slots, today)
    intent.follow_up = True
    return intent


def previous_question(history: list[Message], today: date, look_back: int = 3) -> Intent | None:
    """The newest of the last few questions in `history` that was a question about bills."""
    users = [i for i, m in enumerate(history) if m.role == "user"]
    for i in reversed(users[-look_back:]):
        intent = _read_once(history[i], history[:i], today)
        if intent.kind in QUERY_KINDS:
            return intent
    return None


def _read_once(message: Message, before: list[Message], today: date) -> Intent:
    """A past message's reading, kept on the message: reading it may read the questions before it
    (a follow-up of a follow-up), so without this each turn would re-read the whole chain again —
    work that doubled with every turn of a long conversation. A past message's history never changes."""
    cached = getattr(message, "_offline_reading", None)
    if cached is None or cached[0] != today:
        cached = (today, read_intent(message, before, today))
        message._offline_reading = cached  # type: ignore[attr-defined]
    return cached[1]
