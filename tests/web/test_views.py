"""What answers show besides their text (assistant/web/views.py), built from real tool results over the
fixture graph (tests/scenarios/graph.yaml). The browser test (tests/browser/test_answers_browser.py)
checks how they look; these check what is in them."""

from __future__ import annotations

import functools
import json
import re
from datetime import date

import plotly.io as pio
import pytest

from assistant.service import build_services
from assistant.web.views import (AnswerViews, bill_table, document_links, period_label, spending_chart, vendor_card,
                                 vendor_chart)
from tests.conftest import make_settings
from tests.scenarios.graph import build_graph, call_tool as call
from assistant.graph.migrate import upgrade


@pytest.fixture(scope="module")
async def graph(tmp_path_factory):
    base = tmp_path_factory.mktemp("views")
    url = f"sqlite+aiosqlite:///{base / 'assistant.db'}"
    await upgrade(url)
    services = build_services(make_settings(base, url))
    try:
        built = await build_graph(services)
        yield services, built
    finally:
        await services.close()


def _compare_alphanumeric(a: str, b: str) -> int:
    """@tanstack/table's `compareAlphanumeric`, as bundled in Chainlit 2.12's Dataframe element."""
    left = [p for p in re.split(r"([0-9]+)", a.lower()) if p]
    right = [p for p in re.split(r"([0-9]+)", b.lower()) if p]
    while left and right:
        x, y = left.pop(0), right.pop(0)
        if not x.isdigit() and not y.isdigit():
            if x != y:
                return 1 if x > y else -1
            continue
        if not (x.isdigit() and y.isdigit()):
            return -1 if not x.isdigit() else 1
        if int(x) != int(y):
            return 1 if int(x) > int(y) else -1
    return len(left) - len(right)


def sorted_like_the_grid(values: list[str]) -> list[str]:
    """Chainlit's grid sorts a text column of up to ten rows by raw value (JS `<`: UTF-16 code units, the
    same order as Python's for these characters), of more rows "alphanumerically"."""
    if len(values) <= 10:
        return sorted(values)
    return sorted(values, key=functools.cmp_to_key(_compare_alphanumeric))


async def test_open_bills_as_a_grid_whose_amount_column_sorts_by_value(graph):
    result = await call(graph, "find_bills", status="open")
    table = bill_table("find_bills", result)
    assert list(table.columns) == ["#", "Vendor", "Amount", "Due", "Status"]
    rows = {r["Vendor"]: r for r in table.to_dict("records")}
    assert rows["Harbor Gas Co"]["Amount"].strip() == "$61.00"
    assert rows["Harbor Gas Co"]["Status"] == "overdue"
    assert rows["Maple Property Management"]["Amount"] == "$1,200.00"
    assert rows["Maple Property Management"]["Due"] == "2026-12-01"
    # sorting the shown text orders the bills by amount
    by_text = [a.strip() for a in sorted_like_the_grid(list(table["Amount"]))]
    by_value = [f"${a}" for a in sorted((b["amount"] for b in result["bills"]), key=float)]
    assert [a.replace(",", "") for a in by_text] == by_value
    # the grid's JSON (what the browser fetches) keeps the padding and the order
    payload = json.loads(table.to_json(orient="split", date_format="iso"))
    assert payload["columns"][2] == "Amount" and len(payload["data"]) == result["shown"]


def test_amounts_sort_by_value_in_short_and_long_grids():
    amounts = ["1200.00", "61.00", "5.00", "35.75", "120.50", "1005.10", "99.99", "310.00", "12345.60", "0.50", "61.10",
               "8.00"]
    bills = [{"id": i, "vendor": "V", "amount": a, "currency": "USD", "due_date": None, "status": "due"}
             for i, a in enumerate(amounts)]
    for n in (4, 10, len(bills)):  # up to ten rows: raw order; above: alphanumeric order
        table = bill_table("find_bills", {"bills": bills[:n]})
        shown = [a.strip() for a in sorted_like_the_grid(list(table["Amount"]))]
        assert [a.strip("$").replace(",", "") for a in shown] == sorted(amounts[:n], key=float)


