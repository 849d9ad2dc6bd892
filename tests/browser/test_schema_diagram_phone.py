"""The live schema's diagram on a phone: it opens fitted to the width (or, for a schema too wide to read that
small, at the smallest readable size with Fit at hand), never clipped, never widening the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 800}


@pytest.mark.parametrize("query", ["?q=conversation", ""])
def test_the_diagram_opens_fitted_to_a_phone(page, role_user, sign_in, console_errors, screenshot, query):
    role_user("operator", "olga")
    page.set_viewport_size(PHONE)
    page.goto(f"/schema/tables/{query}")
    sign_in("olga")
    frame = page.frame_locator("#schema-diagram-frame")
    diagram = frame.get_by_test_id("schema-diagram")
    expect(diagram).to_have_attribute("data-rendered", "true", timeout=30_000)
    page.locator("#schema-diagram-frame").scroll_into_view_if_needed()
    screenshot(f"schema-diagram-phone{'-' + query[3:] if query else ''}")
    # The page keeps the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    view = diagram.evaluate("el => el.clientWidth")
    # Every zoom control is inside the frame, not cut off at its right edge.
    for name in ("Zoom out", "Zoom in", "Fit", "100 %"):
        box = frame.get_by_role("button", name=name).evaluate("el => el.getBoundingClientRect().right")
        assert box <= view + 1, (name, box, view)
    scale = float(diagram.get_attribute("data-scale"))
    svg = diagram.locator("svg")
    width = svg.evaluate("el => el.getBoundingClientRect().width")
    name = svg.get_by_text("public.conversation_preferences", exact=True).first
    name_px = name.evaluate("el => el.getBoundingClientRect().height")
    assert name_px >= 9, name_px  # the names stay readable
    if query:
        # Three tables fit a phone's width at a readable size: the whole drawing, nothing cut off.
        assert scale < 1 and width <= view + 1, (scale, width, view)
    else:
        # Thirty-four tables side by side cannot be read at a phone's width: full size from the left edge, and
        # Fit shows the whole when asked.
        assert scale == 1 and diagram.evaluate("el => el.scrollLeft") == 0
        frame.get_by_role("button", name="Fit").click()
        fitted = svg.evaluate("el => el.getBoundingClientRect().width")
        assert fitted <= view + 1, (fitted, view)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert console_errors == []
