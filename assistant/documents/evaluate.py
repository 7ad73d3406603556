"""Measure the offline extractor on a directory of invoices with known answers.

The directory is laid out like the invoice2data test suite: `docs/<stem>.pdf|.txt` and the expected
fields in `gt/<stem>.json` (keys: vendor, vendor_aliases, total, currency, issue_date, due_date,
invoice_number, account_number). Images are skipped: reading them needs OCR.

Scoring, as a user would judge it: text fields match ignoring case and spacing; amounts to two
decimals; dates exactly; the vendor when rapidfuzz's token-set ratio with the expected name or one
of its aliases is at least 90 (after rapidfuzz's default processing: lower case, punctuation
removed). An expected null is matched only by "not found".
"""

from __future__ import annotations

import json
import time
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, utils

from assistant.documents.extract import Extraction, extract
from assistant.documents.reader import DocumentError, read_document

# scored fields: (name in the report, key in gt/<stem>.json, attribute of Extraction)
FIELDS = [
    ("vendor", "vendor", "vendor"),
    ("amount_due", "total", "amount_due"),
    ("currency", "currency", "currency"),
    ("issue_date", "issue_date", "issue_date"),
    ("due_date", "due_date", "due_date"),
    ("invoice_number", "invoice_number", "invoice_number"),
    ("account_number", "account_number", "account_number"),
]
READABLE = (".pdf", ".txt")
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff")
VENDOR_MATCH = 90
_MAX_BYTES = 50 * 1024 * 1024
_MAX_PAGES = 200


@dataclass
class Miss:
    file: str
    field: str
    expected: Any
    got: Any
    confidence: float = 0.0


@dataclass
class FieldScore:
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class Report:
    directory: str
    files: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    per_field: dict[str, FieldScore] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    seconds: dict[str, list[float]] = field(default_factory=dict)  # kind ("pdf", "text", "photo") -> per doc

    def throughput(self) -> dict[str, float]:
        """Documents per second (reading + extraction), by kind."""
        return {kind: round(len(t) / sum(t), 2) for kind, t in self.seconds.items() if t and sum(t) > 0}

    @property
    def correct(self) -> int:
        return sum(s.correct for s in self.per_field.values())

    @property
    def total(self) -> int:
        return sum(s.total for s in self.per_field.values())

    @property
    def overall(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "files": self.files,
            "skipped": self.skipped,
            "per_field": {name: {"correct": s.correct, "total": s.total, "accuracy": round(s.accuracy, 4)}
                          for name, s in self.per_field.items()},
            "overall": {"correct": self.correct, "total": self.total, "accuracy": round(self.overall, 4)},
            "misses": [asdict(m) for m in self.misses],
            "documents_per_second": self.throughput(),
        }


def _text_key(value: Any) -> str:
    return re.sub(r"\s+", "", str(value)).casefold()


def _amount_key(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def matches(name: str, expected: Any, got: Any, aliases: list[str] | None = None) -> bool:
    """Is `got` right for field `name`? (the scoring rules in the module docstring)"""
    if expected is None or got is None:
        return expected is None and got is None
    if name == "vendor":
        return any(fuzz.token_set_ratio(str(got), candidate, processor=utils.default_process) >= VENDOR_MATCH
                   for candidate in [expected, *(aliases or [])])
    if name == "amount_due":
        return _amount_key(expected) == _amount_key(got)
    if name in ("issue_date", "due_date"):
        return str(expected) == (got.isoformat() if isinstance(got, date) else str(got))
    return _text_key(expected) == _text_key(got)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _score(report: Report, stem: str, truth: dict[str, Any], found: Extraction | None, error: str | None) -> None:
    for name, key, attr in FIELDS:
        expected = truth.get(key)
        got = getattr(found, attr).value if found is not None else None
        score = report.per_field.setdefault(name, FieldScore())
        score.total += 1
        if found is not None and matches(name, expected, got, truth.get("vendor_aliases")):
            score.correct += 1
        else:
            confidence = getattr(found, attr).confidence if found is not None else 0.0
            report.misses.append(Miss(stem, name, expected, _jsonable(got) if error is None else f"error: {error}",
                                      confidence))


def _document(docs: Path, stem: str) -> Path | None:
    for suffix in READABLE:
        path = docs / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def evaluate(directory: Path | str, default_currency: str = "USD", images: bool = False) -> Report:
    """Run the offline extractor over every `docs/<stem>.pdf|.txt` that has a `gt/<stem>.json`;
    with `images`, also over the photos (read by OCR, a few seconds each), scored on their own."""
    root = Path(directory)
    docs, gt = root / "docs", root / "gt"
    if not docs.is_dir() or not gt.is_dir():
        raise FileNotFoundError(f"{root} needs docs/ and gt/ folders")
    report = Report(str(root))
    for path in sorted(docs.iterdir()):
        if path.suffix.lower() in IMAGES and not images:
            report.skipped.append({"file": path.name, "reason": "image: run with OCR (--ocr) to include"})
        elif path.suffix.lower() in IMAGES:
            continue
        elif path.suffix.lower() not in READABLE:
            report.skipped.append({"file": path.name, "reason": "not a PDF or text file"})
        elif not (gt / f"{path.stem}.json").is_file():
            report.skipped.append({"file": path.name, "reason": "no ground truth"})
    for truth_path in sorted(gt.glob("*.json")):
        stem = truth_path.stem
        path = _document(docs, stem)
        if path is None:
            continue
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        report.files.append(path.name)
        _run(report, path, truth, default_currency)
    if images:
        for path in sorted(p for p in docs.iterdir() if p.suffix.lower() in IMAGES):
            truth_path = gt / f"{path.stem}.json"
            if not truth_path.is_file():
                report.skipped.append({"file": path.name, "reason": "no ground truth"})
                continue
            truth = json.loads(truth_path.read_text(encoding="utf-8"))
            report.files.append(path.name)
            _run(report, path, truth, default_currency)
    return report


def _run(report: Report, path: Path, truth: dict[str, Any], default_currency: str) -> None:
    data = path.read_bytes()
    started = time.perf_counter()
    try:
        doc = read_document(data, path.name, _MAX_BYTES, _MAX_PAGES)
        found = extract(doc.text, default_currency)
    except DocumentError as exc:
        _score(report, path.name, truth, None, str(exc))
        return
    kind = "photo" if doc.mime.startswith("image/") else ("pdf" if doc.mime == "application/pdf" else "text")
    report.seconds.setdefault(kind, []).append(time.perf_counter() - started)
    _score(report, path.name, truth, found, None)
