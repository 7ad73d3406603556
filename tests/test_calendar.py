"""The calendar feed (.ics): checked as text, as a calendar app would read it, on both databases, and
`assistant calendar` run as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

from assistant.calendar import build_ics, escape, fold, user_calendar
from assistant.messages import ToolCall
from tests.conftest import make_settings

TODAY = date(2026, 11, 21)


def unfold(text: str) -> list[str]:
    """Content lines: CRLF-separated, a line starting with a space continues the one before."""
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", ""), "a bare LF"
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, f"longer than 75 octets: {line!r}"
    return text[:-2].replace("\r\n ", "").split("\r\n")


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def events(text: str) -> list[dict[str, str]]:
    """Each VEVENT's properties (name with parameters -> raw value)."""
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR" and "VERSION:2.0" in lines
    found, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            found.append(current)
            current = None
        elif current is not None:
            name, value = line.split(":", 1)
            current[name] = value
    return found


def test_folding_and_escaping():
    assert escape("a, b; c\\d\ne") == "a\\, b\\; c\\\\d\\ne"
    line = "DESCRIPTION:" + "é" * 100  # two octets each: never split inside one
    folded = fold(line)
    assert all(len(p.encode()) <= 75 for p in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line
    assert build_ics([]) .startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")


async def add(services, user_id, vendor, amount, due, **more):
    ctx = services.tool_context(user_id, today=TODAY)
    args = {"vendor": vendor, "amount": amount, "due_date": due.isoformat(), "confirmed": True, **more}
    out = await services.registry.call(ToolCall("t", "create_commitment", args), ctx)
    assert not out.is_error and out.result["created"], out.result
    return out.result["bill"]


async def act(services, user_id, name, **args):
    ctx = services.tool_context(user_id, today=TODAY)
    out = await services.registry.call(ToolCall("t", name, {**args, "confirmed": True}), ctx)
    assert not out.is_error, out.result
    return out.result


async def test_the_feed_has_one_event_per_open_bill(services):
    alice = await services.user_id("alice")
    bob = await services.user_id("bob")
    water = await add(services, alice, "City Water", "45.10", TODAY + timedelta(days=5))
    firm = await add(services, alice, "Smith, Jones; Partners", "1200.00", TODAY + timedelta(days=10),
                     description="Quarterly retainer for the garden, the roof; and a very long note that "
                                 "goes well past seventy-five octets — with accents: é à ü")
    late = await add(services, alice, "Élec Énergie Société", "88.00", TODAY - timedelta(days=3))
    snoozed = await add(services, alice, "Gym", "30.00", TODAY + timedelta(days=2))
    await act(services, alice, "snooze", bill_id=snoozed["id"], days=7)
    far = await add(services, alice, "Insurance", "500.00", TODAY + timedelta(days=200))
    paid = await add(services, alice, "Paid Co", "10.00", TODAY + timedelta(days=3))
    await act(services, alice, "mark_paid", bill_id=paid["id"])
    gone = await add(services, alice, "Gone Co", "10.00", TODAY + timedelta(days=3))
    await act(services, alice, "cancel", bill_id=gone["id"])
    theirs = await add(services, bob, "Bob's Bakery", "12.00", TODAY + timedelta(days=3))

    text, n = await user_calendar(services.sessions, alice, TODAY)
    found = events(text)
    assert n == len(found) == 4
    by_uid = {e["UID"]: e for e in found}
    assert set(by_uid) == {f"bill-{b['id']}@bill-assistant" for b in (water, firm, late, snoozed)}
    assert f"bill-{theirs['id']}@bill-assistant" not in text and "Bob" not in text
    w = by_uid[f"bill-{water['id']}@bill-assistant"]
    assert w["DTSTART;VALUE=DATE"] == "20261126" and w["DTEND;VALUE=DATE"] == "20261127"
    assert w["SUMMARY"] == "Pay City Water 45.10 USD"
    assert unescape(w["DESCRIPTION"]).startswith("Priority ") and "due in 5 days" in unescape(w["DESCRIPTION"])
    assert re.fullmatch(r"\d{8}T\d{6}Z", w["DTSTAMP"])
    f = by_uid[f"bill-{firm['id']}@bill-assistant"]
    assert f["SUMMARY"] == "Pay Smith\\, Jones\\; Partners 1200.00 USD"
    assert unescape(f["SUMMARY"]) == "Pay Smith, Jones; Partners 1200.00 USD"
    assert "the roof; and a very long note" in unescape(f["DESCRIPTION"])
    assert "\\n" in f["DESCRIPTION"] and "\n" not in f["DESCRIPTION"]
    overdue = by_uid[f"bill-{late['id']}@bill-assistant"]
    assert overdue["DTSTART;VALUE=DATE"] == "20261118" and "overdue by 3 days" in unescape(overdue["DESCRIPTION"])
    assert unescape(overdue["SUMMARY"]) == "Pay Élec Énergie Société 88.00 USD"
    assert "Snoozed until 2026-11-28" in unescape(by_uid[f"bill-{snoozed['id']}@bill-assistant"]["DESCRIPTION"])
    # stable identity: the same feed made again has the same UIDs
    assert {e["UID"] for e in events((await user_calendar(services.sessions, alice, TODAY))[0])} == set(by_uid)
    # further ahead: the far bill too
    longer, n = await user_calendar(services.sessions, alice, TODAY, days=366)
    assert n == 5 and f"bill-{far['id']}@bill-assistant" in longer

    ctx = services.tool_context(alice, today=TODAY)
    feed = await services.registry.call(ToolCall("t", "calendar_feed", {}), ctx)
    assert feed.result == {"url": "/calendar.ics", "events": 4, "days": 90, "filename": "bills.ics"}
    feed = await services.registry.call(ToolCall("t", "calendar_feed", {"days": 366}), ctx)
    assert feed.result["url"] == "/calendar.ics?days=366" and feed.result["events"] == 5


def cli(tmp_path, database_url, *args):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, capture_output=True,
                          timeout=120)


