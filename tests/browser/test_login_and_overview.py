"""Signing in and the overview, in Chromium: what each role sees, and a page the CSP leaves whole."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def main_nav(page: Page):
    return page.get_by_role("navigation", name="Main")


def assert_styled_and_scripted(page: Page) -> None:
    """Fail unless Bootstrap, our stylesheet and htmx all loaded (the CSP let our own files through)."""
    # A stylesheet that failed to load is still listed, with no rules.
    sheets = page.evaluate(
        "Array.from(document.styleSheets, (s) => [s.href.split('/static/')[1], s.cssRules.length > 0])"
    )
    assert sheets == [["vendor/bootstrap/css/bootstrap.min.css", True], ["schemaadmin/schemaadmin.css", True]]
    assert page.evaluate("typeof window.htmx?.version") == "string"


def test_anonymous_visitor_lands_on_the_login_page(page, console_errors, screenshot):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Sign in to SchemaAdmin")).to_be_visible()
    expect(page.get_by_test_id("database-label")).to_have_count(0)
    assert_styled_and_scripted(page)
    screenshot("login")
    assert console_errors == []


def test_wrong_password_shows_an_error(page, role_user, sign_in, console_errors, screenshot):
    role_user("dba", "dee")
    page.goto("/")
    sign_in("dee", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_label("Username")).to_have_value("dee")
    screenshot("login-wrong-password")
    assert console_errors == []


def test_dba_signs_in_to_the_overview(page, role_user, sign_in, console_errors, screenshot):
    role_user("dba", "dee")
    page.goto("/")
    sign_in("dee")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_test_id("database-label")).to_contain_text("PostgreSQL")
    estimates = page.get_by_test_id("table-estimates")
    expect(estimates).to_be_visible()
    for table in ("users", "conversations", "conversation_messages", "knowledge_base_chunks"):
        expect(estimates.get_by_role("cell", name=table, exact=True)).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    assert_styled_and_scripted(page)
    screenshot("overview-dba")
    assert console_errors == []


def test_support_user_sees_no_admin_link(page, role_user, sign_in, console_errors, screenshot):
    role_user("support", "sam")
    sign_in("sam")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    screenshot("overview-support")
    assert console_errors == []


def test_superuser_sees_the_admin_link(page, role_user, sign_in, console_errors, screenshot):
    role_user("superuser", "root")
    sign_in("root")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    main_nav(page).locator("summary", has_text="More").click()  # a less used page: under "More"
    expect(main_nav(page).get_by_role("link", name="Admin", exact=True)).to_have_attribute("href", "/admin/")
    screenshot("overview-superuser")
    assert console_errors == []


def test_user_without_a_role_gets_a_readable_403(page, role_user, sign_in, console_errors, screenshot):
    role_user(None, "nora")
    sign_in("nora")
    response = page.goto("/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
    expect(page.get_by_text("Ask an administrator to add you")).to_be_visible()
    assert_styled_and_scripted(page)
    screenshot("forbidden-no-role")
    # The page itself answers 403 (after sign-in, and again for goto): Chromium logs that; nothing else may fail.
    assert [e for e in console_errors if "403" not in e] == []


def test_console_watch_catches_a_csp_violation(page, console_errors):
    """Guard the guard: an inline script without the nonce is refused, and the tests above would see it."""
    page.goto("/accounts/login/")
    with page.expect_console_message(lambda message: message.type == "error"):
        page.evaluate(
            """() => {
              const script = document.createElement("script");
              script.textContent = "window.injected = true";
              document.head.append(script);
            }"""
        )
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in e or "CSP violation" in e for e in console_errors), console_errors


def test_the_overview_reads_on_a_phone(page, role_user, sign_in, console_errors, screenshot):
    """Every column of the row estimates keeps its header on screen, and the chart shows every table's label whole."""
    role_user("operator", "olga")
    page.set_viewport_size({"width": 360, "height": 800})
    sign_in("olga")
    estimates = page.get_by_test_id("table-estimates")
    expect(estimates).to_be_visible()
    # The table fits its box: no figure whose header is scrolled out of sight.
    fit = estimates.evaluate("t => [t.scrollWidth, t.closest('.table-responsive').clientWidth]")
    assert fit[0] <= fit[1], f"the estimates are {fit[0]} px wide in a {fit[1]} px box"
    for header in estimates.locator("th").all():
        box = header.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, header.inner_text()
    # A table ANALYZE has not reached yet says so, not "unknown".
    expect(estimates).not_to_contain_text("unknown")
    expect(estimates.get_by_text("not analyzed yet").first).to_be_visible()

    page.wait_for_function("() => window.Chart && Chart.getChart('index-size-chart')")
    chart = page.evaluate(
        """() => {
          const chart = Chart.getChart("index-size-chart");
          const y = chart.scales.y;
          const ctx = chart.ctx;
          ctx.save();
          ctx.font = Chart.helpers.toFont(y.options.ticks.font).string;
          const widths = y.ticks.map((t) => ctx.measureText(t.label).width);
          ctx.restore();
          return {labels: chart.data.labels.length, ticks: y.ticks.length, widest: Math.max(...widths),
                  room: y.width, left: y.left};
        }"""
    )
    assert chart["labels"] > 1
    assert chart["ticks"] == chart["labels"], "some tables have a bar without a label"
    assert chart["left"] >= 0 and chart["widest"] <= chart["room"], f"labels cut off: {chart}"
    screenshot("overview-phone")
    assert console_errors == []
