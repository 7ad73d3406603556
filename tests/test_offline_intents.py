"""The offline provider's reading of requests: which tool call each phrasing becomes."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.messages import Attachment, Message
from assistant.providers.offline.intents import read_intent
from assistant.providers.offline.periods import find_period
from assistant.providers.offline.words import find_amounts, find_category, find_sort
from tests.factories import bill_text

TODAY = date(2026, 11, 21)


def calls(text, history=()):
    return read_intent(Message("user", text), list(history), TODAY).calls


@pytest.mark.parametrize("text, args", [
    ("what's due this week?", {"status": "open", "date_from": "2026-11-16", "date_to": "2026-11-22"}),
    ("What is due this week", {"status": "open", "date_from": "2026-11-16", "date_to": "2026-11-22"}),
    ("which bills are coming up in the next 10 days", {"status": "open", "date_from": "2026-11-21", "date_to": "2026-12-01"}),
    ("what do I owe next week?", {"status": "open", "date_from": "2026-11-23", "date_to": "2026-11-29"}),
    ("anything overdue?", {"status": "overdue"}),
    ("which bills are late", {"status": "overdue"}),
    ("what's due in March?", {"status": "open", "date_from": "2027-03-01", "date_to": "2027-03-31"}),
    ("bills due next month", {"status": "open", "date_from": "2026-12-01", "date_to": "2026-12-31"}),
    ("what's due", {"status": "open"}),
    ("what do I owe to pacific power?", {"status": "open", "vendor": "pacific power"}),
])
def test_what_is_due(text, args):
    assert calls(text) == [("find_bills", args)]


@pytest.mark.parametrize("text, args", [
    ("How much did I pay Pacific Power this year?",
     {"status": "paid", "date_field": "paid", "vendor": "pacific power", "date_from": "2026-01-01", "date_to": "2026-12-31"}),
    ("how much have I paid to city water since january",
     {"status": "paid", "date_field": "paid", "vendor": "city water", "date_from": "2026-01-01", "date_to": "2026-11-21"}),
    ("how much did I spend on fastlink last month",
     {"status": "paid", "date_field": "paid", "vendor": "fastlink", "date_from": "2026-10-01", "date_to": "2026-10-31"}),
    ("how much did Comcast bill me in 2025",
     {"status": "any", "date_field": "issued", "vendor": "comcast", "date_from": "2025-01-01", "date_to": "2025-12-31"}),
    ("how much was I charged by acme this year",
     {"status": "any", "date_field": "issued", "vendor": "acme", "date_from": "2026-01-01", "date_to": "2026-12-31"}),
])
def test_how_much_was_paid_or_billed(text, args):
    assert calls(text) == [("find_bills", args)]


@pytest.mark.parametrize("text, args", [
    ("mark bill #3 paid", {"bill_id": 3, "paid_date": "2026-11-21"}),
    ("Mark the water bill as paid", {"vendor": "water", "paid_date": "2026-11-21"}),
    ("I paid the pacific power bill yesterday", {"vendor": "pacific power", "paid_date": "2026-11-20"}),
    ("the gas bill is paid", {"vendor": "gas", "paid_date": "2026-11-21"}),
])
def test_mark_paid(text, args):
    assert calls(text) == [("mark_paid", args)]


def test_mark_it_paid_refers_to_the_last_bill_in_the_conversation():
    history = [Message("user", "what's due?"),
               Message("tool", '{"bills": [{"id": 7, "vendor": "X"}]}', name="find_bills")]
    assert calls("mark it paid", history) == [("mark_paid", {"bill_id": 7, "paid_date": "2026-11-21"})]
    several = [Message("tool", '{"bills": [{"id": 7}, {"id": 8}]}', name="find_bills")]
    assert calls("mark it paid", several) == []  # ambiguous: the answer asks which one
    assert read_intent(Message("user", "mark it paid"), several, date(2026, 11, 21)).kind == "which_bill"


@pytest.mark.parametrize("text", ["who do I pay?", "list my vendors", "show me my billers"])
def test_list_vendors(text):
    assert calls(text) == [("list_vendors", {})]


def test_bills_are_recognised_when_pasted_or_attached():
    assert calls(bill_text(due=TODAY))[0][0] == "add_bill"
    message = Message("user", "here you go", attachments=[Attachment("file-1", "b.pdf", "upload")])
    assert read_intent(message, [], TODAY).calls == [("add_bill", {"attachment_id": "file-1"})]


@pytest.mark.parametrize("text", ["write a poem", "what is the capital of France?", ""])
def test_anything_else_gets_the_offline_help(text):
    assert read_intent(Message("user", text), [], TODAY).kind == "help"


# ----------------------------------------------------------------------------------------------
# periods, amounts, categories, sorting, follow-ups, changes (the question scenarios in
# tests/scenarios/ run the same readings end to end over the fixture graph)


@pytest.mark.parametrize("text, future, start, end", [
    ("this week", True, "2026-11-16", "2026-11-22"),
    ("this weekend", True, "2026-11-21", "2026-11-22"),
    ("next month", True, "2026-12-01", "2026-12-31"),
    ("last year", False, "2025-01-01", "2025-12-31"),
    ("in March", True, "2027-03-01", "2027-03-31"),  # due in March: the next one
    ("in March", False, "2026-03-01", "2026-03-31"),  # paid in March: the last one
    ("since January", False, "2026-01-01", "2026-11-21"),
    ("Q3", False, "2026-07-01", "2026-09-30"),
    ("the third quarter of last year", False, "2025-07-01", "2025-09-30"),
    ("last 30 days", False, "2026-10-22", "2026-11-21"),
    ("between 1 and 15 December", True, "2026-12-01", "2026-12-15"),
    ("dec 1-15", True, "2026-12-01", "2026-12-15"),
    ("in 2025", False, "2025-01-01", "2025-12-31"),
    ("year to date", False, "2026-01-01", "2026-11-21"),
    ("by the end of the month", True, "2026-11-21", "2026-11-30"),
    ("until 5 December", True, "2026-11-21", "2026-12-05"),
    ("last quarter", False, "2026-07-01", "2026-09-30"),
    ("next 2 weeks", True, "2026-11-21", "2026-12-05"),
])
def test_periods(text, future, start, end):
    period = find_period(text, TODAY, future)
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)


def test_an_amount_is_not_a_year():
    assert find_period("bills over 2000", TODAY, False) is None
    assert find_amounts("bills over 2000").minimum == 2000


@pytest.mark.parametrize("text, low, high", [
    ("over $100", "100", None), ("more than 50", "50", None), ("under 20 euros", None, "20"),
    ("between 50 and 100", "50", "100"), ("$1,200 or more", "1200", None), ("at most 45.50", None, "45.50"),
])
def test_amounts(text, low, high):
    found = find_amounts(text)
    assert (str(found.minimum) if found.minimum is not None else None, str(found.maximum) if found.maximum is not None else None) == (low, high)


@pytest.mark.parametrize("text, category", [
    ("utilities", "utilities"), ("my utility bills", "utilities"), ("phone and internet", "telecom"),
    ("insurance", "insurance"), ("rent", "housing"), ("medical bills", "health"), ("subscriptions", "subscriptions"),
    ("greenleaf insurance", None),  # a vendor's name, not the category
])
def test_categories(text, category):
    found = find_category(text)
    assert (found[0] if found else None) == category


def test_sorting():
    assert (find_sort("biggest bill").field, find_sort("biggest bill").limit) == ("amount", 1)
    assert (find_sort("most expensive first").descending, find_sort("most expensive first").limit) == (True, None)
    assert find_sort("my 3 biggest bills").limit == 3
    assert find_sort("the latest bill").latest


@pytest.mark.parametrize("text, call", [
    ("how much did I spend on internet last month",
     ("summarize_spending", {"group_by": "vendor", "category": "telecom", "date_from": "2026-10-01", "date_to": "2026-10-31"})),
    ("spending by month this year",
     ("summarize_spending", {"group_by": "month", "date_from": "2026-01-01", "date_to": "2026-12-31"})),
    ("how does this month compare to last month?",
     ("summarize_spending", {"group_by": "vendor", "date_from": "2026-11-01", "date_to": "2026-11-30"})),
    ("what's coming up?", ("upcoming", {"days": 14})),
    ("what should I pay first", ("upcoming", {"days": 14})),
    ("next 10 days", ("upcoming", {"days": 10})),
    ("tell me about PacifiCorp", ("vendor_profile", {"vendor": "pacificorp"})),
    ("anything unusual with my water bill?", ("vendor_profile", {"vendor": "water"})),
    ("unpaid bills over $100", ("find_bills", {"status": "open", "amount_min": "100"})),
    ("what's my biggest bill?", ("find_bills", {"status": "open", "sort": "amount", "descending": True, "limit": 1})),
    ("which bill was invoice W-78?", ("find_bills", {"status": "any", "text": "W-78"})),
    ("rent 1,200 due on the 1st every month",
     ("create_commitment", {"vendor": "Rent", "amount": "1200", "day_of_month": 1, "repeats": "monthly"})),
    ("remind me about the dentist bill next week", ("snooze", {"vendor": "dental", "until": "2026-11-23"})),
    ("cancel the Summit Mobile bill", ("cancel", {"vendor": "summit mobile"})),
    ("add my bills to my calendar", ("calendar_feed", {})),
])
def test_which_tool(text, call):
    assert calls(text) == [call]


def test_follow_ups_reuse_the_previous_question():
    first = [Message("user", "How much did I pay Pacific Power this year?")]
    assert calls("and last year?", first) == [("find_bills", {
        "status": "paid", "date_field": "paid", "vendor": "pacific power", "date_from": "2025-01-01", "date_to": "2025-12-31"})]
    assert calls("what about City Water?", first)[0][1]["vendor"] == "city water"
    assert calls("and utilities?", first) == [("summarize_spending", {
        "group_by": "vendor", "category": "utilities", "date_from": "2026-01-01", "date_to": "2026-12-31"})]
    # a bare name after a question is not taken as a new question about it
    bare = read_intent(Message("user", "Hamburg Energie"), [Message("user", "what's due this week?")], date(2026, 11, 21))
    assert bare.calls == [] and bare.kind == "help"


@pytest.mark.parametrize("text, call", [
    ("snooze it for a week", ("snooze", {"bill_id": 7, "days": 7})),
    ("cancel that one", ("cancel", {"bill_id": 7})),
    ("ok, I paid it today", ("mark_paid", {"bill_id": 7, "paid_date": "2026-11-21"})),
])
def test_changes_point_at_the_bill_last_talked_about(text, call):
    history = [Message("user", "what do I owe summit mobile"),
               Message("tool", '{"bills": [{"id": 7, "vendor": "Summit Mobile"}]}', name="find_bills")]
    assert calls(text, history) == [call]
    assert read_intent(Message("user", text), [], TODAY).kind == "which_bill"  # nothing to point at: ask


# ----------------------------------------------------------------------------------------------
# phrasing: only the tools' numbers


def _tool(name, result):
    import json

    return Message("tool", json.dumps(result), name=name)


def test_a_spending_answer_quotes_the_tools_totals_and_change():
    from assistant.providers.offline.answers import phrase

    intent = read_intent(Message("user", "how much did I spend on utilities this year?"), [], TODAY)
    row = {"key": "Pacific Power", "currency": "USD", "count": 5, "amount": "553.55", "previous_count": 1,
           "previous_amount": "80.00", "change": "473.55", "change_pct": "591.9"}
    total = {**row, "key": "total", "amount": "999.99", "change": "1.00", "change_pct": "0.1", "previous_amount": "998.99"}
    text = phrase(intent, [_tool("summarize_spending", {
        "group_by": "vendor", "basis": "paid", "period": {"from": "2026-01-01", "to": "2026-12-31"},
        "previous_period": {"from": "2025-01-01", "to": "2025-12-31"}, "groups": [row], "totals": [total]})], TODAY)
    # the total is the tool's (deliberately not the sum of the groups): nothing is added up here
    assert "**$999.99** (5 bills) for utilities this year" in text
    assert "up $1.00 (+0.1%) from $998.99 in 2025" in text
    assert "| Pacific Power | 5 | $553.55 | $80.00 | +$473.55 (+591.9%) |" in text


def test_a_vendor_card_links_its_documents_and_flags_anomalies():
    from assistant.providers.offline.answers import phrase

    intent = read_intent(Message("user", "tell me about pacific power"), [], TODAY)
    text = phrase(intent, [_tool("vendor_profile", {
        "vendor": {"id": 1, "name": "Pacific Power", "category": "utilities", "aliases": ["PacifiCorp"]},
        "totals": [{"currency": "USD", "count": 7, "billed": "754.05", "paid": "633.55", "open": "120.50"}],
        "average": [{"currency": "USD", "amount": "107.72"}], "last": None, "usual_due_day": 18,
        "recurrence": "monthly", "bills": [],
        "anomalies": [{"bill_id": 5, "amount": "187.30", "currency": "USD", "due_date": "2026-10-18",
                       "usual": "91.20", "ratio": "2.05"}],
        "documents": [{"id": 12, "filename": "october.pdf", "type": "application/pdf", "url": "/documents/12"}]})], TODAY)
    assert "### Pacific Power" in text and "also known as PacifiCorp" in text
    assert "⚠ Bill #5: $187.30, due Sun 18 Oct 2026, is 2.05× the usual $91.20." in text
    assert "[october.pdf](/documents/12)" in text and "on the 18th" in text


def test_a_tool_this_installation_lacks_is_said_plainly():
    from assistant.messages import CompletionRequest
    from assistant.providers.offline import OfflineProvider

    request = CompletionRequest(system="", messages=[Message("user", "add my bills to my calendar")],
                                tools=[{"name": "find_bills"}], today=TODAY)
    answer = OfflineProvider().complete(request)
    assert not answer.tool_calls and "calendar_feed" in answer.text


def test_a_long_conversation_reads_each_past_message_once(monkeypatch):
    """Follow-ups read the questions before them, which read theirs: without keeping each past reading,
    the work doubled with every turn (the 12th message of a chain took 266 ms, the 20th would take a minute)."""
    from assistant.providers.offline import intents

    history = []
    for _ in range(20):
        history += [Message("user", "Hamburg Energie?"), Message("assistant", "I can't tell.")]
    reads = []
    real = intents.read_intent
    monkeypatch.setattr(intents, "read_intent", lambda m, h, t: reads.append(m) or real(m, h, t))
    intents.read_intent(Message("user", "and last month?"), history, date(2026, 11, 21))
    assert len(reads) <= 20 + 1  # each of the 20 past questions at most once, plus this one
