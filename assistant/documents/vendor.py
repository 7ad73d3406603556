"""Who issued the bill: its vendor, never its customer.

Candidates come from several signals, each with a base score:

- a name after an issuer label ("From:", "Sold by", "Sprzedawca:", "Titulaire du compte :",
  "Payment received by") ................................................................ 0.85
- the sender line of a window envelope ("QualityHosting AG - Uferweg 40 - D-63571 Gelnhausen") 0.75
- a name ending in a legal-entity suffix (GmbH, AG, B.V., S.A., SAS, Inc., Ltd, Pvt. Ltd, ...) 0.6
- a short line that spells the domain of the document's web site ("Azure Interior" /
  "www.azure-interior.com") .............................................................. 0.55
- the first line of the header that reads like a name (beside the document's title, when that is
  printed in a column of its own: "Jo Bloggs      INVOICE") ............................... 0.4

The same name found several times adds up to +0.12; being printed within a few lines of a VAT or
registration number or the bank details adds 0.08; matching the web site's domain adds 0.08. A name
in the customer's address block (after "Bill to", "Rechnungsempfänger", "Client :", "Nabywca", or
next to an "Attn:" / "T.a.v." line) is divided by three: it is most likely the customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.documents.labels import Kind
from assistant.documents.layout import Layout

# short suffixes are matched case-sensitively ("AG", "SA"); long ones in any case ("Gmbh", "LIMITED")
_SUFFIX_CASED = r"AG|KG|OHG|UG|SE|BV|B\.V\.|NV|N\.V\.|SA|S\.A\.|SAS|S\.A\.S\.|SARL|SNC|EURL|LLC|LLP|PLC|AB|A/S|ApS|Oy"
_SUFFIX_ANYCASE = (
    r"GmbH(?:\s*&\s*Co\.?\s*KG)?|e\.\s?K\.|Inc\.?|Incorporated|Ltd\.?|Limited|L\.L\.C\.|Corp\.?|Corporation|Co\.|Company"
    r"|Pvt\.?(?:\s*Ltd\.?)?|Private\s+Limited|Pty\.?\s*Ltd\.?|S\.p\.A\.|S\.r\.l\.|S\.L\.|Sp\.\s*z\s*o\.\s*o\."
    r"|sp[óo][łl]ka\s+(?:akcyjna|z\s+o\.\s?o\.)"
)
_SUFFIX_RE = re.compile(rf"(?<![\w.])(?:(?:{_SUFFIX_CASED})|(?i:{_SUFFIX_ANYCASE}))(?![\w])")
_NAME_WORD = re.compile(r"^(?:[A-ZÀ-ÖØ-Þ0-9][\w'’&.\-]*|[\w'’.\-]*[A-ZÀ-ÖØ-Þ][\w'’&.\-]*|&)$")
_SEGMENT_BREAK = re.compile(r"\s{2,}|\s[-–|•·]\s|[:;(|]|,(?!\s*(?i:inc|ltd|llc|corp|limited|gmbh))")
_DOMAIN_RE = re.compile(r"(?:https?://|www\.)(?:www\.)?([a-z0-9-]+)\.[a-z]{2,}|@([a-z0-9-]+)\.[a-z]{2,}", re.I)
_MAIL_HOSTS = {"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "gmx", "web", "aol", "icloud", "example",
               "orange", "free", "wanadoo", "t-online", "proton", "protonmail", "mail"}
_TITLE_WORDS = re.compile(r"^(?:tax\s+)?(?:invoice|bill|statement|receipt|payment\s+receipt|rechnung|facture|factuur"
                          r"|faktura|kopie|copy|credit\s+note|gutschrift|avoir)\b", re.I)
_CONNECTORS = {"de", "du", "des", "la", "le", "van", "der", "den", "von", "und", "and", "of", "et", "en", "the", "e"}
_SENDER_LINE = re.compile(r"\s[-–|·•]\s")
_POSTCODE_CITY = re.compile(r"\b(?:[A-Z]{1,2}-?)?\d{4,5}\s+\w{3,}|\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")


@dataclass
class _Candidate:
    name: str
    base: float
    snippet: str
    lines: set[int] = field(default_factory=set)
    count: int = 0


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _bare_key(name: str) -> str:
    """The name without its legal suffix, as a key ("Coolblue B.V." -> "coolblue")."""
    return _key(_SUFFIX_RE.sub("", name))


def clean_name(text: str) -> str | None:
    """The company or person name at the start of `text`, or None when it does not read like one."""
    text = re.sub(r"\S+@\S+|https?://\S+|www\.\S+", " ", text)
    first = _SEGMENT_BREAK.split(text.strip(" :-–,*").lstrip("."), maxsplit=1)[0]
    name = first.strip(" :-–,*\"'")
    words = name.split()
    if not words or len(words) > 8 or not re.search(r"[^\W\d_]{2}", name):
        return None
    if sum(c.isdigit() for c in name) > 4 or _TITLE_WORDS.match(name):
        return None
    lowercase = [w for w in _SUFFIX_RE.sub("", name).split() if w[0].islower() and w not in _CONNECTORS]
    if len(lowercase) > 1:
        return None   # a phrase ("All payment to be made"), not a name
    return name


def _name_before_suffix(line: str, m: re.Match[str]) -> str | None:
    """'... der QualityHosting AG berechnen' -> 'QualityHosting AG': capitalised words before the suffix."""
    head = _SEGMENT_BREAK.split(line[: m.start()].rstrip().rstrip(","))[-1]   # "ACME, Inc." keeps "ACME"
    words: list[str] = []
    for word in reversed(head.split()):
        if not _NAME_WORD.match(word.strip(",")) or len(words) >= 6:
            break
        words.insert(0, word.strip(","))
    if not words:
        return None
    name = " ".join(words) + " " + m.group(0)
    return clean_name(name)


def _with_suffix_line(doc: Layout, i: int, name: str | None) -> str | None:
    """A name broken before its last word: "Oravel Stays Pvt." / "Ltd." -> "Oravel Stays Pvt. Ltd."."""
    nxt = doc.lines[i + 1] if i + 1 < len(doc.lines) else ""
    if name and nxt and _SUFFIX_RE.fullmatch(nxt.strip(" ,")) and name.endswith(doc.lines[i].strip(" ,:")):
        return f"{name} {nxt.strip(' ,')}"
    return name


class _Ballot:
    def __init__(self) -> None:
        self.by_key: dict[str, _Candidate] = {}

    def add(self, name: str | None, base: float, line: int, snippet: str) -> None:
        if not name:
            return
        key = _key(name)
        if len(key) < 2:
            return
        cand = self.by_key.setdefault(key, _Candidate(name, base, snippet))
        if base > cand.base:
            cand.name, cand.base, cand.snippet = name, base, snippet
        cand.lines.add(line)


def _customer_lines(doc: Layout) -> set[int]:
    """Lines of the customer's address block."""
    found: set[int] = set()
    for i, hits in enumerate(doc.hits):
        for hit in hits:
            if Kind.CUSTOMER in hit.kinds:
                found.add(i)
                for j in range(i + 1, min(len(doc.lines), i + 4)):
                    if doc.hits[j]:
                        break   # the next labelled line ends the address block
                    found.add(j)
            if Kind.ATTENTION in hit.kinds and hit.start < 3:
                found.update({i - 1, i, i + 1})
    return found


