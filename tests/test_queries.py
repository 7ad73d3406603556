"""The question tools over the fixture graph (tests/scenarios/graph.yaml), on SQLite and PostgreSQL:
exact numbers, per user."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.graph.categories import category_named, guess_category
from assistant.graph.queries import previous_period
from tests.scenarios.graph import build_graph, call_tool as call


@pytest.fixture
async def graph(services):
    built = await build_graph(services)
    return services, built


async def test_find_bills_filters_by_category_amount_text_and_sorts(graph):
    utilities = await call(graph, "find_bills", category="utilities")
    assert [(b["vendor"], b["amount"]) for b in utilities["bills"]] == [
        ("Harbor Gas Co", "61.00"), ("Pacific Power", "120.50"), ("City Water", "45.10")]
    assert utilities["totals"] == [{"currency": "USD", "count": 3, "amount": "226.60"}]
    big = await call(graph, "find_bills", amount_min="100", sort="amount", descending=True)
    assert [b["amount"] for b in big["bills"]] == ["1200.00", "325.00", "140.00", "120.50"]
    assert big["totals"][0]["amount"] == "1785.50"
    assert [b["vendor"] for b in (await call(graph, "find_bills", text="W-7", status="any"))["bills"]] == ["City Water"] * 4
    cancelled = await call(graph, "find_bills", status="cancelled")
    assert [b["description"] for b in cancelled["bills"]] == ["Invoice SM-X"]
    # "utility bills" is the same category; bob's 999.99 Pacific Power bill never shows
    assert (await call(graph, "find_bills", category="utility bills"))["totals"] == utilities["totals"]


async def test_summarize_spending_by_vendor_against_the_month_before(graph):
    october = await call(graph, "summarize_spending", group_by="vendor", date_from="2026-10-01", date_to="2026-10-31")
    assert october["previous_period"] == {"from": "2026-09-01", "to": "2026-09-30"}
    usd = [t for t in october["totals"] if t["currency"] == "USD"][0]
    assert (usd["amount"], usd["count"], usd["previous_amount"], usd["change"]) == ("1541.04", 5, "443.20", "1097.84")
    groups = {(g["key"], g["currency"]): g for g in october["groups"]}
    assert groups[("Maple Property Management", "USD")]["amount"] == "1200.00"
    assert groups[("StreamBox", "EUR")]["amount"] == "12.99"
    assert groups[("Greenleaf Insurance", "USD")] ["amount"] == "0.00"  # paid in September only
    assert groups[("Greenleaf Insurance", "USD")]["previous_amount"] == "310.00"
    by_month = await call(graph, "summarize_spending", group_by="month", category="utilities",
                          date_from="2026-07-01", date_to="2026-09-30")
    assert [(g["key"], g["amount"]) for g in by_month["groups"]] == [
        ("2026-07", "129.10"), ("2026-08", "95.75"), ("2026-09", "133.20")]
    assert by_month["previous_period"] == {"from": "2026-04-01", "to": "2026-06-30"}
    assert by_month["totals"][0]["previous_amount"] == "92.40"


async def test_upcoming_is_most_urgent_first_and_leaves_snoozed_bills_out(graph):
    week = await call(graph, "upcoming", days=7)
    assert [b["vendor"] for b in week["bills"]] == ["Harbor Gas Co", "Summit Mobile", "Pacific Power"]
    assert week["bills"][0]["priority_reason"] == "overdue by 6 days; mentions a late fee"
    assert week["overdue_count"] == 1 and week["totals"] == [{"currency": "USD", "count": 3, "amount": "217.25"}]
    month = [b["vendor"] for b in (await call(graph, "upcoming", days=30))["bills"]]
    assert "Oakwood Dental" not in month and "Greenleaf Insurance" in month and "Summit Mobile" in month


async def test_vendor_profile_with_totals_habits_and_an_anomaly(graph):
    p = await call(graph, "vendor_profile", vendor="pacific powr")
    assert p["vendor"]["name"] == "Pacific Power" and p["vendor"]["aliases"] == ["PacifiCorp"]
    assert p["totals"] == [{"currency": "USD", "count": 7, "billed": "754.05", "paid": "633.55", "open": "120.50"}]
    assert p["average"] == [{"currency": "USD", "amount": "107.72"}]
    assert p["usual_due_day"] == 18 and p["recurrence"] == "monthly"
    assert [(a["amount"], a["usual"], a["ratio"]) for a in p["anomalies"]] == [("187.30", "91.20", "2.05")]
    assert p["last"]["amount"] == "120.50"
    assert (await call(graph, "vendor_profile", vendor="PacifiCorp"))["vendor"]["name"] == "Pacific Power"


def test_previous_periods():
    from datetime import date

    assert previous_period(date(2026, 1, 1), date(2026, 12, 31)) == (date(2025, 1, 1), date(2025, 12, 31))
    assert previous_period(date(2026, 7, 1), date(2026, 9, 30)) == (date(2026, 4, 1), date(2026, 6, 30))
    assert previous_period(date(2026, 3, 1), date(2026, 3, 31)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert previous_period(date(2026, 11, 16), date(2026, 11, 22)) == (date(2026, 11, 9), date(2026, 11, 15))


def test_categories_from_names_and_text():
    assert guess_category("Pacific Power") == "utilities"
    assert guess_category("Greenleaf Insurance") == "insurance"
    assert guess_category("Acme Ltd", "Your broadband plan: 500 Mbps fibre internet, router rental") == "telecom"
    assert guess_category("Acme Ltd", "Thank you for your business") is None
    assert category_named("Utilities") == "utilities" and category_named("insurance") == "insurance"
    assert category_named("groceries") is None
