"""A DBA applies a pending migration from the schema page in Chromium, and watches the worker run it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TARGET = "schema_fixtures.0003_remove_widget_note"


def test_dba_reviews_and_applies_pending_migrations(
    fixtures_pending, worker, live_server, page, role_user, sign_in, console_errors, screenshot
):
    role_user("dba", "dana")
    page.goto("/schema/")
    sign_in("dana")
    expect(page).to_have_url(re.compile(r"/schema/$"))
    expect(page.get_by_text("schema_fixtures.0002_widget_name_index").first).to_be_visible()
    screenshot("schema-pending")
    # On a phone each migration is a card as wide as the list: as a table only its name showed, the rest scrolled.
    page.set_viewport_size({"width": 360, "height": 800})
    expect(page.locator("#migration-list details[open] tbody tr").first).to_be_visible()
    scrolled = page.evaluate(
        """() => Array.from(document.querySelectorAll("#migration-list .table-responsive"))
             .filter(box => box.scrollWidth > box.clientWidth).map(box => box.closest("details").dataset.app)"""
    )
    assert scrolled == [], scrolled
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_test_id("apply-link").click()
    expect(page).to_have_url(re.compile(r"/schema/apply/$"))
    plan = page.get_by_test_id("plan")
    expect(plan).to_contain_text("schema_fixtures.0002_widget_name_index")
    expect(plan).to_contain_text("require-concurrent-index-creation")
    expect(plan.get_by_test_id("sql").first).to_contain_text('CREATE INDEX "widget_name"')
    screenshot("schema-apply-confirm")
    # Migration names wrap after a dot or an underscore on a phone rather than widening the page.
    page.set_viewport_size({"width": 360, "height": 800})
    page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth")
    screenshot("schema-apply-confirm-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    # A destructive plan refuses to go without the target's name.
    page.get_by_role("button", name="Apply 2 migrations").click()
    # Said on the field, which takes the focus and is described by the sentence (not at the top of a long page).
    typed = page.get_by_label("Type the target migration to confirm")
    expect(typed).to_be_focused()
    expect(typed).to_have_accessible_description(re.compile(rf"Type {re.escape(TARGET)} to confirm"))
    screenshot("schema-apply-target-missing")
    typed.fill(TARGET)
    page.get_by_role("button", name="Apply 2 migrations").click()

    expect(page).to_have_url(re.compile(r"/schema/applies/\d+/$"))
    expect(page.get_by_test_id("state")).to_have_text("Succeeded", timeout=60_000)  # htmx polls the worker's progress
    expect(page.get_by_test_id("log")).to_contain_text(f"Applied {TARGET}")
    # The dropped column was copied first, and the log says where and how to put it back.
    expect(page.get_by_test_id("log")).to_contain_text("Archived schema_fixtures_widget.note")
    expect(page.get_by_test_id("log")).to_contain_text("To restore: Reverse schema_fixtures.0003_remove_widget_note")
    screenshot("schema-apply-done")

    page.goto("/schema/")
    expect(page.get_by_test_id("all-applied")).to_be_visible()
    expect(page.get_by_test_id("apply-link")).to_have_count(0)

    # The archive is listed with its size; dropping it needs its name typed.
    archives = page.get_by_test_id("archives")
    row = archives.locator("[data-archive]")
    expect(row).to_have_count(1)
    name = row.get_attribute("data-archive")
    expect(row).to_contain_text("schema_fixtures_widget.note")
    expect(row.get_by_test_id("archive-rows")).to_have_text("0 rows")  # the fixture table is empty here
    archives.scroll_into_view_if_needed()
    screenshot("schema-archives")
    page.set_viewport_size({"width": 360, "height": 780})
    screenshot("schema-archives-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    row.get_by_placeholder("type its name to drop it").fill("not it")
    row.get_by_role("button", name="Drop").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Type “{name}” exactly to drop it.")
    expect(archives.locator("[data-archive]")).to_have_count(1)
    archives.locator("[data-archive]").get_by_placeholder("type its name to drop it").fill(name)
    archives.locator("[data-archive]").get_by_role("button", name="Drop").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Dropped the archive schemaadmin_archive.{name}.")
    expect(page.get_by_test_id("no-archives")).to_be_visible()
    # The only error is the refused first submit's 400.
    assert console_errors == [
        f"HTTP 400: {live_server.url}/schema/apply/",
        "Failed to load resource: the server responded with a status of 400 (Bad Request)",
    ]