def _near(doc: Layout, kinds: set[Kind], radius: int) -> set[int]:
    marked = {i for i, hits in enumerate(doc.hits) if any(kinds & hit.kinds.keys() for hit in hits)}
    return {j for i in marked for j in range(i - radius, i + radius + 1)}


def _domains(text: str) -> set[str]:
    found = set()
    for m in _DOMAIN_RE.finditer(text):
        label = (m.group(1) or m.group(2) or "").lower()
        if label and label not in _MAIL_HOSTS:
            found.add(label.replace("-", ""))
    return found


def _from_labels(doc: Layout, ballot: _Ballot) -> None:
    for i, hit in doc.labelled(Kind.ISSUER):
        base = 0.85 if hit.tier(Kind.ISSUER) >= 3 else 0.75
        for spot in doc.spots(i, hit, lines_ahead=2):
            if spot.text.strip().startswith("("):
                continue
            name = _with_suffix_line(doc, spot.line, clean_name(spot.text))
            if name:
                ballot.add(name, base * min(1.0, spot.weight + 0.1), spot.line, spot.snippet)
                break


def _from_suffixes(doc: Layout, ballot: _Ballot) -> None:
    for i, line in enumerate(doc.lines):
        for m in _SUFFIX_RE.finditer(line):
            ballot.add(_with_suffix_line(doc, i, _name_before_suffix(line, m)), 0.6, i, line)


