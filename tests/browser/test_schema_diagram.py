"""The live schema in Chromium: Mermaid draws the diagram under our CSP, and the drift page loads its findings."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from schemaadmin.models import ACTIVE_STATES, DriftCheck
from tests.blocking import holding
from tests.planting import planter  # noqa: F401 -- the fixture
from tests.worker import wait_for

pytestmark = pytest.mark.browser


def _sized_frame_height(page) -> float:
    """Return the diagram frame's height once the page has sized it to the drawing."""
    # The frame marks the drawing rendered, then posts its height; the page handles that message later, so the
    # frame's height is read only once the page has set it.
    page.wait_for_function("() => document.getElementById('schema-diagram-frame').style.height !== ''")
    return page.locator("#schema-diagram-frame").evaluate("el => el.getBoundingClientRect().height")


def test_operator_sees_the_schema_diagram_drawn_without_csp_violations(
    page, role_user, sign_in, console_errors, screenshot
):
    role_user("operator", "olga")
    page.goto("/schema/tables/?q=conversation")
    sign_in("olga")
    expect(page).to_have_url(re.compile(r"/schema/tables/\?q=conversation$"))

    # Mermaid needs inline styles, so it draws in a document of its own framed by the page.
    diagram = page.frame_locator("#schema-diagram-frame").get_by_test_id("schema-diagram")
    expect(diagram).to_have_attribute("data-rendered", "true", timeout=30_000)
    svg = diagram.locator("svg")
    expect(svg).to_have_count(1)
    # Entities are labelled with their tables, and the relation's line carries the foreign key's column.
    expect(svg).to_contain_text("public.conversations")
    expect(svg).to_contain_text("public.conversation_messages")
    expect(svg).to_contain_text("conversation_id")
    box = svg.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    # Mermaid's own styles took effect in the frame: entity boxes are filled, not the browser's default black.
    fill = svg.locator(".node path, .node rect").first.evaluate("el => getComputedStyle(el).fill")
    assert fill not in ("rgb(0, 0, 0)", "none", ""), fill
    # The page sized the frame to the drawing (a message from the frame, applied through the CSSOM).
    frame_height = _sized_frame_height(page)
    assert frame_height >= min(box["height"], 0.85 * 800) - 40, (frame_height, box)

    expect(page.locator('[data-table="public.conversations"]')).to_contain_text("user_id")
    screenshot("schema-diagram")
    # The scheme chosen on the page reaches the framed diagram at once, both ways (it stayed as it was until a reload).
    framed = page.frame_locator("#schema-diagram-frame").locator("html")
    scheme = page.locator("html").get_attribute("data-bs-theme")
    toggle = page.get_by_role("button", name=re.compile("Colour scheme"))
    for _ in range(3):
        toggle.click()
        scheme = page.locator("html").get_attribute("data-bs-theme")
        expect(framed).to_have_attribute("data-bs-theme", scheme)
    # Opened in a tab of its own, the diagram keeps its way back to the schema page, with the same filter.
    page.goto("/schema/tables/diagram/?q=conversation")
    back = page.get_by_test_id("diagram-back")
    expect(back).to_be_visible()
    back.click()
    expect(page).to_have_url(re.compile(r"/schema/tables/\?q=conversation$"))
    assert console_errors == []


def test_the_whole_schema_diagram_is_drawn_at_a_readable_size_in_a_scrolling_frame(
    page, role_user, sign_in, console_errors
):
    role_user("operator", "olga")
    page.goto("/schema/tables/")
    sign_in("olga")
    diagram = page.frame_locator("#schema-diagram-frame").get_by_test_id("schema-diagram")
    expect(diagram).to_have_attribute("data-rendered", "true", timeout=30_000)
    svg = diagram.locator("svg")
    # Some twenty tables side by side are wider than the page: the frame scrolls rather than Mermaid shrinking
    # the drawing (and its table names) to the frame's width.
    scale = svg.evaluate("el => el.getBoundingClientRect().width / el.viewBox.baseVal.width")
    assert scale > 0.95, scale
    label = svg.get_by_text("public.conversation_messages", exact=True).first
    font_px = label.evaluate("el => el.getBoundingClientRect().height")
    assert font_px >= 10, font_px

    # One table makes a small drawing, and the frame shrinks to it instead of leaving an empty band below.
    page.goto("/schema/tables/?q=django_session")
    expect(diagram).to_have_attribute("data-rendered", "true", timeout=30_000)
    box = svg.bounding_box()
    assert box is not None
    frame_height = _sized_frame_height(page)
    assert frame_height <= box["height"] + 80, (frame_height, box)
    assert console_errors == []


