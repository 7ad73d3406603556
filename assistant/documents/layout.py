"""Where a label's value sits in text extracted from a bill.

Text from a PDF keeps the reading order of the page only roughly, so a value is looked for, in turn:

1. after the label on its line, up to the next label ("Invoice No: 123   Date: 1.2.2024");
2. before the label, when the label ends its line and is the first on it (PDF text often comes out
   value-first: "993548900Factuurnummer:");
3. on the next lines, when the label ends its line and nothing but words precede it ("Due Date:" /
   "04/04/2023", "All payments in favour of" / "ACME Ltd"); lines that start with a label of their
   own are skipped, a line holding only labels stops the search;
4. in a block: a run of lines holding only labels ("Date:", "Due Date:", "Balance Due:") right after
   (or before) a run of as many lines without labels is a two-column table printed column by column;
   the n-th label goes with the n-th value.

Each place has a weight (how much it is trusted) that the extractor folds into the confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from assistant.documents.labels import Kind, LabelHit, label_line, languages

_FILLER = " \t:#.-–|*()/"


@dataclass(frozen=True)
class Spot:
    text: str      # where the value should be
    weight: float  # how far the position is trusted (1.0: right after the label)
    line: int      # index of the line the value is on
    snippet: str   # the source text to show the user


def has_content(text: str) -> bool:
    return bool(text.strip(_FILLER))


@dataclass
class Layout:
    """The document's lines (blank ones dropped, a lone ":" joined to the line above) and labels."""

    text: str
    lines: list[str] = field(init=False)
    hits: list[list[LabelHit]] = field(init=False)

    def __post_init__(self) -> None:
        lines: list[str] = []
        for raw in self.text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            line = raw.strip()
            if not line:
                continue
            if line == ":" and lines:
                lines[-1] = lines[-1] + ":"
                continue
            lines.append(line)
        self.lines = lines
        self.hits = [label_line(line) for line in lines]

    @cached_property
    def languages(self) -> list[str]:
        return languages(self.hits)

    @cached_property
    def label_only(self) -> list[bool]:
        """Lines that hold labels and nothing else."""
        flags = []
        for line, hits in zip(self.lines, self.hits):
            rest = line
            for hit in reversed(hits):
                rest = rest[: hit.start] + rest[hit.end:]
            flags.append(bool(hits) and not has_content(rest))
        return flags

    def labelled(self, kind: Kind) -> Iterator[tuple[int, LabelHit]]:
        for i, hits in enumerate(self.hits):
            for hit in hits:
                if kind in hit.kinds:
                    yield i, hit

    def starts_with_label(self, i: int) -> bool:
        hits = self.hits[i]
        return bool(hits) and not has_content(self.lines[i][: hits[0].start])

    def spots(self, i: int, hit: LabelHit, lines_ahead: int = 2, join_bare: bool = False) -> Iterator[Spot]:
        """The places to look for `hit`'s value, most trusted first (see the module docstring)."""
        line, hits = self.lines[i], self.hits[i]
        k = hits.index(hit)
        end = hits[k + 1].start if k + 1 < len(hits) else len(line)
        after = line[hit.end: end]
        if has_content(after):
            yield Spot(after, 1.0, i, line)
            return
        before = line[: hit.start] if k == 0 else ""
        if has_content(before):
            yield Spot(before, 0.9, i, line)
        if re.search(r"\d", before):
            return   # a value-first line whose value did not parse: what follows belongs elsewhere
        yield from self._below(i, lines_ahead, join_bare)
        block = self.block_partner(i)
        if block is not None:
            yield Spot(self.lines[block], 0.75, block, f"{self.lines[block]} … {line}")
        row = self.header_row_partner(i, hit)
        if row is not None:
            yield row

    def _below(self, i: int, lines_ahead: int, join_bare: bool) -> Iterator[Spot]:
        weight = 0.9
        for j in range(i + 1, min(len(self.lines), i + 1 + lines_ahead)):
            if self.label_only[j]:
                return
            if self.starts_with_label(j):
                weight -= 0.1
                continue
            text = self.lines[j]
            if join_bare and not re.search(r"\d", text) and j + 1 < len(self.lines):
                text = f"{text} {self.lines[j + 1]}"   # "$" / "279.84" printed on two lines
            yield Spot(text, weight, j, f"{self.lines[i]} / {text}")
            weight -= 0.1

    def block_partner(self, i: int) -> int | None:
        """The value line paired with label-only line `i` in a column-by-column table, if any."""
        if not self.label_only[i]:
            return None
        s = i
        while s > 0 and self.label_only[s - 1]:
            s -= 1
        e = i
        while e + 1 < len(self.lines) and self.label_only[e + 1]:
            e += 1
        n = e - s + 1
        if n < 2:
            return None
        for first in (s - n, e + 1):
            rows = range(first, first + n)
            if first >= 0 and rows.stop <= len(self.lines) and all(not self.hits[r] for r in rows):
                return first + (i - s)
        return None

    def header_row_partner(self, i: int, hit: LabelHit, search: int = 6) -> Spot | None:
        """A header row of labels ("Customer No.  Invoice No.") and, a few lines below, a row with as
        many tokens, each holding a digit: the label's column gives its value."""
        hits = self.hits[i]
        if not self.label_only[i] or len(hits) < 2:
            return None
        column = hits.index(hit)
        for j in range(i + 1, min(len(self.lines), i + 1 + search)):
            tokens = self.lines[j].split()
            if len(tokens) == len(hits) and all(re.search(r"\d", t) for t in tokens):
                return Spot(tokens[column], 0.7, j, f"{self.lines[i]} / {self.lines[j]}")
        return None