def _from_sender_line(doc: Layout, ballot: _Ballot) -> None:
    for i, line in enumerate(doc.lines[:40]):
        parts = _SENDER_LINE.split(line)
        if len(parts) >= 3 and _POSTCODE_CITY.search(" ".join(parts[1:])) and not re.search(r"\d", parts[0]):
            ballot.add(clean_name(parts[0]), 0.75, i, line)


def _from_domains(doc: Layout, ballot: _Ballot, domains: set[str]) -> None:
    for i, line in enumerate(doc.lines):
        if len(line.split()) <= 5 and _bare_key(line) in domains:
            ballot.add(clean_name(line), 0.55, i, line)


def _without_title_column(doc: Layout, i: int) -> tuple[str, bool]:
    """Line `i` without the document's title printed in a column of its own ("Jo Bloggs     INVOICE" ->
    "Jo Bloggs"), and whether a label is left in it."""
    line, hits = doc.lines[i], doc.hits[i]
    if not hits:
        return line, False
    kept, titles = [], []
    for seg in re.finditer(r"\S+(?:\s\S+)*", line):   # columns: runs of words with single spaces between
        inside = [h for h in hits if seg.start() <= h.start and h.end <= seg.end()]
        if (len(inside) == 1 and Kind.TITLE in inside[0].kinds
                and not line[seg.start(): seg.end()].replace(inside[0].text, "").strip(" :")):
            titles.append(inside[0])   # a column that is only the title
        else:
            kept.append(seg.group(0))
    others = [h for h in hits if h not in titles]
    kept_line = "  ".join(kept)
    if others and ":" not in line and _mostly_words(line, others):
        # A word that can be a label, in a line that reads as a name ("Summit Phone Co", "Total Gas & Power"):
        # nothing follows it as a value, and most of the line is not label.
        others = []
    return kept_line, not kept or bool(others)


def _mostly_words(line: str, hits) -> bool:
    """The labels cover under half of the line's letters."""
    letters = sum(c.isalpha() for c in line)
    covered = sum(sum(c.isalpha() for c in line[h.start:h.end]) for h in hits)
    return letters > 0 and covered * 2 < letters


def _from_header(doc: Layout, ballot: _Ballot) -> None:
    for i in range(min(5, len(doc.lines))):
        line, labelled = _without_title_column(doc, i)
        words = line.split()
        if (labelled or re.search(r"\d|@|www\.|https?:", line) or not line[0].isupper() or len(words) > 6
                or (line.endswith(".") and len(words) > 3 and not _SUFFIX_RE.search(words[-1])) or _TITLE_WORDS.match(line)):
            continue
        ballot.add(clean_name(line), 0.4, i, doc.lines[i])
        return


def find_vendor(doc: Layout) -> tuple[str | None, float, str | None]:
    """(name, confidence, source line) of the bill's issuer; (None, 0, None) when nothing reads like one."""
    ballot = _Ballot()
    domains = _domains(doc.text)
    _from_labels(doc, ballot)
    _from_sender_line(doc, ballot)
    _from_suffixes(doc, ballot)
    _from_domains(doc, ballot, domains)
    _from_header(doc, ballot)
    if not ballot.by_key:
        return None, 0.0, None
    customer = _customer_lines(doc)
    identity = _near(doc, {Kind.REGISTRY, Kind.BANK}, 6)
    text_key = _key(doc.text)
    best: tuple[float, _Candidate] | None = None
    for key, cand in ballot.by_key.items():
        score = cand.base + 0.04 * min(3, max(text_key.count(key), len(cand.lines)) - 1)
        if cand.lines & identity:
            score += 0.08
        if _bare_key(cand.name) in domains:
            score += 0.08
        if cand.lines & customer:
            score /= 3
        if best is None or score > best[0]:
            best = (score, cand)
    score, cand = best
    if score < 0.3:
        return None, 0.0, None
    return cand.name, round(min(score, 0.95), 2), cand.snippet
