"""Phrasing answers from tool results. Every number comes from a tool; nothing is added up here
except the per-currency totals the tools already returned."""

from __future__ import annotations

from datetime import date
from typing import Any

from assistant.messages import Message
from assistant.money import format_date, format_money
from assistant.providers.offline.intents import Intent
from assistant.prompts import load_prompt


def _totals(totals: list[dict[str, Any]]) -> str:
    return " and ".join(format_money(t["amount"], t["currency"]) for t in totals) or format_money("0", "USD")


def _table(bills: list[dict[str, Any]]) -> str:
    rows = ["| # | Vendor | Amount | Due | Status |", "|---|---|---:|---|---|"]
    for b in bills:
        status = b["status"] + (f" ({b['paid_date']})" if b["status"] == "paid" and b.get("paid_date") else "")
        rows.append(f"| {b['id']} | {b['vendor']} | {format_money(b['amount'], b['currency'])} | "
                    f"{format_date(b['due_date'])} | {status} |")
    return "\n".join(rows)


def phrase(intent: Intent, results: list[Message], today: date) -> str:
    if intent.kind == "greeting":
        return "Hello! Paste or attach a bill and I'll file it, or ask me what's due this week."
    if intent.kind == "help":
        return load_prompt("offline_help")
    if intent.kind == "mark_paid" and not results:
        return "Which bill should I mark as paid? Give me the vendor or the bill number (for example \"mark bill #3 paid\")."
    parts = [_one(intent, r, today) for r in results]
    return "\n\n".join(p for p in parts if p)


def _one(intent: Intent, message: Message, today: date) -> str:
    result = message.result()
    if message.is_error:
        return f"I couldn't do that: {result.get('error', 'unknown error')}"
    if message.name == "add_bill":
        return _added(result)
    if message.name == "mark_paid":
        b = result["bill"]
        if result.get("already_paid"):
            return f"Bill #{b['id']} from **{b['vendor']}** was already marked paid on {format_date(b['paid_date'])}."
        return (f"Marked bill #{b['id']} from **{b['vendor']}** ({format_money(b['amount'], b['currency'])}) "
                f"as paid on {format_date(b['paid_date'])}.")
    if message.name == "list_vendors":
        return _vendors(result)
    if message.name == "ai_usage":
        return _ai_usage(result)
    if message.name == "search_documents":
        hits = result["hits"]
        if not hits:
            return f"I found no filed bill matching \"{result['query']}\"."
        lines = [f"- **{h['vendor'] or 'unknown vendor'}** — [original]({h['url']}): {h['snippet'][:120].strip()}…"
                 for h in hits[:5]]
        return f"Bills matching \"{result['query']}\", best first:\n\n" + "\n".join(lines)
    if message.name == "find_bills":
        return _spending(intent, result) if intent.kind == "spending" else _due_list(intent, result)
    return ""


def describe_filing(result: dict[str, Any], is_error: bool = False) -> str:
    """What add_bill did, in a sentence (also used for bills confirmed from a review card)."""
    return f"I couldn't do that: {result.get('error', 'unknown error')}" if is_error else _added(result)


def _added(result: dict[str, Any]) -> str:
    b = result.get("bill")
    if result.get("needs_review"):
        names = {"vendor": "who it is from", "amount_due": "the amount due", "due_date": "the due date"}
        unsure = " and ".join(names[n] for n in result["unsure"])
        return (f"I read this bill but I'm not sure about {unsure}, so I haven't saved it yet. "
                "Check the fields below and choose **Confirm** or **Edit**.")
    if result.get("needs_vendor"):
        options = " or ".join(f"**{c}**" for c in result["candidates"])
        return (f"This bill says it is from \"{result['name_on_bill']}\". Is that {options}, or a new vendor? "
                f"Tell me which (for example \"it's {result['candidates'][0]}\" or \"a new one\") and I'll file it.")
    if result.get("duplicate"):
        when = result.get("first_filed") or "earlier"
        tail = f" It is bill #{b['id']} from **{b['vendor']}**, {format_money(b['amount'], b['currency'])}{_due(b)}." if b else ""
        if not result.get("same_file"):
            form = {"application/pdf": "a PDF", "text/plain": "text"}.get(result.get("first_form"), "another file")
            return f"That's the same bill you sent me before as {form} (on {when}), so I didn't file it again.{tail}"
        return f"You sent me this document before (on {when}), so I didn't file it again.{tail}"
    text = (f"Filed a bill from **{b['vendor']}**: {format_money(b['amount'], b['currency'])}"
            f"{_due(b)} (bill #{b['id']}, [original](/documents/{result['document_id']})).")
    if result.get("replaced_earlier"):
        text += " It replaces the earlier version of the same invoice."
    if b.get("priority_reason"):
        text += f" Priority {b['priority']}: {b['priority_reason']}."
    if b.get("recurrence"):
        text += f" Looks {b['recurrence']}."
    if b["status"] == "overdue":
        text += " It is already overdue."
    if result.get("missing"):
        text += " I couldn't find a due date on it; tell me when it is due if it matters."
    return text


