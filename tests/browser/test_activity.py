"""Live activity in Chromium: an operator watches a blocked session appear under its blocker; a DBA terminates it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.blocking import blocking_factory, poll  # noqa: F401 -- the fixture
from tests.planting import planter  # noqa: F401 -- the fixture

pytestmark = pytest.mark.browser

# The page refreshes every 5 s; on a busy machine a refresh may take a few more.
REFRESHED = 30_000


def test_operator_watches_a_blocked_session_appear_with_its_blocker(
    blocking_factory,  # noqa: F811
    page,
    role_user,
    sign_in,
    console_errors,
    screenshot,
):
    role_user("operator", "otto")
    page.goto("/activity/")
    sign_in("otto")
    expect(page).to_have_url(re.compile(r"/activity/$"))
    expect(page.get_by_test_id("refresh-state")).to_contain_text("Live")
    expect(page.get_by_test_id("no-blocking")).to_be_visible()

    blocking = blocking_factory()  # now, while the page is open
    tree = page.get_by_test_id("blocking-tree")
    blocker = tree.locator(f'li[data-pid="{blocking.blocker_pid}"]')
    expect(blocker).to_be_visible(timeout=REFRESHED)
    waiter = blocker.locator(f'li[data-pid="{blocking.waiter_pid}"]')
    expect(waiter).to_contain_text("waiting")
    # The operator reads the statement's shape, not its values, and is offered no way to signal it.
    expect(waiter).to_contain_text("SET balance = balance + ? WHERE id = ?")
    expect(page.get_by_text("balance + 1")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Terminate"))).to_have_count(0)
    row = page.locator(f'tr[data-pid="{blocking.waiter_pid}"]')
    expect(row.get_by_test_id("blocked-by")).to_have_text(f"blocked by {blocking.blocker_pid}")
    screenshot("activity-operator-blocked")

    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("refresh-state")).to_contain_text("Paused")
    expect(page.get_by_test_id("activity-live")).not_to_have_attribute("hx-trigger", re.compile("."))
    page.set_viewport_size({"width": 360, "height": 740})
    screenshot("activity-operator-blocked-phone")
    assert console_errors == []


def test_dba_terminates_the_blocker_and_sees_the_blocked_one_finish(
    blocking_factory,  # noqa: F811
    page,
    role_user,
    sign_in,
    console_errors,
    screenshot,
):
    blocking = blocking_factory()
    role_user("dba", "dora")
    page.goto("/activity/")
    sign_in("dora")
    blocker = page.get_by_test_id("blocking-tree").locator(f'li[data-pid="{blocking.blocker_pid}"]')
    expect(blocker).to_be_visible()
    expect(blocker).to_contain_text("balance = balance - 1 WHERE id = 1")
    screenshot("activity-dba-blocked")

    blocker.get_by_role("link", name=f"Terminate pid {blocking.blocker_pid}").first.click()
    expect(page).to_have_url(re.compile(rf"/activity/terminate\?pid={blocking.blocker_pid}$"))
    expect(page.get_by_test_id("query")).to_contain_text("UPDATE")
    expect(page.get_by_test_id("query")).to_contain_text("balance = balance - 1 WHERE id = 1")
    expect(page.get_by_test_id("consequence")).to_contain_text("rolled back")
    screenshot("activity-dba-confirm-terminate")
    page.get_by_role("button", name=f"Terminate process {blocking.blocker_pid}").click()

    expect(page).to_have_url(re.compile(r"/activity/$"))
    expect(page.locator(".messages")).to_contain_text(f"Process {blocking.blocker_pid} terminated")
    poll(blocking.waiter_finished, what="the waiter to get its row")
    # The page follows: the blocker is gone, and the blocked session finished its statement and sits idle.
    expect(page.locator(f'tr[data-pid="{blocking.blocker_pid}"]')).to_have_count(0, timeout=REFRESHED)
    expect(page.get_by_test_id("no-blocking")).to_be_visible(timeout=REFRESHED)
    waiter = page.locator(f'tr[data-pid="{blocking.waiter_pid}"]')
    expect(waiter).to_have_count(0, timeout=REFRESHED)  # idle now: the default list shows sessions at work
    page.get_by_test_id("toggle-all").click()
    expect(waiter.locator("td").nth(1)).to_have_text("idle")
    expect(waiter.get_by_test_id("blocked-by")).to_have_count(0)
    assert blocking.outcome == {"done": True}
    screenshot("activity-dba-after-terminate")
    assert console_errors == []


def test_a_pause_is_not_undone_by_a_refresh_answered_while_it_was_on_its_way(page, role_user, sign_in, settings):
    """A refresh that lands while Pause is on its way must not swap the live page back in and lose the pause."""
    settings.SCHEMAADMIN = {**getattr(settings, "SCHEMAADMIN", {}), "ACTIVITY_REFRESH_SECONDS": 1}
    role_user("operator", "otto")
    page.goto("/activity/")
    sign_in("otto")
    expect(page.get_by_test_id("refresh-state")).to_contain_text("Live")
    page.evaluate(
        """() => { window.answeredPolls = 0;
        document.addEventListener("htmx:afterRequest", (e) => {
          if (e.detail.requestConfig.elt.id === "activity-live") window.answeredPolls += 1; }); }"""
    )
    held = []
    page.route(re.compile(r"/activity/\?paused=on"), lambda route: held.append(route))  # answered when released
    page.get_by_test_id("pause").click()
    page.wait_for_function("() => window.answeredPolls >= 2")  # refreshes were answered meanwhile
    assert len(held) == 1
    held[0].continue_()
    expect(page.get_by_test_id("refresh-state")).to_contain_text("Paused")
    expect(page.get_by_test_id("activity-live")).not_to_have_attribute("hx-trigger", re.compile("."))


def test_cancel_and_terminate_are_in_view_on_a_laptop(
    blocking_factory,  # noqa: F811
    page,
    role_user,
    sign_in,
):
    blocking = blocking_factory()
    row = _waiter_row_for_a_dba(page, role_user, sign_in, blocking, width=1280)
    for name in (f"Cancel pid {blocking.waiter_pid}", f"Terminate pid {blocking.waiter_pid}"):
        row.get_by_role("link", name=name).scroll_into_view_if_needed()
        expect(row.get_by_role("link", name=name)).to_be_in_viewport(ratio=1)
    # Without scrolling the table sideways: its scroll box stays at its left edge.
    assert page.get_by_test_id("sessions").evaluate("t => t.parentElement.scrollLeft") == 0


def test_sessions_are_cards_on_a_phone(blocking_factory, page, role_user, sign_in, screenshot):  # noqa: F811
    blocking = blocking_factory()
    row = _waiter_row_for_a_dba(page, role_user, sign_in, blocking, width=360)
    expect(row).to_be_visible()
    # Every cell of a session inside the screen (no table wider than it), labelled with its column's header.
    rights = row.locator("td").evaluate_all("cells => cells.map((td) => td.getBoundingClientRect().right)")
    assert rights and max(rights) <= 360, rights
    expect(row.locator("td[data-label='Waiting for']")).to_contain_text("Lock")
    for name in (f"Cancel pid {blocking.waiter_pid}", f"Terminate pid {blocking.waiter_pid}"):
        expect(row.get_by_role("link", name=name)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot("activity-phone")


def _waiter_row_for_a_dba(page, role_user, sign_in, blocking, *, width):
    """Open every session's row as a new DBA at this window width; return the blocked session's row."""
    role_user("dba", "dora")
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/activity/?all=on")
    sign_in("dora")
    return page.get_by_test_id("sessions").locator(f'tr[data-pid="{blocking.waiter_pid}"]')
