"""Real-browser fixtures: Debian's Chromium driven by Playwright's sync API.

Never run `playwright install`: the tests use the system Chromium at `CHROMIUM` (override with the
`CHROMIUM_PATH` environment variable). Like PostgreSQL in the shared fixtures, a missing browser is a
failure, not a skip.

Screenshots go to `$BROWSER_ARTIFACTS_DIR/<test name>/` when that variable is set, else to the
test's `tmp_path`. A failing test also leaves `failure.png`, `failure.html` and the server log there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The Chainlit UI asks for Google Fonts and a KaTeX stylesheet from a CDN; there is no network here,
# so anything not served by the app under test is refused at once instead of waiting on DNS.
_NOT_LOCAL = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/])")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def artifacts_dir(request, tmp_path) -> Path:
    base = os.environ.get("BROWSER_ARTIFACTS_DIR")
    path = Path(base) / re.sub(r"[^\w.-]+", "_", request.node.name) if base else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/test-services.sh (never `playwright install`)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught JavaScript errors of `browser_page`, in order."""
    return []


@pytest.fixture
def browser_page(request, browser: Browser, artifacts_dir: Path, page_errors: list[str]) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies), 1280x900, en-US, UTC."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(15_000)
    context.route(_NOT_LOCAL, lambda route: route.abort())
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            try:
                page.screenshot(path=str(artifacts_dir / "failure.png"))
                (artifacts_dir / "failure.html").write_text(page.content())
            except Exception:  # the page may be gone; the report matters more
                pass
        context.close()


def shoot(page: Page, artifacts_dir: Path, name: str) -> Path:
    """A screenshot of the viewport; CSS fade-ins (the welcome screen's) are finished first."""
    path = artifacts_dir / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path
