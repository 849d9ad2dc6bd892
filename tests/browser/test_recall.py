"""A DBA checks an HNSW index's recall from its page in Chromium, and watches the worker measure it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.planting import planter  # noqa: F401 -- the fixture
from tests.recall_data import plant_items
from tests.worker import worker  # noqa: F401 -- the fixture

pytestmark = pytest.mark.browser


@pytest.fixture
def items(planter, transactional_db):  # noqa: F811
    return plant_items(planter)


def test_dba_checks_recall_and_reads_the_ladder(items, worker, page, role_user, sign_in, console_errors, screenshot):  # noqa: F811
    role_user("dba", "dana")
    page.goto(f"/indexes/{items.schema}.items_ivf/")
    sign_in("dana")
    panel = page.get_by_test_id("recall-panel")
    expect(panel).to_contain_text("No recall check yet.")

    # Bad input comes back as the form with the reason, and nothing is queued.
    panel.get_by_label("Samples").fill("1000000000")
    panel.get_by_role("button", name="Check recall").click()
    expect(page.get_by_test_id("error-samples")).to_contain_text("less than or equal to 1000")
    # The message under one field does not push the others' boxes out of line.
    tops = {
        round(page.get_by_label(label, exact=True).bounding_box()["y"]) for label in ("k", "Samples", "Target recall")
    }
    assert len(tops) == 1, tops

    page.get_by_label("Samples").fill("50")
    page.get_by_role("button", name="Check recall").click()
    expect(page).to_have_url(re.compile(r"/recall/\d+/$"))
    expect(page.get_by_test_id("state")).to_have_text("Succeeded", timeout=60_000)  # htmx polls every 2 s
    expect(page.get_by_test_id("recall")).to_have_text(re.compile(r"^0\.\d{3}$"))
    expect(page.get_by_test_id("ladder").locator("tbody tr")).to_have_count(6)  # probes 1, 2, 4, 8, 16, 20
    expect(page.get_by_test_id("recommended")).to_be_visible()
    expect(page.get_by_test_id("recommendation")).to_contain_text("Set ivfflat.probes = ")
    screenshot("recall-check-done")
    # In the dark scheme the recommended row is the scheme's dark green, not Bootstrap's light one (#d1e7dd).
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.bsTheme === 'dark'")
    cell = page.get_by_test_id("recommended").locator("td").first
    background = cell.evaluate("el => getComputedStyle(el).boxShadow + ' ' + getComputedStyle(el).backgroundColor")
    assert "209, 231, 221" not in background, background
    page.emulate_media(color_scheme="light")

    page.get_by_role("link", name=f"{items.schema}.items_ivf").click()
    expect(page.get_by_test_id("latest-recall")).to_contain_text("recall@10")
    # Only the refused form answered 400 (as Playwright and Chromium each report it).
    assert [e for e in console_errors if "400" not in e] == [], console_errors
