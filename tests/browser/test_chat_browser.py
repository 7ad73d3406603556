"""End to end in a real Chromium: sign in, paste a bill, ask what's due, find the chat again.

The app runs as `assistant serve` on SQLite with the offline provider (see `tests.conftest.start_server`);
the browser is Debian's Chromium (see `tests/browser/conftest.py`). Screenshots of each stage are
written to `$BROWSER_ARTIFACTS_DIR/<test name>/` (else the test's tmp_path).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import shoot
from tests.conftest import LiveServer, start_server
from tests.factories import bill_text

pytestmark = pytest.mark.browser

TURN_TIMEOUT = 30_000  # ms: one agent turn, offline provider, including the streamed answer
LOAD_TIMEOUT = 30_000  # ms: first page load / sign-in / resuming a thread


def sqlite_server(tmp_path: Path) -> LiveServer:
    data = tmp_path / "data"
    return start_server(data, f"sqlite+aiosqlite:///{data / 'assistant.db'}")


def keep_server_log(server: LiveServer, artifacts_dir: Path) -> None:
    (artifacts_dir / "server.log").write_text(server.log())


def error_toasts(page: Page) -> Locator:
    return page.locator("[data-sonner-toast][data-type='error']")


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/login$"), timeout=LOAD_TIMEOUT)
    page.locator("#email").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign In").click()


def assistant_messages(page: Page) -> Locator:
    return page.locator("[data-step-type='assistant_message']")


def tool_step(page: Page, label: str) -> Locator:
    return page.locator("[data-step-type='tool']").filter(has_text=label)


def send(page: Page, text: str) -> None:
    """Type `text` into the composer and send it with the send button."""
    box = page.locator("#chat-input")
    expect(box).to_be_enabled()
    box.fill(text)
    submit = page.locator("#chat-submit")
    expect(submit).to_be_enabled()
    submit.click()
    expect(box).to_have_value("")


def answer_containing(page: Page, text: str) -> Locator:
    """The assistant message containing `text`, once its turn has finished."""
    answer = assistant_messages(page).filter(has_text=text)
    expect(answer).to_have_count(1, timeout=TURN_TIMEOUT)
    # the footer is the last streamed token; the stop button goes when the turn ends
    expect(answer).to_contain_text("Answered by offline", timeout=TURN_TIMEOUT)
    expect(page.locator("#stop-button")).to_have_count(0, timeout=TURN_TIMEOUT)
    return answer


def test_file_a_bill_ask_whats_due_and_resume_from_history(browser_page: Page, page_errors: list[str],
                                                           artifacts_dir: Path, tmp_path: Path):
    page = browser_page
    server = sqlite_server(tmp_path)
    try:
        # 1. sign in through the login form
        sign_in(page, server.url, "alice", "wonderland")
        expect(page.locator("#chat-input")).to_be_visible(timeout=LOAD_TIMEOUT)
        expect(page.locator("#starters").get_by_role("button", name="What's due this week?")).to_be_visible()
        expect(page.locator("#thread-history")).to_contain_text("No threads found")
        shoot(page, artifacts_dir, "01-signed-in")

        # 2. paste a bill due today (UTC, the app's timezone): it is filed, with the tool call shown as a step
        bill = bill_text(vendor="Pacific Power", amount="120.50", due=datetime.now(timezone.utc).date())
        send(page, bill)
        expect(page.locator("[data-step-type='user_message']").filter(has_text="Invoice number: INV-2026-0042")) \
            .to_be_visible()
        filed = answer_containing(page, "Filed a bill from")
        expect(filed).to_contain_text("Pacific Power")
        expect(filed).to_contain_text("$120.50")
        expect(filed).not_to_contain_text("**")  # markdown rendered, not shown
        filing = tool_step(page, "Filing the bill")
        expect(filing).to_be_visible()
        # the step sits above the answer it led to (it once showed below it: no parent_id)
        assert filing.evaluate("(step, answer) => !!(step.compareDocumentPosition(answer) & 4)",
                               filed.element_handle()), "the tool step is shown after the answer"
        expect(filing).to_contain_text("Used")
        # the step opens to show what the tool was given and what it answered
        filing.get_by_role("button", name=re.compile("Filing the bill")).click()
        expect(filing).to_contain_text("paste-1", timeout=5_000)  # input: the pasted bill's attachment id
        expect(filing).to_contain_text(re.compile(r'"amount":\s*"120\.50"'))  # output: the filed bill
        expect(error_toasts(page)).to_have_count(0)
        shoot(page, artifacts_dir, "02-bill-filed")
        # the first message made a thread, and the UI moved to its address
        expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]{36}$"))
        thread_url = page.url

        # 3. ask what's due this week: a markdown table with the bill
        send(page, "what's due this week?")
        due = answer_containing(page, "due this week")
        expect(due).to_contain_text("1 bill due this week, $120.50 in total")
        table = due.locator("table")
        expect(table).to_be_visible()
        expect(table.get_by_role("columnheader", name="Vendor")).to_be_visible()
        row = table.get_by_role("row").filter(has_text="Pacific Power")
        expect(row).to_have_count(1)
        expect(row.get_by_role("cell", name="$120.50")).to_be_visible()
        expect(tool_step(page, "Looking up bills")).to_be_visible()
        expect(error_toasts(page)).to_have_count(0)
        shoot(page, artifacts_dir, "03-due-this-week")

        # 4a. reload: the thread's URL resumes it
        page.reload()
        expect(assistant_messages(page).filter(has_text="Filed a bill from")).to_be_visible(timeout=LOAD_TIMEOUT)
        expect(assistant_messages(page).filter(has_text="due this week").locator("table")).to_be_visible()
        shoot(page, artifacts_dir, "04-reloaded")

        # 4b. from a new, empty chat, find the conversation in the history sidebar and open it
        page.goto(server.url)
        expect(page.locator("#welcome-screen")).to_be_visible(timeout=LOAD_TIMEOUT)
        expect(assistant_messages(page)).to_have_count(0)
        entry = page.locator("#thread-history a[href^='/thread/']").filter(has_text="Pacific Power")
        expect(entry).to_have_count(1, timeout=LOAD_TIMEOUT)
        expect(entry).to_have_attribute("href", thread_url.removeprefix(server.url))
        shoot(page, artifacts_dir, "05-history-sidebar")
        entry.click()
        expect(page).to_have_url(thread_url, timeout=LOAD_TIMEOUT)
        filed = assistant_messages(page).filter(has_text="Filed a bill from")
        expect(filed).to_be_visible(timeout=LOAD_TIMEOUT)
        expect(filed).to_contain_text("Pacific Power")
        expect(filed).to_contain_text("$120.50")
        expect(page.locator("[data-step-type='user_message']").filter(has_text="Pacific Power")).to_be_visible()
        expect(page.locator("[data-step-type='user_message']").filter(has_text="what's due this week?")) \
            .to_be_visible()
        expect(tool_step(page, "Filing the bill")).to_be_visible()
        expect(assistant_messages(page).filter(has_text="due this week").locator("table")).to_be_visible()
        expect(error_toasts(page)).to_have_count(0)
        filed.scroll_into_view_if_needed()
        shoot(page, artifacts_dir, "06-resumed-from-history")

        # the resumed conversation carries on
        send(page, "Who do I pay?")
        vendors = answer_containing(page, "You have 1 vendor")
        expect(vendors.locator("table").get_by_role("cell", name="Pacific Power")).to_be_visible()
        expect(error_toasts(page)).to_have_count(0)
        shoot(page, artifacts_dir, "07-resumed-chat-continues")

        assert page_errors == []
    except BaseException:
        keep_server_log(server, artifacts_dir)
        raise
    finally:
        server.stop()


def test_wrong_password_stays_on_the_login_page(browser_page: Page, page_errors: list[str],
                                                artifacts_dir: Path, tmp_path: Path):
    page = browser_page
    server = sqlite_server(tmp_path)
    try:
        sign_in(page, server.url, "alice", "not-her-password")
        expect(page.locator("form").get_by_role("alert")).to_contain_text("Unable to sign in", timeout=LOAD_TIMEOUT)
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.get_by_role("button", name="Sign In")).to_be_visible()
        expect(page.locator("#chat-input")).to_have_count(0)
        shoot(page, artifacts_dir, "01-wrong-password")
        # nothing was signed in behind the scenes: the app still sends us back to the login page
        page.goto(server.url)
        expect(page).to_have_url(re.compile(r"/login$"), timeout=LOAD_TIMEOUT)
        expect(page.locator("#email")).to_be_visible()
        expect(page.locator("#chat-input")).to_have_count(0)
        assert "sign-in refused" in server.log()
        assert page_errors == []
    except BaseException:
        keep_server_log(server, artifacts_dir)
        raise
    finally:
        server.stop()