def test_drift_page_follows_the_worker_s_replay_and_lists_a_hand_made_index(
    planter,  # noqa: F811
    worker,
    page,
    role_user,
    sign_in,
    console_errors,
    screenshot,
):
    planter.sql("CREATE INDEX users_made_in_psql ON public.users (lower(email))")
    try:
        role_user("dba", "dana")
        page.goto("/schema/drift/")
        sign_in("dana")
        expect(page.get_by_test_id("schema-tabs").get_by_role("link", name="Drift")).to_have_attribute(
            "aria-current", "page"
        )
        # Reading the page starts nothing; the DBA starts the replay in the worker, and the page follows it and
        # then shows the findings.
        expect(page.get_by_test_id("drift-no-replay")).to_contain_text("No replay of the applied migrations yet")
        page.get_by_role("button", name="Replay the migrations").click()
        # The replay migrates a throwaway database in the worker: on a busy machine that takes a while, so wait
        # for its record to end, then for the page's next poll.
        check = wait_for(
            lambda: DriftCheck.objects.exclude(state__in=ACTIVE_STATES).order_by("-pk").first(),
            timeout=300,
            what="the drift replay to end",
        )
        assert check.state == "succeeded", (check.state, check.error, worker.output()[-2000:])
        expect(page.get_by_test_id("drift-summary")).to_contain_text("applied migrations replayed", timeout=30_000)
        expect(page.get_by_test_id("drift-replaying")).to_have_count(0)
        finding = page.locator('[data-code="unexpected_index"][data-object="public.users_made_in_psql"]')
        expect(finding).to_contain_text("DROP INDEX CONCURRENTLY public.users_made_in_psql;")
        expect(finding).to_contain_text("SeparateDatabaseAndState(")
        # No Copy button here: the fix uses the box's whole width (it wrapped 4.5rem short, kept for one).
        fix = finding.get_by_test_id("finding-fix")
        padding = fix.evaluate("el => [getComputedStyle(el).paddingLeft, getComputedStyle(el).paddingRight]")
        assert padding[0] == padding[1], padding
        screenshot("schema-drift")
    finally:
        planter.sql("DROP INDEX public.users_made_in_psql")
    assert console_errors == []


def test_live_schema_contents_open_a_collapsed_card_and_the_diagram_zooms_and_fits(
    page, role_user, sign_in, console_errors, screenshot
):
    role_user("operator", "olga")
    page.goto("/schema/tables/")
    sign_in("olga")
    cards = page.get_by_test_id("schema-table")
    expect(cards.first).to_have_attribute("data-scope", "product")
    messages = page.locator('[data-table="public.conversation_messages"]')
    expect(messages.get_by_test_id("columns")).to_be_hidden()  # collapsed until asked for
    page.get_by_test_id("schema-contents").get_by_role("link", name="conversation_messages", exact=True).click()
    expect(messages.get_by_test_id("columns")).to_be_visible()
    expect(messages.get_by_test_id("columns")).to_contain_text("timestamptz")
    expect(page.locator('[data-table="public.users"] [data-testid=columns]')).to_be_hidden()
    page.get_by_role("button", name="Expand all").click()
    expect(page.locator('[data-table="public.users"] [data-testid=columns]')).to_contain_text("varchar(128)")
    page.get_by_role("button", name="Collapse all").click()
    expect(messages.get_by_test_id("columns")).to_be_hidden()

    frame = page.frame_locator("#schema-diagram-frame")
    diagram = frame.get_by_test_id("schema-diagram")
    expect(diagram).to_have_attribute("data-rendered", "true", timeout=30_000)
    expect(diagram).to_have_attribute("data-scale", "1.000")
    expect(frame.get_by_test_id("diagram-back")).to_be_hidden()  # it led to the page it is framed in
    frame.get_by_role("button", name="Fit").click()
    fitted = float(diagram.get_attribute("data-scale"))
    assert fitted < 1
    width = diagram.locator("svg").evaluate("el => el.getBoundingClientRect().width")
    view = diagram.evaluate("el => el.clientWidth")
    assert width <= view + 1, (width, view)
    frame.get_by_role("button", name="Zoom in").click()
    expect(diagram).to_have_attribute("data-scale", f"{fitted * 1.25:.3f}")
    expect(diagram.locator("svg")).not_to_contain_text("character_varying")
    screenshot("schema-live")
    page.set_viewport_size({"width": 360, "height": 800})
    page.reload()
    expect(page.get_by_test_id("schema-contents")).to_be_visible()
    # A long name (public.schemaadmin_query_stat_baseline) wraps beside its card's arrow, inside the card: it went to
    # a line of its own and ran past the card's edge.
    outside = page.evaluate(
        """() => Array.from(document.querySelectorAll("details.schema-table > summary")).filter(summary => {
             const box = summary.getBoundingClientRect();
             const name = summary.querySelector("h4 code").getBoundingClientRect();
             return name.top - box.top > 16 || name.right > box.right - 8;
           }).map(summary => summary.parentElement.dataset.table)"""
    )
    assert outside == [], outside
    page.screenshot(path=screenshot("schema-live-phone").with_name("schema-live-phone-view.png"))
    assert console_errors == []


def test_a_table_another_session_locks_is_shown_with_its_columns_and_marked_on_a_phone(
    page, role_user, sign_in, console_errors, screenshot
):
    role_user("operator", "oona")
    page.set_viewport_size({"width": 360, "height": 800})
    with holding("LOCK TABLE public.conversation_messages IN ACCESS EXCLUSIVE MODE") as pid:
        page.goto("/schema/tables/?q=conversation_messages")
        sign_in("oona")
        expect(page.get_by_test_id("locked-relations")).to_contain_text(f"held by pid {pid}")
        card = page.locator('[data-table="public.conversation_messages"]')
        expect(card.get_by_test_id("table-locked")).to_be_visible()
        expect(card.get_by_test_id("columns")).to_contain_text("search_vector")  # one table matches: open
        expect(card).to_contain_text("Not read: the table is locked.")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, width  # nothing pushes the phone's page sideways
        screenshot("schema-live-locked-phone")
    assert console_errors == []
