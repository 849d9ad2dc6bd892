"""Chromium (Debian's /usr/bin/chromium) driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect, sync_playwright

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls there unless told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"

# How long an action, a wait or an assertion waits for the page, in milliseconds. Many follow a click whose request
# does server work, which on a busy machine (two CPUs, sometimes two test runs) can take several seconds. expect()
# does not follow a context's default timeout (its own is 5 s), so it is set here once for every browser test.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

# Let a security-policy violation say so in the console even where Chromium would stay quiet.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`);
});
"""


# Package scope: while Playwright runs, its event loop counts as running in this thread, and Django then keeps
# a separate database connection per context; tests outside this package should not inherit that.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        # A plain launch runs on a new, empty profile in a temporary directory.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Return the list the page fixture fills with console errors, page errors and failed requests."""
    return []


@pytest.fixture
def browser_zone() -> str | None:
    """Return the time zone the page's browser is in: the machine's, unless a test parametrizes browser_zone."""
    return None


@pytest.fixture
def page(browser, live_server, transactional_db, roles, settings, console_errors, browser_zone) -> Iterator[Page]:
    """Return a page in a new browser context whose relative URLs go to the live server."""
    # The live server serves static files from the finders, which know plain names, not hashed ones.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, timezone_id=browser_zone
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(_REPORT_CSP_VIOLATIONS)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    def on_response(response: Response) -> None:
        # Chromium's own "Failed to load resource" line does not name the URL; this one does.
        if response.status >= 400:
            console_errors.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))

    def on_request_failed(request: Request) -> None:
        # net::ERR_ABORTED: the page itself dropped the request, e.g. the favicon still loading when a test navigates
        # on. A request the server or the network failed carries another error (and a status >= 400 is above).
        if request.failure != "net::ERR_ABORTED":
            console_errors.append(f"request failed: {request.url} ({request.failure})")

    page.on("requestfailed", on_request_failed)
    yield page
    context.close()


@pytest.fixture
def sign_in(page) -> Callable[..., None]:
    """Return sign_in(username, password=PASSWORD): fill and submit the login form from wherever the page is."""

    def sign_in_as(username: str, password: str = PASSWORD) -> None:
        if "/accounts/login/" not in page.url:
            page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

    return sign_in_as


@pytest.fixture
def screenshot(page, request) -> Callable[..., Path]:
    """Return screenshot(name=test name): save a full-page PNG under test-artifacts/screenshots/."""

    def save(name: str | None = None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name or re.sub(r'[^\w.-]+', '-', request.node.name)}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save
