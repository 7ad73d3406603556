"""The pieces of a request, read with rules: who it is about (vendor words or a category), amounts,
statuses, sorting.

Vendor names are not guessed here: the words that are left once everything else is taken out
(question words, verbs, periods, amounts, category words, fillers) are passed to the tools, which
resolve them with `match_vendors` (typos, partial names, aliases such as "PacifiCorp" or "landlord").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from assistant.graph.categories import categories, category_named

# Words that are never part of a vendor's name in a question. Deliberately long: whatever is left
# over is read as a vendor name.
STOP = set("""
a an the of to for from with without on in into at by about as per via than then and or but so if up down out
off over under above below between within during since until till through after before against vs versus
what what's whats wat which who whom whose when where why how how's hows is isn't are aren't was wasn't were
am be been being do does did didn't don't done doing have has had having haven't will won't would shall should
can can't could couldn't may might must need needs want wanna gonna gotta got get gets getting let let's lets
i i'm im i've ive i'd i'll me my mine myself we we've us our ours you your yours u ur it it's its they them
their this that that's these those there there's here any anything anyone some something all every
everything each much many more most less least few lot lots no not none nothing only just also too very
really still yet already ever again else other another same both either please pls plz kindly hey hi hello
ok okay thanks thank thx ty um uh hmm well btw lol quick quickly real actually maybe like tell show list give
see check look find know display pull bring fetch wondering wonder curious question help mind bill bills
invoice invoices payment payments pay paid paying pays payed spend spent spending spends cost costs costed
costing charge charged charges charging billed billing invoiced owe owed owing due overdue late unpaid
open outstanding pending cancelled canceled cancel total totals sum amount amounts money expense expenses
provider providers vendor vendors biller billers payee payees company companies account accounts statement
statements usual usually usualy typical typically normal normally average avg unusual weird strange odd
anomaly anomalies spike spikes high higher highest low lower lowest big bigger biggest large larger largest
small smaller smallest cheap cheaper cheapest expensive priciest pricey latest newest recent recently oldest
earliest last first next coming upcoming soon urgent urgently priority priorities important info
information details detail profile summary overview history compare compared comparison change changed
changes month months monthly week weeks weekly year years yearly annual annually quarter quarters
quarterly day days daily today now currently far ytd category categories breakdown grouped group sort
sorted order ordered top bottom number id dollars dollar bucks euros euro usd eur gbp pounds quid left
remaining time period ago whole entire altogether overall right going go went come came comes receive
received arrived sent send mark marked make made put keep track add added new set create record save
remember snooze snoozed postpone hide stuff things thing one ones kind type status everyone anybody
somebody someone yes yeah yep nope no sure fine good great cool awesome right now able possible currently
compare how's doing does bill's bills' invoice's pls thanks cheers dear sir madam assistant bot
lately recently far rn asap dues write read lastest often forgot forget forgotten recurring regular
repeating fixed trend trends pattern patterns fortnight roughly approximately approx around exactly precisely
wats wut hw hou pleas thnx thanx ur im ive dont didnt doesnt cant anythng anyting somthing evrything bils bil
invoce mony mnth wk yr mo pay't paymnt kinda sorta gimme lemme wanna tho though currently overall
""".split())

# Everyday words for a category, beyond the category's own name (config/categories.yaml).
_CATEGORY_WORDS: dict[str, list[str]] = {
    "utilities": ["utilities", "utility", "energy", "utility bills", "energy bills", "energies"],
    "telecom": ["telecom", "telecoms", "telecommunications", "phone and internet", "internet and phone",
                "phone & internet", "phone/internet", "phone", "phones", "internet", "cell phone",
                "cellphone", "mobile phone", "phone bills"],
    "insurance": ["insurance", "insurances", "insurance policies"],
    "housing": ["housing", "rent", "rents", "mortgage", "accommodation"],
    "subscriptions": ["subscriptions", "subscription", "streaming", "subs"],
    "health": ["health", "healthcare", "health care", "medical", "doctor", "doctors", "medicine"],
    "transport": ["transport", "transportation", "travel", "commute"],
    "taxes": ["taxes", "tax"],
    "education": ["education", "school", "tuition"],
    "finance": ["finance", "loans", "credit cards"],
}
# Common nouns people use for a bill that its vendor's name spells differently.
NICKNAMES = {"dentist": "dental", "dentists": "dental", "dentist's": "dental"}

_TOKEN = re.compile(r"[a-z0-9][a-z0-9&'+.-]*[a-z0-9+&]|[a-z0-9]|\|")
_CONNECT = {"of", "&", "and"}


def normalize(text: str) -> tuple[str, str]:
    """(the text with spaces collapsed and quotes straightened, the same in lower case): one
    character for one, so a span found in one fits the other."""
    original = re.sub(r"\s+", " ", text.replace("’", "'").replace("‘", "'")).strip()
    lowered = original.lower()
    if len(lowered) != len(original):
        original = lowered
    return original, lowered


def mask(text: str, *spans: tuple[int, int]) -> str:
    """`text` with each span blanked out and a separator put in its place (so words either side never
    join into one name)."""
    for start, end in spans:
        if end > start:
            text = text[:start] + "|" + " " * (end - start - 1) + text[end:]
    return text


@dataclass(frozen=True)
class Run:
    words: str
    span: tuple[int, int]


def runs(text: str) -> list[Run]:
    """The runs of words in `text` that are not stop words: candidate names."""
    found: list[Run] = []
    current: list[tuple[str, int, int]] = []
    pending: list[tuple[str, int, int]] = []  # connectors ("of", "&") waiting for a word after them
    last_end = 0

    def close():
        nonlocal current, pending
        if current:
            found.append(Run(" ".join(w for w, _, _ in current), (current[0][1], current[-1][2])))
        current, pending = [], []

    for m in _TOKEN.finditer(text):
        word = m.group(0).strip(".'-")
        gap = text[last_end:m.start()]
        last_end = m.end()
        if re.search(r"[^\s]", gap):  # punctuation between words ends a name
            close()
        bare = word[:-2] if word.endswith("'s") else word
        if word == "|" or len(word) < 2 or re.fullmatch(r"\d+(?:st|nd|rd|th)?", word):
            close()
            continue
        if word in _CONNECT and current:
            pending.append((word, m.start(), m.end()))
            continue
        if word in STOP or bare in STOP:
            close()
            continue
        current.extend(pending)
        pending = []
        current.append((NICKNAMES.get(bare, word), m.start(), m.end()))
    close()
    return found


def subject(text: str) -> Run | None:
    """The vendor words of a question (the first run of non-stop words, at most five words)."""
    for run in runs(text):
        if len(run.words.split()) <= 5:
            return run
    return None


# ----------------------------------------------------------------------------------------------
# categories


def _category_table() -> list[tuple[re.Pattern[str], str]]:
    known = set(categories())
    table: list[tuple[str, str]] = []
    for name, words in _CATEGORY_WORDS.items():
        target = category_named(name)
        if target is None or target not in known:
            continue
        table += [(w, target) for w in words]
    table.sort(key=lambda pair: -len(pair[0]))
    return [(re.compile(r"(?<![\w&'-])" + re.escape(w) + r"(?:\s+(?:bills?|costs?|payments?|expenses?))?(?![\w&'-])"), c)
            for w, c in table]


_CATEGORIES: list[tuple[re.Pattern[str], str]] | None = None


def find_category(text: str) -> tuple[str, tuple[int, int]] | None:
    """A category named as such ("utilities", "my phone and internet", "insurance bills"), not as part
    of a vendor's name ("Greenleaf Insurance"): the words on either side must not be name words."""
    global _CATEGORIES
    if _CATEGORIES is None:
        _CATEGORIES = _category_table()
    for pattern, name in _CATEGORIES:
        for m in pattern.finditer(text):
            before = _TOKEN.findall(text[: m.start()])
            after = _TOKEN.findall(text[m.end():])
            if before and not _not_a_name(before[-1]):
                continue
            if after and not _not_a_name(after[0]):
                continue
            return name, m.span()
    return None


