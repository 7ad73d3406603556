"""The calendar feed: a user's open bills as an iCalendar file (RFC 5545), so they show in a calendar.

Decisions:
- Written by hand (no library): one VCALENDAR, one all-day VEVENT per bill (DTSTART;VALUE=DATE on the
  due date, DTEND the day after), CRLF line endings, lines folded at 75 octets (UTF-8 characters are
  never split), TEXT values escaped (backslash, semicolon, comma, newline).
- UID `bill-<id>@bill-assistant`: stable, so importing the feed again updates the events instead of
  adding copies. DTSTAMP is when the feed was made; LAST-MODIFIED is the bill's last change.
- SUMMARY "Pay <vendor> <amount> <currency>"; DESCRIPTION: the priority and its reason for today, the
  bill's number and description, "overdue" and a snooze when there is one.
- Which bills: `assistant.graph.actions.calendar_bills` (open bills due within N days, default 90,
  overdue ones and snoozed ones included).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.graph.actions import calendar_bills
from assistant.graph.queries import UpcomingBill

DEFAULT_DAYS = 90
PRODID = "-//Bill assistant//Bills//EN"


def escape(text: str) -> str:
    """An RFC 5545 TEXT value: backslash, semicolon and comma escaped, line breaks as \\n."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line folded so no physical line exceeds 75 octets (continuations start with a space)."""
    out: list[str] = []
    current, size, limit = [], 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append("".join(current))
            current, size, limit = [" "], 1, 75
        current.append(char)
        size += width
    out.append("".join(current))
    return "\r\n".join(out)


def _date(d: date) -> str:
    return d.strftime("%Y%m%d")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event_lines(item: UpcomingBill, now: datetime) -> list[str]:
    bill = item.bill
    details = [f"Priority {item.priority}: {item.reason}." if item.reason else f"Priority {item.priority}."]
    if item.overdue:
        details.append("Overdue: it was due " + bill.due_date.isoformat() + ".")
    details.append(f"Bill #{bill.id}" + (f": {bill.description}" if bill.description else "") + ".")
    if bill.repeats:
        details.append(f"Repeats {bill.repeats}.")
    if bill.snoozed_until:
        details.append(f"Snoozed until {bill.snoozed_until.isoformat()}.")
    lines = [
        "BEGIN:VEVENT",
        f"UID:bill-{bill.id}@bill-assistant",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART;VALUE=DATE:{_date(bill.due_date)}",
        f"DTEND;VALUE=DATE:{_date(bill.due_date + timedelta(days=1))}",
        "SUMMARY:" + escape(f"Pay {bill.vendor.name} {bill.amount} {bill.currency}"),
        "DESCRIPTION:" + escape("\n".join(details)),
        "TRANSP:TRANSPARENT",
    ]
    if bill.updated_at is not None:
        changed = bill.updated_at if bill.updated_at.tzinfo else bill.updated_at.replace(tzinfo=UTC)
        lines.append(f"LAST-MODIFIED:{_stamp(changed)}")
    lines.append("END:VEVENT")
    return lines


def build_ics(items: list[UpcomingBill], now: datetime | None = None) -> str:
    """The whole calendar as text, every line ending in CRLF."""
    now = now or datetime.now(UTC)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             "X-WR-CALNAME:Bills"]
    for item in items:
        lines.extend(event_lines(item, now))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


async def user_calendar(sessions: async_sessionmaker, owner_id: str, today: date,
                        days: int = DEFAULT_DAYS) -> tuple[str, int]:
    """The owner's feed and how many events it holds."""
    async with sessions() as session:
        items = await calendar_bills(session, owner_id, today, days)
        return build_ics(items), len(items)
