"""Phrasing answers from tool results. Every number comes from a tool result, quoted as it is: totals,
counts, changes and percentages are the tools' own; nothing is added up, averaged or compared here."""

from __future__ import annotations

from datetime import date
from typing import Any

from assistant.messages import Message
from assistant.money import format_date, format_money
from assistant.prompts import load_prompt
from assistant.providers.offline.actions_answers import phrase_action
from assistant.providers.offline.intents import Intent
from assistant.providers.offline.profile_card import profile_card
from assistant.providers.offline.spending_answers import spending_answer
from assistant.providers.offline.words import plain_number

_ACTION_WORDS = {"mark_paid": "mark as paid", "snooze": "snooze", "cancel": "cancel"}
_EXAMPLES = {"mark_paid": "mark bill #3 paid", "snooze": "snooze bill #3 for a week", "cancel": "cancel bill #3"}


def phrase(intent: Intent, results: list[Message], today: date) -> str:
    if intent.kind == "greeting":
        return "Hello! Paste or attach a bill and I'll file it, or ask me what's due this week."
    if intent.kind == "help":
        return load_prompt("offline_help")
    if intent.kind == "which_bill" or (intent.kind == "mark_paid" and not results):
        action = intent.mode or "mark_paid"
        return (f"Which bill should I {_ACTION_WORDS[action]}? Give me the vendor or the bill number "
                f"(for example \"{_EXAMPLES[action]}\").")
    if intent.kind == "when_due":
        return (f"When is the {intent.vendor} payment due? Tell me again with the date, for example "
                f"\"{intent.vendor} 45 due on the 1st every month\" or \"{intent.vendor} 45 due 5 December\".")
    parts = [_one(intent, r, today) for r in results]
    return "\n\n".join(p for p in parts if p)


def unavailable(names: list[str]) -> str:
    """The answer when the request needs a tool this installation does not have."""
    return (f"I understood that, but I can't do it here: the {', '.join(names)} tool is not available. "
            "Ask me what's due, what you paid, or paste a bill.")


def _one(intent: Intent, message: Message, today: date) -> str:
    result = message.result()
    if message.is_error:
        return f"I couldn't do that: {result.get('error', 'unknown error')}"
    action = phrase_action(message.name or "", result)
    if action is not None:
        return action
    if message.name == "add_bill":
        return _added(result)
    if message.name == "list_vendors":
        return _vendors(result)
    if message.name == "ai_usage":
        return _ai_usage(result)
    if message.name == "search_documents":
        return _search(result)
    if message.name == "find_bills":
        return _spent(intent, result) if intent.kind == "spent" else _bill_list(intent, result)
    if message.name == "summarize_spending":
        return spending_answer(intent, result)
    if message.name == "upcoming":
        return _upcoming(intent, result)
    if message.name == "vendor_profile":
        return profile_card(result)
    return ""


# ----------------------------------------------------------------------------------------------
# shared pieces


def totals(rows: list[dict[str, Any]], key: str = "amount") -> str:
    return " and ".join(format_money(t[key], t["currency"]) for t in rows) or format_money("0", "USD")


def count(n: int, what: str = "bill") -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def status_cell(b: dict[str, Any]) -> str:
    if b["status"] == "paid" and b.get("paid_date"):
        return f"paid {format_date(b['paid_date'])}"
    return b["status"]


def bill_table(bills: list[dict[str, Any]], why: bool = False) -> str:
    head = "| # | Vendor | Amount | Due | Status |" + (" Why |" if why else "")
    rule = "|---|---|---:|---|---|" + ("---|" if why else "")
    rows = [head, rule]
    for b in bills:
        row = (f"| {b['id']} | {b['vendor']} | {format_money(b['amount'], b['currency'])} | "
               f"{format_date(b['due_date'])} | {status_cell(b)} |")
        if why:
            row += f" {b.get('priority_reason') or ''} |"
        rows.append(row)
    return "\n".join(rows)


def unknown_vendor(name: str) -> str:
    return f"I don't know a vendor called \"{name}\". Ask me to list your vendors to see the names I know."


# ----------------------------------------------------------------------------------------------
# find_bills


def _sizes(intent: Intent) -> str:
    """" of 100 or more" — the amount filter of a list."""
    s = intent.slots
    if s.amount_min is not None and s.amount_max is not None:
        return f" between {_amount(s.amount_min)} and {_amount(s.amount_max)}"
    if s.amount_min is not None:
        return f" of {_amount(s.amount_min)} or more"
    if s.amount_max is not None:
        return f" of {_amount(s.amount_max)} or less"
    return ""


def _filters(intent: Intent, result: dict[str, Any]) -> str:
    """" from Pacific Power for utilities this week" — what else the list was filtered by."""
    s = intent.slots
    parts = []
    if result.get("vendors_matched"):
        parts.append(f" from {', '.join(result['vendors_matched'])}")
    if s.category:
        parts.append(f" for {s.category}")
    if s.text:
        parts.append(f" matching \"{s.text}\"")
    if s.period is not None and s.status != "overdue":
        parts.append(f" {s.period.label}")
    return "".join(parts)


def _amount(value) -> str:
    return plain_number(value)


