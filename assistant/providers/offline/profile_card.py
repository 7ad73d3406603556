"""Phrasing vendor_profile: a compact card. Every figure is the tool's (totals, average, last bill,
usual due day, recurrence, anomalies with their ratio)."""

from __future__ import annotations

from typing import Any

from assistant.money import format_date, format_money


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _status(b: dict[str, Any]) -> str:
    if b["status"] == "paid" and b.get("paid_date"):
        return f"paid {format_date(b['paid_date'])}"
    return b["status"]


def profile_card(result: dict[str, Any]) -> str:
    if result.get("ambiguous"):
        options = " or ".join(f"**{c}**" for c in result["candidates"])
        return f"I know more than one vendor by that name: {options}. Which one do you mean?"
    v = result["vendor"]
    meta = [v.get("category") or "no category"]
    if v.get("aliases"):
        meta.append("also known as " + ", ".join(v["aliases"]))
    lines = [f"### {v['name']}", " · ".join(meta), "", "| | |", "|---|---|"]
    for t in result["totals"]:
        cur = t["currency"]
        lines.append(f"| Billed | {format_money(t['billed'], cur)} ({t['count']} bill{'s' if t['count'] != 1 else ''}) |")
        lines.append(f"| Paid | {format_money(t['paid'], cur)} |")
        lines.append(f"| Still open | {format_money(t['open'], cur)} |")
    for a in result["average"]:
        lines.append(f"| Average bill | {format_money(a['amount'], a['currency'])} |")
    last = result.get("last")
    if last:
        lines.append(f"| Last bill | #{last['id']}: {format_money(last['amount'], last['currency'])}, due "
                     f"{format_date(last['due_date'])} ({_status(last)}) |")
    if result.get("usual_due_day"):
        lines.append(f"| Usually due | on the {ordinal(result['usual_due_day'])} |")
    if result.get("recurrence"):
        lines.append(f"| Bills come | {result['recurrence']} |")
    lines.append("")
    anomalies = result.get("anomalies") or []
    for a in anomalies:
        due = f", due {format_date(a['due_date'])}" if a.get("due_date") else ""
        lines.append(f"⚠ Bill #{a['bill_id']}: {format_money(a['amount'], a['currency'])}{due}, is {a['ratio']}× "
                     f"the usual {format_money(a['usual'], a['currency'])}.")
    if not anomalies:
        lines.append("Nothing unusual: no bill stands out from its usual amount.")
    docs = result.get("documents") or []
    if docs:
        links = ", ".join(f"[{d.get('filename') or 'document ' + str(d['id'])}](/documents/{d['id']})" for d in docs)
        lines += ["", f"Documents: {links}"]
    return "\n".join(lines)
