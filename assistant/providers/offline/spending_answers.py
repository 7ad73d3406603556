"""Phrasing summarize_spending: the total(s), the change against the period before, and a table of the
groups. Every amount, count, change and percentage is the tool's; none is computed here."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from assistant.money import format_date, format_money
from assistant.providers.offline.parsed import Intent

_KEY = {"vendor": "Vendor", "category": "Category", "month": "Month", "year": "Year"}


def describe_range(period: dict[str, str]) -> str:
    """A date range as people say it: "October 2026", "Q3 2026", "2025", else its two days."""
    start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
    whole_months = start.day == 1 and (end + timedelta(days=1)).day == 1
    if whole_months:
        months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1
        if months == 1:
            return f"{calendar.month_name[start.month]} {start.year}"
        if months == 3 and start.month in (1, 4, 7, 10):
            return f"Q{(start.month - 1) // 3 + 1} {start.year}"
        if months == 12 and start.month == 1:
            return str(start.year)
        return f"{calendar.month_abbr[start.month]} {start.year} to {calendar.month_abbr[end.month]} {end.year}"
    return f"{format_date(start)} to {format_date(end)}"


def _key(group_by: str, key: str) -> str:
    if group_by == "month" and len(key) == 7:
        return f"{calendar.month_abbr[int(key[5:])]} {key[:4]}"
    return key


def _count(n: int) -> str:
    return f"{n} bill{'s' if n != 1 else ''}"


def _is_zero(amount: str) -> bool:
    return amount.strip("-").replace("0", "").replace(".", "") == ""


def change_phrase(row: dict[str, Any], before: str | None) -> str:
    """"up $1,097.84 (+247.7%) from $443.20 in September 2026" — the tool's change and change_pct.
    `before=None`: without the period's name (it was said already)."""
    cur = row["currency"]
    when = f" in {before}" if before else ""
    if _is_zero(row["previous_amount"]):
        return f"nothing{when} to compare with" if before else "nothing then"
    if _is_zero(row["change"]):
        return f"the same as{when}" if before else "the same"
    pct = f" ({'+' if not row['change_pct'].startswith('-') else ''}{row['change_pct']}%)" if row["change_pct"] else ""
    if row["change"].startswith("-"):
        return f"down {format_money(row['change'][1:], cur)}{pct} from {format_money(row['previous_amount'], cur)}{when}"
    return f"up {format_money(row['change'], cur)}{pct} from {format_money(row['previous_amount'], cur)}{when}"


def _change_cell(row: dict[str, Any]) -> str:
    if _is_zero(row["previous_amount"]):
        return "new" if not _is_zero(row["amount"]) else "—"
    if _is_zero(row["change"]):
        return "same"
    pct = f" ({row['change_pct']}%)" if row["change_pct"] else ""
    if row["change"].startswith("-"):
        return f"−{format_money(row['change'][1:], row['currency'])}{pct}"
    return f"+{format_money(row['change'], row['currency'])} (+{row['change_pct']}%)" if row["change_pct"] else \
        f"+{format_money(row['change'], row['currency'])}"


def spending_answer(intent: Intent, result: dict[str, Any]) -> str:
    matched = result.get("vendors_matched")
    if intent.vendor and matched is not None and not matched:
        return (f"I don't know a vendor called \"{intent.vendor}\". Ask me to list your vendors to see the "
                "names I know.")
    slots = intent.slots
    period = slots.period.label if slots.period else f"from {describe_range(result['period'])}" \
        if " to " in describe_range(result["period"]) else f"in {describe_range(result['period'])}"
    before = describe_range(result["previous_period"])
    billed = result.get("basis") == "billed"
    who = ""
    if matched:
        who = f" {'by' if billed else 'to'} {', '.join(matched)}"
    elif slots.category:
        who = f" for {slots.category}"
    totals = result["totals"]
    if not totals or all(_is_zero(t["amount"]) and _is_zero(t["previous_amount"]) for t in totals):
        return f"You {'were billed' if billed else 'paid'} nothing{who} {period} (and nothing in {before})."
    amounts = " and ".join(f"**{format_money(t['amount'], t['currency'])}** ({_count(t['count'])})" for t in totals)
    lead = f"You were billed {amounts}{who} {period}." if billed else f"You paid {amounts}{who} {period}."
    if len(totals) == 1:
        change = change_phrase(totals[0], before)
        lead += f" {change[0].upper()}{change[1:]}." if change.startswith("nothing") else f" That is {change}."
    else:
        lead += f" Against {before}: " + "; ".join(f"{t['currency']}: {change_phrase(t, None)}" for t in totals) + "."
    groups = result["groups"]
    top = ""
    if slots.top and groups and not _is_zero(groups[0]["amount"]):
        g = groups[0]
        top = (f"**{_key(result['group_by'], g['key'])}** cost you the most {period}: "
               f"{format_money(g['amount'], g['currency'])} ({_count(g['count'])}).\n\n")
    if not groups:
        return top + lead
    verb = "Billed" if billed else "Paid"
    rows = [f"| {_KEY[result['group_by']]} | Bills | {verb} | {before} | Change |", "|---|---:|---:|---:|---:|"]
    for g in groups:
        rows.append(f"| {_key(result['group_by'], g['key'])} | {g['count']} | {format_money(g['amount'], g['currency'])} | "
                    f"{format_money(g['previous_amount'], g['currency'])} | {_change_cell(g)} |")
    return top + lead + "\n\n" + "\n".join(rows)