def _bill_list(intent: Intent, result: dict[str, Any]) -> str:
    if intent.vendor and not result.get("vendors_matched"):
        return unknown_vendor(intent.vendor)
    bills, n = result["bills"], result["count"]
    mode = intent.mode or "open"
    where, sizes = _filters(intent, result), _sizes(intent)
    sort = intent.slots.sort
    if bills and sort.limit == 1 and sort.field:
        b = bills[0]
        adjective = {"amount": "biggest" if sort.descending else "smallest", "latest": "latest"}[sort.field]
        kind = {"open": "unpaid bill", "overdue": "overdue bill", "paid": "paid bill",
                "cancelled": "cancelled bill"}.get(mode, "bill")
        return (f"Your {adjective} {kind}{sizes}{where} is #{b['id']} from **{b['vendor']}**: "
                f"{format_money(b['amount'], b['currency'])}, due {format_date(b['due_date'])} ({status_cell(b)}).")
    total = totals(result["totals"])
    if mode == "overdue":
        if not bills:
            return f"Nothing{sizes} is overdue{where}."
        head = f"{count(n)}{sizes} overdue{where}, {total} in total:"
    elif mode == "open":
        if not bills:
            return f"Nothing{sizes} is due{where}."
        head = f"{count(n)}{sizes} due{where}, {total} in total:"
    elif mode == "paid":
        if not bills:
            return f"No paid bills{sizes}{where}."
        head = f"You paid {count(n)}{sizes}{where}, {total} in total:"
    elif mode == "cancelled":
        if not bills:
            return f"No cancelled bills{sizes}{where}."
        head = f"{count(n, 'cancelled bill')}{sizes}{where}, {total} in total:"
    else:
        if not bills:
            return f"No bills{sizes}{where}."
        head = f"{count(n)}{sizes}{where}, {total} in total:"
    order = ""
    if sort.field == "amount":
        order = " (biggest first)" if sort.descending else " (smallest first)"
    elif sort.field == "latest":
        order = " (latest first)"
    more = f"\n\n(Showing {result['shown']} of {result['count']}.)" if result["shown"] < result["count"] else ""
    return f"{head[:-1]}{order}:\n\n{bill_table(bills)}{more}"


def _spent(intent: Intent, result: dict[str, Any]) -> str:
    """How much one vendor was paid, or billed, with the bills behind the total."""
    matched = result.get("vendors_matched")
    if intent.vendor and not matched:
        return unknown_vendor(intent.vendor)
    who = f" {', '.join(matched)}" if matched else ""
    when = f" {intent.period.label}" if intent.period else " in total"
    n = result["count"]
    table = f"\n\n{bill_table(result['bills'])}" if result["bills"] else ""
    more = f"\n\n(Showing {result['shown']} of {n}.)" if result["shown"] < n else ""
    if intent.mode == "billed":
        if not n:
            return f"{who.strip() or 'Your vendors'} billed you nothing{when}."
        return f"{who.strip() or 'Your vendors'} billed you {totals(result['totals'])}{when} ({count(n)}).{table}{more}"
    if not n:
        return f"You paid{who} nothing{when}: no paid bills on record."
    return f"You paid{who} {totals(result['totals'])}{when} ({count(n)}).{table}{more}"


# ----------------------------------------------------------------------------------------------
# upcoming


def _upcoming(intent: Intent, result: dict[str, Any]) -> str:
    bills, days = result["bills"], result["days"]
    window = "today" if days == 0 else f"in the next {days} day{'s' if days != 1 else ''}"
    if not bills:
        return f"Nothing to pay {window}, and nothing is overdue."
    overdue = result.get("overdue_count") or 0
    late = f", {overdue} of them overdue" if overdue and overdue != result["count"] else (
        ", all overdue" if overdue else "")
    head = f"{count(result['count'])} to pay {window}{late} — {totals(result['totals'])} in total, most urgent first:"
    if intent.slots.first:
        b = bills[0]
        head = (f"Pay **{b['vendor']}** first: {format_money(b['amount'], b['currency'])}, due "
                f"{format_date(b['due_date'])} ({b.get('priority_reason') or b['status']}).\n\n") + head
    return f"{head}\n\n{bill_table(bills, why=True)}"


# ----------------------------------------------------------------------------------------------
# others


def _search(result: dict[str, Any]) -> str:
    hits = result["hits"]
    if not hits:
        return f"I found no filed bill matching \"{result['query']}\"."
    lines = [f"- **{h['vendor'] or 'unknown vendor'}** — [original]({h['url']}): {h['snippet'][:120].strip()}…"
             for h in hits[:5]]
    return f"Bills matching \"{result['query']}\", best first:\n\n" + "\n".join(lines)


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


def _vendors(result: dict[str, Any]) -> str:
    vendors = result["vendors"]
    if not vendors:
        return "You have no vendors yet. Paste or attach a bill and I'll start a list."
    rows = ["| Vendor | Category | Bills | Unpaid | Next due |", "|---|---|---:|---:|---|"]
    for v in vendors:
        unpaid = totals(v["open_totals"]) if v["open_totals"] else "—"
        rows.append(f"| {v['name']} | {v.get('category') or '—'} | {v['bills']} | {unpaid} | "
                    f"{format_date(v['next_due']) if v['next_due'] else '—'} |")
    return f"You have {len(vendors)} vendor{'s' if len(vendors) != 1 else ''}:\n\n" + "\n".join(rows)


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
