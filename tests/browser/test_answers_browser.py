"""How answers look in a real Chromium: bills as a sortable grid, spending as a chart, a vendor as a card,
links to the original documents; after a reload too (a resumed chat fetches the elements again).

The server is `assistant serve` on SQLite with the offline assistant, and the fixture graph
(tests/scenarios/graph.yaml) loaded into its database for alice, every date moved so that the graph's
"today" is the real today (the server asks the clock). The questions, asked as a person would type them:
"what's due this week?", "show my bills over $100", "what do I owe?", "spending by month this year",
"which vendors cost the most this year?", "tell me about Pacific Power".

Screenshots (the whole conversation, on a tall window, and each checked answer on its own) go to
`$SCREENSHOT_DIR/<test name>/`, else to the browser artifacts directory (`$BROWSER_ARTIFACTS_DIR/<test
name>/` or the test's tmp_path).
"""

from __future__ import annotations

import asyncio
import contextlib
import concurrent.futures
import os
import re
from datetime import timedelta
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_chat_browser import (LOAD_TIMEOUT, TURN_TIMEOUT, assistant_messages, error_toasts,
                                             keep_server_log, send, sign_in)
from tests.conftest import LiveServer, start_server
from tests.factories import bill_text
from tests import answer_support

pytestmark = pytest.mark.browser


# ---------------------------------------------------------------------------------------------
# the server, its data, the scripted model