async def test_upcoming_grid_has_priority_and_reason_and_one_bill_gets_no_grid(graph):
    result = await call(graph, "upcoming", days=7)
    table = bill_table("upcoming", result)
    assert list(table.columns) == ["#", "Vendor", "Amount", "Due", "Status", "Priority", "Why"]
    first = table.iloc[0]
    assert first["Vendor"] == "Harbor Gas Co" and first["Status"] == "overdue"
    assert isinstance(first["Priority"].item(), (int, float)) and "overdue" in first["Why"]
    one = await call(graph, "find_bills", vendor="Oakwood Dental")
    assert one["shown"] == 1 and bill_table("find_bills", one) is None


async def test_paid_bills_grid_shows_when_they_were_paid(graph):
    result = await call(graph, "find_bills", status="paid", vendor="Pacific Power")
    table = bill_table("find_bills", result)
    assert "Paid on" in table.columns and "2026-10-20" in set(table["Paid on"])


async def test_spending_by_month_is_a_bar_per_month_and_currency(graph):
    result = await call(graph, "summarize_spending", group_by="month")  # 1 Jan to today (21 Nov 2026)
    fig = spending_chart(result)
    assert fig.layout.title.text.startswith("Paid per month, 1 Jan – 21 Nov 2026")
    assert "Total €25.98 · $2,981.48; previous period (10 Feb – 31 Dec 2025): $119.50" in fig.layout.title.text
    bars = {t.name: t for t in fig.data}
    assert set(bars) == {"USD", "EUR"}  # StreamBox is billed in euros; not a whole-months period: no "previous"
    usd = bars["USD"]
    assert list(usd.x)[:3] == ["Jan 2026", "Feb 2026", "Mar 2026"] and list(usd.x)[-1] == "Nov 2026"
    assert dict(zip(usd.x, usd.y))["Feb 2026"] == 0  # months without spending are shown as zero
    assert dict(zip(usd.x, usd.y))["Mar 2026"] == 310.0
    assert not fig.layout.yaxis.tickprefix  # two currencies: no symbol on the axis
    pio.to_json(fig, validate=True)  # what cl.Plotly sends


async def test_whole_year_against_the_year_before_is_a_lighter_trace(graph):
    result = await call(graph, "summarize_spending", group_by="month", date_from="2026-01-01", date_to="2026-12-31")
    fig = spending_chart(result)
    names = [t.name for t in fig.data]
    assert names == ["USD, previous period (2025)", "USD", "EUR"]  # the main currency first
    before = fig.data[0]
    assert before.marker.color == "#93c5fd"  # a lighter blue than this year's
    nov = list(before.x).index("Nov 2026")
    assert before.y[nov] == 80.0 and before.customdata[nov][0] == "Nov 2025"
    # Pacific Power was paid in November 2025 but not (yet) in November 2026: the tool leaves that month
    # out, so the year before would be drawn incomplete; it is left out rather than shown wrong
    power = await call(graph, "summarize_spending", group_by="month", date_from="2026-01-01",
                       date_to="2026-12-31", vendor="Pacific Power")
    fig = spending_chart(power)
    assert [t.name for t in fig.data] == ["USD"]
    assert fig.layout.yaxis.tickprefix == "$"
    assert "previous period (2025): $80.00" in fig.layout.title.text


async def test_spending_by_vendor_is_horizontal_largest_first(graph):
    result = await call(graph, "summarize_spending", group_by="vendor", date_from="2026-10-01", date_to="2026-10-31")
    fig = spending_chart(result)
    before, now = fig.data
    assert now.orientation == "h" and now.name == "Oct 2026"
    assert now.y[0] == "Maple Property Management" and now.customdata[0][0] == "$1,200.00"
    assert "StreamBox (EUR)" in now.y  # one bar per row; a currency other than the main one is named
    assert before.name == "previous period (Sep 2026)" and before.marker.color[0] == "#93c5fd"
    assert fig.layout.yaxis.autorange == "reversed"


async def test_single_month_gets_no_chart(graph):
    result = await call(graph, "summarize_spending", group_by="month", date_from="2026-10-01", date_to="2026-10-31")
    assert spending_chart(result) is None


