"""The offline provider's reading of requests: which tool call each phrasing becomes."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.messages import Attachment, Message
from assistant.providers.offline.intents import read_intent
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
    ("how much did I spend on internet last month",
     {"status": "paid", "date_field": "paid", "vendor": "internet", "date_from": "2026-10-01", "date_to": "2026-10-31"}),
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