def _not_a_name(token: str) -> bool:
    token = token.strip(".'-")
    return token == "|" or token.isdigit() or token in STOP or token.endswith("'s") and token[:-2] in STOP


# ----------------------------------------------------------------------------------------------
# amounts

MONEY = (r"(?P<sym{n}>[$€£])?\s*(?P<num{n}>\d{{1,3}}(?:,\d{{3}})+(?:\.\d{{1,2}})?|\d+(?:\.\d{{1,2}})?)"
         r"(?:\s*(?P<k{n}>k)\b)?(?:\s*(?P<cur{n}>usd|eur|gbp|dollars?|bucks|euros?|€|\$|pounds?|quid)\b)?"
         r"(?!\s*(?:days?|weeks?|months?|years?|times|%|st|nd|rd|th)\b)(?![\d,.]*\d)")
_CURRENCY = {"$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD", "€": "EUR", "eur": "EUR",
             "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "quid": "GBP"}
_M1, _M2 = MONEY.format(n=1), MONEY.format(n=2)
_MORE = r"(?:over|above|more\s+than|greater\s+than|larger\s+than|bigger\s+than|higher\s+than|at\s+least|exceeding|min(?:imum)?(?:\s+of)?|>=?)"
_LESS = r"(?:under|below|less\s+than|smaller\s+than|cheaper\s+than|lower\s+than|at\s+most|up\s+to|no\s+more\s+than|max(?:imum)?(?:\s+of)?|<=?)"
_BETWEEN = [re.compile(rf"\bbetween\s+{_M1}\s+(?:and|-|to)\s+{_M2}"),
            re.compile(rf"\bfrom\s+{_M1}\s+to\s+{_M2}"),
            re.compile(rf"(?<![\w-]){_M1}\s*(?:-|–)\s*{_M2}")]
_MIN = [re.compile(rf"(?<![\w-]){_MORE}\s*{_M1}"), re.compile(rf"(?<![\w-]){_M1}\s*(?:\+|or\s+more|and\s+(?:up|above|over)|plus)(?!\w)")]
_MAX = [re.compile(rf"(?<![\w-]){_LESS}\s*{_M1}"), re.compile(rf"(?<![\w-]){_M1}\s*(?:or\s+less|and\s+(?:under|below|less))\b")]


@dataclass
class Amounts:
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    spans: tuple[tuple[int, int], ...] = ()


def _value(m: re.Match, n: int) -> Decimal | None:
    try:
        value = Decimal(m.group(f"num{n}").replace(",", ""))
    except (InvalidOperation, AttributeError):
        return None
    if m.group(f"k{n}"):
        value *= 1000
    return value


def _marked(m: re.Match, n: int) -> bool:
    return bool(m.group(f"sym{n}") or m.group(f"cur{n}"))


def find_amounts(text: str) -> Amounts:
    """Amount filters: "over $100", "more than 50", "under 20 euros", "between 50 and 100"."""
    for i, rx in enumerate(_BETWEEN):
        m = rx.search(text)
        if m and (i == 0 or _marked(m, 1) or _marked(m, 2)):
            low, high = _value(m, 1), _value(m, 2)
            if low is not None and high is not None:
                return Amounts(min(low, high), max(low, high), (m.span(),))
    found = Amounts()
    spans = []
    for rx in _MIN:
        m = rx.search(text)
        if m and (v := _value(m, 1)) is not None:
            found.minimum = v
            spans.append(m.span())
            break
    for rx in _MAX:
        m = rx.search(text)
        if m and (v := _value(m, 1)) is not None:
            found.maximum = v
            spans.append(m.span())
            break
    found.spans = tuple(spans)
    return found


@dataclass
class Money:
    amount: Decimal
    currency: str | None
    span: tuple[int, int]


_ANY_MONEY = re.compile(MONEY.format(n=1))


def find_money(text: str) -> Money | None:
    """The first amount of money in `text` ("1,200", "$45.50", "20 euros")."""
    for m in _ANY_MONEY.finditer(text):
        value = _value(m, 1)
        if value is None:
            continue
        cur = (m.group("sym1") or m.group("cur1") or "").lower()
        return Money(value, _CURRENCY.get(cur), m.span())
    return None


def plain_number(value: Decimal) -> str:
    """A Decimal as the plain string a tool argument takes: "100", "12.5"."""
    text = format(value.normalize(), "f")
    return text


# ----------------------------------------------------------------------------------------------
# statuses and sorting

OVERDUE = re.compile(r"\b(?:overdue|over\s+due|late|past\s+due|missed|behind\s+on)\b")
CANCELLED = re.compile(r"\b(?:cancell?ed|cancell?ations?|void(?:ed)?)\b")
NOT_PAID = re.compile(r"\b(?:unpaid|un-paid|not\s+(?:yet\s+)?(?:been\s+)?paid|(?:haven't|havent|have\s+not|didn't|didnt|did\s+not)\s+"
                      r"(?:yet\s+)?(?:been\s+)?pa(?:y|id)|to\s+be\s+paid|yet\s+to\s+(?:be\s+)?pa(?:y|id)|still\s+(?:have\s+)?to\s+pay|"
                      r"need(?:s)?\s+(?:to\s+be\s+)?pa(?:y|id))\b")
PAID = re.compile(r"\b(?:paid|payed|settled|payments?\s+(?:i\s+)?made|payments(?!.*\b(?:due|owe|upcoming|coming)\b)|what\s+(?:did|have)\s+i\s+(?:already\s+)?pa(?:y|id)|"
                  r"(?:bills?|invoices?)\s+(?:i|i've|ive|i\s+have)\s+(?:already\s+)?paid)\b")
OPEN = re.compile(r"\b(?:due|owe|owing|unpaid|outstanding|open|pending|to\s+pay|not\s+(?:yet\s+)?paid|yet\s+to\s+pay|"
                  r"still\s+(?:have\s+)?to\s+pay|need\s+to\s+pay|have\s+to\s+pay|must\s+pay)\b")
ANY_STATUS = re.compile(r"\b(?:all\s+(?:of\s+)?(?:my\s+|the\s+)?(?:bills|invoices)|every\s+bill|history|any\s+status|"
                        r"ever|paid\s+or\s+(?:not|unpaid)|whatever\s+status)\b")
ISSUED = re.compile(r"\b(?:received|got|came\s+in|arrived|issued|sent\s+me)\b")


@dataclass
class Sort:
    field: str | None = None  # amount | issue_date | paid_date | due_date
    descending: bool = False
    limit: int | None = None
    latest: bool = False


_BIG = re.compile(r"\b(?:top\s+(?P<n1>\d+)|(?P<n2>\d+)\s+(?:biggest|largest|highest|most\s+expensive)|biggest|largest|"
                  r"highest|most\s+expensive|priciest|expensive\s+(?:ones?\s+)?first|by\s+amount|top)\b")
_SMALL = re.compile(r"\b(?:smallest|cheapest|lowest|least\s+expensive|cheap(?:est)?\s+(?:ones?\s+)?first)\b")
_LATEST = re.compile(r"\b(?:latest|lastest|newest|most\s+recent|last(?!\s+(?:\d|week|month|year|quarter|weekend|time)))\b")
_SINGULAR = re.compile(r"^(?:\s+(?:[a-z'&.-]+\s+){0,3}?(?:bill|invoice|one|payment|charge|expense)\b(?!s)|\s*\?*$)")


def find_sort(text: str) -> Sort:
    for rx, desc in ((_BIG, True), (_SMALL, False)):
        m = rx.search(text)
        if m:
            n = m.groupdict().get("n1") or m.groupdict().get("n2")
            limit = int(n) if n else (1 if _SINGULAR.match(text[m.end():]) else None)
            return Sort("amount", desc, limit)
    m = _LATEST.search(text)
    if m:
        return Sort("latest", True, 1 if _SINGULAR.match(text[m.end():]) else None, latest=True)
    return Sort()
