"""How urgent an unpaid bill is (a 0-100 score and a one-line reason), and a recurrence guess.

Weights live in `config/priority.yaml`."""

from __future__ import annotations

import functools
import statistics
from datetime import date
from decimal import Decimal

import yaml

from assistant.settings import config_dir


@functools.lru_cache(maxsize=1)
def weights() -> dict:
    return yaml.safe_load((config_dir() / "priority.yaml").read_text())


def priority(amount: Decimal, currency: str, due: date | None, today: date, text: str = "") -> tuple[Decimal, str]:
    w = weights()
    score = Decimal("0")
    reasons: list[str] = []
    if due is not None:
        days = (due - today).days
        if days < 0:
            late = min(-days * w["overdue_per_day"], w["overdue_cap"])
            score += w["overdue"] + late
            reasons.append(f"overdue by {-days} day{'s' if days != -1 else ''}")
        elif days <= w["due_within_days"]:
            score += Decimal(w["due_soon"]) * (w["due_within_days"] - days + 1) / (w["due_within_days"] + 1)
            reasons.append("due today" if days == 0 else f"due in {days} day{'s' if days != 1 else ''}")
        else:
            reasons.append(f"due in {days} days")
    else:
        reasons.append("no due date")
    size = min(abs(amount) / 100 * w["amount_per_100"], Decimal(w["amount_cap"]))
    score += size
    if size >= Decimal(w["amount_cap"]) / 2:
        reasons.append(f"large amount ({amount} {currency})")
    lowered = text.lower()
    if any(word.lower() in lowered for word in w["late_fee_words"]):
        score += w["late_fee"]
        reasons.append("mentions a late fee")
    score = min(score, Decimal(100)).quantize(Decimal("0.01"))
    return score, "; ".join(reasons)


def priority_today(bill, today: date) -> tuple[Decimal, str]:
    """A filed bill's priority recomputed for `today` (a stored one ages). Its late-fee wording was read
    from the document when it was filed and is kept in the stored reason."""
    late_fee = "late fee" if bill.priority_reason and "late fee" in bill.priority_reason else ""
    return priority(bill.amount, bill.currency, bill.due_date, today, late_fee)


def recurrence(dates: list[date]) -> str | None:
    """A guess from a vendor's bill dates (two or more): monthly, quarterly, yearly, weekly or every N days."""
    ordered = sorted(set(dates))
    if len(ordered) < 2:
        return None
    gaps = [(b - a).days for a, b in zip(ordered, ordered[1:])]
    gap = statistics.median(gaps)
    for name, (low, high) in {"weekly": (6, 8), "every 2 weeks": (13, 15), "monthly": (27, 32),
                              "every 2 months": (56, 64), "quarterly": (85, 95), "twice a year": (175, 190),
                              "yearly": (355, 375)}.items():
        if low <= gap <= high:
            return name
    return f"every {round(gap)} days"