async def test_cli_writes_the_calendar(tmp_path, database_url):
    from assistant.service import build_services

    today = datetime.now(UTC).date()  # the CLI judges "today" in ASSISTANT_TIMEZONE (UTC by default)
    services = build_services(make_settings(tmp_path, database_url))
    try:
        alice = await services.user_id("alice")
        bob = await services.user_id("bob")
        ctx = services.tool_context(alice, today=today)
        made = await services.registry.call(ToolCall("t", "create_commitment", {
            "vendor": "City Water", "amount": "45.10", "due_date": (today + timedelta(days=4)).isoformat(),
            "confirmed": True}), ctx)
        ctx = services.tool_context(bob, today=today)
        await services.registry.call(ToolCall("t", "create_commitment", {
            "vendor": "Bob's Bakery", "amount": "12", "due_date": (today + timedelta(days=4)).isoformat(),
            "confirmed": True}), ctx)
    finally:
        await services.close()

    out = tmp_path / "bills.ics"
    run = cli(tmp_path, database_url, "calendar", "--user", "alice", "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert b"wrote 1 event to" in run.stderr
    found = events(out.read_bytes().decode("utf-8"))
    assert [e["UID"] for e in found] == [f"bill-{made.result['bill']['id']}@bill-assistant"]
    assert found[0]["DTSTART;VALUE=DATE"] == (today + timedelta(days=4)).strftime("%Y%m%d")

    printed = cli(tmp_path, database_url, "calendar", "--user", "bob", "--days", "30")
    assert printed.returncode == 0, printed.stderr
    found = events(printed.stdout.decode("utf-8"))  # CRLF kept on standard output too
    assert [unescape(e["SUMMARY"]) for e in found] == ["Pay Bob's Bakery 12.00 USD"]
