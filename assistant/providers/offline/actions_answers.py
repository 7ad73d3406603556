"""Phrasing the results of the tools that change bills (create_commitment, mark_paid, snooze, cancel)
and of calendar_feed. Every number and date comes from the tool result.

`phrase_action(tool_name, result)` returns None for any other tool, so a caller can try it first and
fall back to its own phrasing. The chat's Confirm button uses it too, for the outcome it posts.
"""

from __future__ import annotations

from typing import Any

from assistant.money import format_date, format_money

TOOLS = ("create_commitment", "mark_paid", "snooze", "cancel", "calendar_feed")


def confirmation_question(result: dict[str, Any]) -> str:
    """The answer for a change the user's words did not ask for: nothing was changed yet."""
    return f"I'd like to check first: {result['summary']} Choose **Confirm** or **Cancel**."


def phrase_action(tool_name: str, result: dict[str, Any]) -> str | None:
    if tool_name not in TOOLS:
        return None
    if "error" in result and len(result) == 1:
        return f"I couldn't do that: {result['error']}"
    if result.get("needs_confirmation"):
        return confirmation_question(result)
    return {"create_commitment": _created, "mark_paid": _paid, "snooze": _snoozed, "cancel": _cancelled,
            "calendar_feed": _calendar}[tool_name](result)


def _bill(b: dict[str, Any]) -> str:
    return f"bill #{b['id']} from **{b['vendor']}** ({format_money(b['amount'], b['currency'])})"


def _created(result: dict[str, Any]) -> str:
    if result.get("needs_vendor"):
        options = " or ".join(f"**{c}**" for c in result["candidates"])
        return (f"Is \"{result['name_given']}\" {options}, or a new vendor? Tell me which and I'll add it.")
    b = result["bill"]
    repeats = b.get("repeats")
    how = f"a {repeats} bill" if repeats else "a bill"
    text = (f"Added {how} from **{b['vendor']}**: {format_money(b['amount'], b['currency'])}, "
            f"{'first ' if repeats else ''}due {format_date(b['due_date'])} (bill #{b['id']}).")
    if repeats:
        text += " When you mark one paid, I'll add the next."
    if b["status"] == "overdue":
        text += " It is already overdue."
    return text


def _paid(result: dict[str, Any]) -> str:
    b = result["bill"]
    if result.get("already_paid"):
        return f"Bill #{b['id']} from **{b['vendor']}** was already marked paid on {format_date(b['paid_date'])}."
    text = f"Marked {_bill(b)} as paid on {format_date(b['paid_date'])}."
    if b.get("paid_amount") and b["paid_amount"] != b["amount"]:
        text = (f"Marked {_bill(b)} as paid on {format_date(b['paid_date'])}, "
                f"{format_money(b['paid_amount'], b['currency'])} paid.")
    nxt = result.get("next_bill")
    if nxt:
        text += (f" The next one is due {format_date(nxt['due_date'])} "
                 f"({format_money(nxt['amount'], nxt['currency'])}, bill #{nxt['id']}).")
    return text


def _snoozed(result: dict[str, Any]) -> str:
    b = result["bill"]
    due = f" It is still due {format_date(b['due_date'])}." if b.get("due_date") else ""
    return (f"Snoozed {_bill(b)} until {format_date(result['until'])}: I'll leave it out of what's coming up "
            f"until then.{due}")


def _cancelled(result: dict[str, Any]) -> str:
    b = result["bill"]
    text = f"Cancelled {_bill(b)}: it is no longer counted as owed."
    if result.get("series_ended"):
        text += " It won't repeat any more."
    return text


def _calendar(result: dict[str, Any]) -> str:
    n = result["events"]
    if not n:
        return (f"You have no unpaid bills with a due date in the next {result['days']} days, so the calendar "
                f"file would be empty. [Download it anyway]({result['url']}).")
    return (f"[Download your bills' calendar]({result['url']}) ({n} due date{'s' if n != 1 else ''}, the next "
            f"{result['days']} days and anything overdue). Open the file or import it into your calendar app.")