def _due(bill: dict[str, Any]) -> str:
    return f", due {format_date(bill['due_date'])}" if bill.get("due_date") else ", with no due date"


def _due_list(intent: Intent, result: dict[str, Any]) -> str:
    bills = result["bills"]
    when = f" {intent.period.label}" if intent.period else ""
    who = f" for {', '.join(result.get('vendors_matched') or [])}" if result.get("vendors_matched") else ""
    if intent.vendor and not result.get("vendors_matched"):
        return f"I don't know a vendor called \"{intent.vendor}\". Ask me to list your vendors to see the names I know."
    if intent.mode == "overdue":
        if not bills:
            return "Nothing is overdue."
        head = f"{_count(result['count'])} overdue, {_totals(result['totals'])} in total:"
    else:
        if not bills:
            return f"Nothing is due{who}{when}."
        head = f"{_count(result['count'])} due{who}{when}, {_totals(result['totals'])} in total:"
    more = f"\n\n(Showing {result['shown']} of {result['count']}.)" if result["shown"] < result["count"] else ""
    return f"{head}\n\n{_table(bills)}{more}"


def _spending(intent: Intent, result: dict[str, Any]) -> str:
    matched = result.get("vendors_matched")
    if intent.vendor and not matched:
        return f"I don't know a vendor called \"{intent.vendor}\". Ask me to list your vendors to see the names I know."
    who = f" {', '.join(matched)}" if matched else ""
    when = f" {intent.period.label}" if intent.period else " in total"
    count = result["count"]
    if intent.mode == "billed":
        verb = f"{who.strip() or 'Your vendors'} billed you"
        return (f"{verb} {_totals(result['totals'])}{when} ({_count(count)})."
                + (f"\n\n{_table(result['bills'])}" if result["bills"] else ""))
    if not count:
        return f"You paid{who or ' nothing'}{' nothing' if who else ''}{when}: no paid bills on record."
    return (f"You paid{who} {_totals(result['totals'])}{when} ({_count(count)})."
            f"\n\n{_table(result['bills'])}")


def _vendors(result: dict[str, Any]) -> str:
    vendors = result["vendors"]
    if not vendors:
        return "You have no vendors yet. Paste or attach a bill and I'll start a list."
    rows = ["| Vendor | Bills | Unpaid | Next due |", "|---|---:|---:|---|"]
    for v in vendors:
        unpaid = _totals(v["open_totals"]) if v["open_totals"] else "—"
        rows.append(f"| {v['name']} | {v['bills']} | {unpaid} | {format_date(v['next_due']) if v['next_due'] else '—'} |")
    return f"You have {len(vendors)} vendor{'s' if len(vendors) != 1 else ''}:\n\n" + "\n".join(rows)


def _count(n: int) -> str:
    return f"{n} bill{'s' if n != 1 else ''}"


def _ai_usage(result: dict[str, Any]) -> str:
    windows = result["windows"]
    today = windows["today"]
    lines = [f"Today you have spent **${today['cost']}** on AI model calls ({today['calls']} calls); "
             f"the last hour ${windows['last hour']['cost']}, this month ${windows['this month']['cost']}."]
    if windows["this month"]["by_model"]:
        lines += ["", "| This month | Calls | Input tokens | Output tokens | Cost |", "|---|---:|---:|---:|---:|"]
        for r in windows["this month"]["by_model"]:
            lines.append(f"| {r['provider']} {r['model']} | {r['calls']} | {r['input_tokens']:,} | "
                         f"{r['output_tokens']:,} | ${r['cost']} |")
    limits = ", ".join(f"{k} ${v}" for k, v in result["limits"].items())
    lines += ["", f"Limits: {limits} (days in {result['timezone']})."]
    return "\n".join(lines)
