"""Every findings count a person sees (overview, /indexes/, /tables/) opens a list with exactly that many rows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.planting import plant_findings, planter  # noqa: F401 -- the fixture

pytestmark = pytest.mark.browser

PER_PAGE = 50


@pytest.fixture
def planted(planter):  # noqa: F811
    return plant_findings(planter)


# The findings are read live: autovacuum analyzing a table or a session ending can change them between two
# requests. Two readings that disagree are read again, up to this many times; readings that never agree fail.
ATTEMPTS = 3


def _count(page: Page, test_id: str) -> int:
    return int(re.search(r"\d+", page.get_by_test_id(test_id).inner_text()).group())


def follow_count(page: Page, source: str, test_id: str, severity: str) -> int:
    """Open source, follow one severity's count to its list, check the list has that many rows; return the count."""
    total = page.get_by_test_id("findings-total")
    for _ in range(ATTEMPTS):
        page.goto(source)
        count = _count(page, test_id)
        page.get_by_test_id(test_id).click()
        expect(page).to_have_url(re.compile(rf"/findings/\?.*severity={severity}"))
        try:
            # Waits for the list (on /findings/ htmx swaps it in after the URL changes).
            expect(total).to_have_text(str(count))
        except AssertionError:
            continue  # the findings moved between the two requests: read both again
        break
    else:
        pytest.fail(f"{source}: the {severity} count ({count}) and its list ({total.inner_text()}) never agreed")
    listed = page.locator("[data-testid=findings-table] tbody tr[data-code]")
    expect(listed).to_have_count(min(count, PER_PAGE))  # the same response as the total
    assert set(listed.evaluate_all("rows => rows.map(r => r.dataset.severity)")) <= {severity}
    return count


def follow_each_count(page: Page, source: str) -> dict[str, int]:
    """Follow each severity's count on source to its list (follow_count); return severity -> count."""
    return {s: follow_count(page, source, f"findings-link-{s}", s) for s in ("critical", "warning", "info")}


def counts(page: Page, source: str, test_id: str = "findings-link-{}") -> dict[str, int]:
    page.goto(source)
    return {s: _count(page, test_id.format(s)) for s in ("critical", "warning", "info")}


def agreeing_counts(page: Page, *sources: tuple[str, str]) -> dict[str, int]:
    """Return the counts by severity that every (page, test id pattern) shows, read one right after another."""
    for _ in range(ATTEMPTS):
        read = [counts(page, source, test_id) for source, test_id in sources]
        if all(r == read[0] for r in read):
            return read[0]
    pytest.fail(f"the counts of {[source for source, _ in sources]} never agreed: {read}")


def test_each_findings_count_opens_a_list_of_that_many(planted, page, role_user, sign_in, console_errors, screenshot):
    role_user("operator", "olga")
    sign_in("olga")
    overview = follow_each_count(page, "/")
    assert overview["critical"] >= 1 and overview["warning"] >= 2
    follow_each_count(page, "/tables/")
    # Every finding is about a table or its index; the findings page's own counts are the same lists.
    agreeing_counts(page, ("/", "findings-link-{}"), ("/tables/", "findings-link-{}"), ("/findings/", "count-{}"))
    by_index = follow_each_count(page, "/indexes/")
    assert by_index["critical"] >= 1 and by_index["warning"] >= 1
    screenshot("findings-from-indexes")

    # The findings page's own counts by severity open the same lists.
    for severity, count in counts(page, "/findings/", "count-{}").items():
        if count:
            follow_count(page, "/findings/", f"count-{severity}", severity)

    # The filters narrow the same list in place (htmx) and the URL keeps them.
    page.goto("/findings/")
    page.get_by_label("Code").select_option("duplicate_index")
    expect(page).to_have_url(re.compile(r"code=duplicate_index"))
    expect(page.locator(f'tr[data-object="{planted.schema}.docs_x_b"]')).to_be_visible()
    others = page.locator("[data-testid=findings-table] tbody tr[data-code]:not([data-code=duplicate_index])")
    expect(others).to_have_count(0)
    page.set_viewport_size({"width": 360, "height": 800})
    # On a phone each finding is a card: every cell inside the screen, each after the first named by its column.
    cells = page.locator("[data-testid=findings-table] tbody tr[data-code] td")
    rights = cells.evaluate_all("cells => cells.map((td) => td.getBoundingClientRect().right)")
    assert rights and max(rights) <= 360, rights
    labels = page.locator("[data-testid=findings-table] tbody tr[data-code] td:not(:first-child)").evaluate_all(
        "cells => cells.map((td) => getComputedStyle(td, '::before').content)"
    )
    assert labels and all(label not in ("none", "normal", '""') for label in labels), labels
    assert '"Finding "' in labels  # the header's words, less its sort arrow
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot("findings-phone")
    assert console_errors == []


@pytest.fixture
def framework_finding(transactional_db):
    """Plant a duplicate index on Django's session table (a framework table); drop it at the end."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX planted_session_expiry ON public.django_session (expire_date)")
    yield "public.django_session"
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS public.planted_session_expiry")


def test_whose_tables_hides_the_frameworks_findings_until_asked(
    framework_finding, page, role_user, sign_in, settings, console_errors, screenshot
):
    settings.SCHEMAADMIN = {**getattr(settings, "SCHEMAADMIN", {}), "HIDE_FRAMEWORK_TABLES": True}
    role_user("operator", "olga")
    sign_in("olga")
    page.goto("/findings/?per_page=200")
    session_rows = page.locator("[data-testid=findings-table] tbody tr[data-code=duplicate_index]").filter(
        has_text=framework_finding
    )
    expect(page.get_by_test_id("findings-table")).to_be_visible()
    expect(session_rows).to_have_count(0)  # hidden by default: HIDE_FRAMEWORK_TABLES

    whose = page.get_by_label("Whose tables")
    whose.select_option("framework")
    expect(page).to_have_url(re.compile(r"scope=framework"))
    expect(session_rows).to_have_count(1)
    expect(page.locator("[data-testid=findings-table] tbody tr[data-code]")).not_to_have_count(0)
    screenshot("findings-framework-tables")
    whose.select_option("product")
    expect(page).to_have_url(re.compile(r"scope=product"))
    expect(session_rows).to_have_count(0)

    # Without the setting every table's findings are listed, the framework's among them, until the filter narrows.
    settings.SCHEMAADMIN = {**settings.SCHEMAADMIN, "HIDE_FRAMEWORK_TABLES": False}
    page.goto("/findings/?per_page=200")
    expect(session_rows).to_have_count(1)
    page.get_by_label("Whose tables").select_option("product")
    expect(session_rows).to_have_count(0)
    assert console_errors == []