def run_async(coro):
    """Run `coro` to completion on a loop of its own (Playwright's sync API owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


def load_graph(server: LiveServer, monkeypatch, documents: list[str] = ()) -> dict[str, Any]:
    return run_async(answer_support.load_graph(server.data_dir, server.database_url, monkeypatch, documents))


@contextlib.contextmanager
def alice_signed_in(page: Page, tmp_path: Path, monkeypatch, screenshots: Path,
                    documents: list[str] = ()) -> Iterator[LiveServer]:
    """A live app on SQLite holding the fixture graph, alice signed in; its log kept when a test fails."""
    data = tmp_path / "data"
    server = start_server(data, f"sqlite+aiosqlite:///{data / 'assistant.db'}")
    try:
        load_graph(server, monkeypatch, documents)
        sign_in(page, server.url, "alice", "wonderland")
        expect(page.locator("#chat-input")).to_be_visible(timeout=LOAD_TIMEOUT)
        yield server
    except BaseException:
        keep_server_log(server, screenshots)
        raise
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# the page


@pytest.fixture
def screenshots(request, artifacts_dir: Path) -> Path:
    base = os.environ.get("SCREENSHOT_DIR")
    path = Path(base) / re.sub(r"[^\w.-]+", "_", request.node.name) if base else artifacts_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def shoot_whole(page: Page, directory: Path, name: str, focus: Locator | None = None) -> Path:
    """The whole conversation: the chat scrolls inside the window, so the window is made tall enough
    for it, then put back. `focus` is also saved on its own as `<name>-answer.png`."""
    size = page.viewport_size
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')]"
                           ".filter(e => e.scrollHeight > e.clientHeight + 4 && getComputedStyle(e).overflowY !== 'visible')"
                           ".map(e => e.scrollHeight), document.body.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], height + 250), 8000)})
    page.wait_for_timeout(400)  # charts resize to the new window
    # Chainlit keeps the last question at the top of the chat (a spacer below it): show from the start
    page.evaluate("() => document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    page.wait_for_timeout(100)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    if focus is not None:
        focus.screenshot(path=str(directory / f"{name}-answer.png"), animations="disabled")
    page.set_viewport_size(size)
    return path


def ask(page: Page, question: str, expected: str) -> Locator:
    """Send `question`; its answer (the one new assistant message, containing `expected`) once the turn
    has finished."""
    before = assistant_messages(page).count()
    send(page, question)
    found = assistant_messages(page).nth(before)
    expect(found).to_contain_text("Answered by offline", timeout=TURN_TIMEOUT)
    expect(page.locator("#stop-button")).to_have_count(0, timeout=TURN_TIMEOUT)
    expect(assistant_messages(page)).to_have_count(before + 1)
    expect(found).to_contain_text(expected)
    return found


def grid(message: Locator) -> Locator:
    """The data grid (Chainlit's Dataframe element) under a message."""
    return message.locator(".dataframe table")


def column(table: Locator, index: int) -> list[str]:
    return [t.strip() for t in table.locator(f"tbody tr td:nth-child({index})").all_inner_texts()]


def markdown_rows(message: Locator) -> list[tuple[str, str]]:
    """(vendor, amount) of each row of the markdown table in a message's text."""
    rows = message.locator(".prose table tbody tr")
    return [(r.locator("td").nth(1).inner_text().strip(), r.locator("td").nth(2).inner_text().strip())
            for r in rows.all()]


def sort_by(table: Locator, header: str) -> None:
    table.locator("thead th").filter(has_text=re.compile(rf"^{re.escape(header)}$")).locator("div").click()


def charts(message: Locator) -> Locator:
    return message.locator(".js-plotly-plot")


def top_tick(chart: Locator) -> str:
    """The label of the highest category on a chart's y axis (as drawn, whatever the DOM order)."""
    ticks = chart.locator(".ytick")
    expect(ticks.first).to_be_visible()
    return min(((t.bounding_box()["y"], (t.text_content() or "").strip()) for t in ticks.all()))[1]


# ---------------------------------------------------------------------------------------------


def test_bills_as_a_sortable_grid_with_links_to_the_originals(browser_page: Page, page_errors: list[str],
                                                             screenshots: Path, tmp_path: Path, monkeypatch):
    page = browser_page
    with alice_signed_in(page, tmp_path, monkeypatch, screenshots) as server:
        today = answer_support.server_today()
        overdue_gas = (today - timedelta(days=6)).isoformat()  # Harbor Gas Co's $61.00

        # a bill pasted into the chat is filed with its original, due today
        ask(page, bill_text(vendor="Pacific Power", amount="133.40", due=today, invoice="INV-2026-0077"),
            "Filed a bill from")

        # 1. what's due this week: the bills in a grid under the answer, shown once (the offline
        # answer's markdown table is dropped in the browser when the grid shows the same rows)
        due = ask(page, "what's due this week?", "due this week")
        assert markdown_rows(due) == []
        week = grid(due)
        count = int(re.search(r"(\d+) bills due this week", due.inner_text()).group(1))
        expect(week.locator("tbody tr")).to_have_count(count)  # waits for the grid to render
        rows = sorted(zip(column(week, 2), column(week, 3)))
        assert ("Pacific Power", "$133.40") in rows, rows
        # the overdue gas bill is due six days ago: in this week (Monday to Sunday) only on a Sunday
        in_week = today - timedelta(days=6) >= today - timedelta(days=today.weekday())
        assert (("Harbor Gas Co", "$61.00") in rows) == in_week, (today, rows)
        expect(week.locator("thead th")).to_have_text(["#", "Vendor", "Amount", "Due", "Status"])
        shoot_whole(page, screenshots, "01-due-this-week", due)

        # 2. bills over $100: a grid of five, sortable by amount (text shown as money, sorted by value)
        big = grid(ask(page, "show my bills over $100", "5 bills"))
        expect(big.locator("tbody tr")).to_have_count(5)
        sort_by(big, "Amount")
        expect(big.locator("thead th").filter(has_text="Amount").locator("svg")).to_have_count(1)  # the arrow
        assert column(big, 3) == ["$120.50", "$133.40", "$140.00", "$325.00", "$1,200.00"]
        sort_by(big, "Amount")
        assert column(big, 3) == ["$1,200.00", "$325.00", "$140.00", "$133.40", "$120.50"]
        assert column(big, 2)[0] == "Maple Property Management"
        shoot_whole(page, screenshots, "02-over-100-largest-first", big.locator("xpath=ancestor::*[@data-step-type]"))

        # 3. everything unpaid: nine bills, the overdue gas bill among them; sorted by due date
        owe = ask(page, "what do I owe?", "9 bills")
        bills = grid(owe)
        expect(bills.locator("tbody tr")).to_have_count(9)
        harbor = bills.locator("tbody tr").filter(has_text="Harbor Gas Co")
        expect(harbor.locator("td")).to_have_text([re.compile(r"^\d+$"), "Harbor Gas Co", "$61.00", overdue_gas,
                                                   "overdue"])
        sort_by(bills, "Amount")
        amounts = column(bills, 3)
        assert amounts[0] == "$35.75" and amounts[-1] == "$1,200.00", amounts
        sort_by(bills, "Due")
        dues = column(bills, 4)
        assert dues == sorted(dues) and dues[0] == overdue_gas
        # the pasted bill's original, linked under the answer, opens for its owner
        link = owe.get_by_role("link", name=re.compile(r"^#\d+ Pacific Power$"))
        expect(link).to_have_count(1)
        expect(owe).to_contain_text("Originals:")
        href = link.get_attribute("href")
        assert re.fullmatch(r"/documents/\d+", href), href
        original = page.request.get(server.url + href)
        assert original.status == 200 and "INV-2026-0077" in original.text()
        expect(error_toasts(page)).to_have_count(0)
        shoot_whole(page, screenshots, "03-owed-by-due-date", owe)

        # 4. after a reload the resumed chat shows the grids again (fetched from the stored elements)
        page.reload()
        owe = assistant_messages(page).filter(has_text="9 bills")
        expect(grid(owe).locator("tbody tr")).to_have_count(9, timeout=LOAD_TIMEOUT)
        expect(grid(assistant_messages(page).filter(has_text="due this week")).locator("tbody tr")) \
            .to_have_count(count)
        expect(page.locator(".dataframe table")).to_have_count(3)
        expect(owe.get_by_role("link", name=re.compile(r"^#\d+ Pacific Power$"))).to_have_count(1)
        expect(error_toasts(page)).to_have_count(0)
        shoot_whole(page, screenshots, "04-resumed", owe)
        assert page_errors == []


def test_spending_chart_and_vendor_card(browser_page: Page, page_errors: list[str], screenshots: Path,
                                        tmp_path: Path, monkeypatch):
    page = browser_page
    today = answer_support.server_today()
    pasted = bill_text(vendor="Pacific Power", amount="133.40", due=today + timedelta(days=2), invoice="INV-2026-0077")
    with alice_signed_in(page, tmp_path, monkeypatch, screenshots, documents=[pasted]) as server:

        # 1. spending by month: a bar chart titled with the period, a bar per month
        monthly = ask(page, "spending by month this year", "this year")
        chart = charts(monthly)
        expect(chart).to_have_count(1)
        expect(chart.locator(".gtitle")).to_contain_text(f"Paid per month, {today.year}")
        expect(chart.locator("g.trace.bars").first).to_be_visible()
        expect(chart.locator(".xtick")).to_have_count(12)
        assert chart.locator("g.trace.bars path").count() >= 12
        shoot_whole(page, screenshots, "01-spending-by-month", monthly)

        # 2. per vendor: horizontal bars, the biggest on top
        vendors = ask(page, "which vendors cost the most this year?", "cost you the most")
        expect(charts(vendors).locator(".gtitle")).to_contain_text(f"Paid per vendor, {today.year}")
        assert top_tick(charts(vendors)) == "Maple Property Management"
        shoot_whole(page, screenshots, "02-spending-by-vendor", vendors)

        # 3. a vendor: the card (with its original's link) and a chart of its amounts, the spike marked
        profile = ask(page, "tell me about Pacific Power", "Pacific Power")
        card = profile.locator("#vendor-card")
        expect(card).to_be_visible()
        expect(card.get_by_test_id("vendor-name")).to_have_text("Pacific Power")
        expect(card).to_contain_text("utilities")
        expect(card).to_contain_text("Also known as PacifiCorp")
        expect(card).to_contain_text("monthly")
        expect(card.get_by_test_id("anomalies")).to_contain_text("$187.30")
        expect(card.get_by_test_id("anomalies")).to_contain_text("× the usual")
        original = card.get_by_test_id("documents").get_by_role("link")
        expect(original).to_have_count(1)
        assert page.request.get(server.url + original.get_attribute("href")).status == 200
        amounts = charts(profile)
        expect(amounts.locator(".gtitle")).to_contain_text("Pacific Power: amount per bill")
        expect(amounts.locator(".legendtext").filter(has_text="unusually high")).to_have_count(1)
        expect(amounts.locator(".textpoint").first).to_contain_text("×")
        expect(error_toasts(page)).to_have_count(0)
        shoot_whole(page, screenshots, "03-vendor-card", profile)

        # 4. a reload resumes the chat with its charts and the card
        page.reload()
        expect(page.locator("#vendor-card")).to_be_visible(timeout=LOAD_TIMEOUT)
        expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=LOAD_TIMEOUT)
        expect(page.locator(".js-plotly-plot .gtitle").first).to_contain_text("Paid per month")
        expect(error_toasts(page)).to_have_count(0)
        shoot_whole(page, screenshots, "04-resumed", page.locator("#vendor-card"))

        # 5. the same in the light theme (the screenshots show both are readable)
        page.evaluate("() => localStorage.setItem('vite-ui-theme', 'light')")
        page.reload()
        expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"), timeout=LOAD_TIMEOUT)
        expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=LOAD_TIMEOUT)
        expect(page.locator("#vendor-card")).to_be_visible()
        shoot_whole(page, screenshots, "05-light-theme", page.locator("#vendor-card"))
        assert page_errors == []