async def test_vendor_profile_card_and_amounts_chart(graph):
    result = await call(graph, "vendor_profile", vendor="Pacific Power")
    card = vendor_card(result)
    assert card["name"] == "Pacific Power" and card["category"] == "utilities" and card["aliases"] == ["PacifiCorp"]
    facts = dict(card["facts"])
    assert facts["Bills"] == "7"
    assert facts["Usually"] == "monthly, due around the 18th"
    assert facts["Latest"].startswith("$120.50, due Tue 24 Nov 2026")
    assert card["totals"] == [{"currency": "USD", "billed": "$754.05", "paid": "$633.55", "open": "$120.50"}]
    assert len(card["anomalies"]) == 1 and "$187.30" in card["anomalies"][0] and "× the usual" in card["anomalies"][0]
    fig = vendor_chart(result)
    line = fig.data[0]
    assert list(line.x) == sorted(line.x) and len(line.x) == 7
    marked = next(t for t in fig.data if t.name == "unusually high")
    assert list(marked.y) == [187.3] and marked.x[0] == "2026-10-18"
    assert any(t.name == "average $107.72" for t in fig.data)
    assert fig.layout.yaxis.range[1] > 187.3  # room for the anomaly's label
    pio.to_json(fig, validate=True)


async def test_ambiguous_vendor_shows_nothing(graph):
    assert vendor_card({"ambiguous": True, "candidates": ["A", "B"]}) is None
    assert vendor_chart({"ambiguous": True, "candidates": ["A", "B"]}) is None


def test_period_labels():
    assert period_label(date(2026, 1, 1), date(2026, 12, 31)) == "2026"
    assert period_label(date(2026, 10, 1), date(2026, 10, 31)) == "Oct 2026"
    assert period_label(date(2026, 11, 1), date(2026, 11, 21)) == "1 – 21 Nov 2026"
    assert period_label(date(2026, 1, 1), date(2026, 11, 21)) == "1 Jan – 21 Nov 2026"
    assert period_label(date(2025, 12, 1), date(2026, 2, 28)) == "1 Dec 2025 – 28 Feb 2026"
    assert period_label(date(2026, 11, 5), date(2026, 11, 5)) == "5 Nov 2026"


def test_vendor_documents_are_named_by_file_else_kind_and_date():
    card = vendor_card({"vendor": {"name": "V"}, "documents": [
        {"id": 1, "filename": "june.pdf", "type": "application/pdf", "url": "/documents/1", "filed": "2026-06-02"},
        {"id": 2, "filename": None, "type": "text/plain", "url": "/documents/2", "filed": "2026-11-22"},
        {"id": 3, "filename": None, "type": "image/jpeg", "url": "/documents/3", "filed": None}]})
    assert [d["label"] for d in card["documents"]] == ["june.pdf", "Text, 22 Nov 2026", "Photo 3"]


def test_links_to_documents_skip_those_the_answer_already_links():
    bills = {"bills": [{"id": 3, "vendor": "City Water", "document_id": 7},
                       {"id": 4, "vendor": "Pacific [Power]", "document_id": 8},
                       {"id": 5, "vendor": "Rent", "document_id": None}]}
    hits = {"hits": [{"document_id": 8, "vendor": "Pacific Power"}, {"document_id": 9, "vendor": None,
                                                                      "filename": "scan.pdf"}]}
    text = "Filed ([original](/documents/7))."
    links = document_links([("find_bills", bills), ("search_documents", hits), ("mark_paid", {})], text)
    assert links == "\n\nOriginals: [#4 Pacific (Power)](/documents/8) · [scan.pdf](/documents/9)"
    assert document_links([("find_bills", {"bills": []})]) == ""


def test_errors_and_unknown_tools_add_nothing():
    views = AnswerViews()
    views.add("find_bills", {"error": "bad"}, is_error=True)
    views.add("list_vendors", {"vendors": []})
    assert views.links("") == ""
    assert views.elements() == []  # no Chainlit context needed when there is nothing to show
