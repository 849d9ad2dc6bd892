"""Table health in Chromium: every figure column lines up, header and cells, on a desktop and a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.planting import planter  # noqa: F401 -- the fixture

pytestmark = pytest.mark.browser

FIGURES = ("Size", "Rows (est.)", "Dead rows", "Seq scans", "Index scans")


def test_operator_reads_table_figures_right_aligned_under_their_headers(
    planter,  # noqa: F811
    page,
    role_user,
    sign_in,
    console_errors,
    screenshot,
):
    s = planter.schema
    planter.table("orders", "id int PRIMARY KEY, total int", rows=1500, fill="i, i % 97")
    planter.sql(f"ANALYZE {s}.orders")
    role_user("operator", "otto")
    page.goto("/tables/?table=orders")
    sign_in("otto")
    row = page.locator(f'tr[data-table="{s}.orders"]')
    expect(row).to_contain_text("1,500")
    for label in FIGURES:
        expect(page.get_by_role("columnheader", name=label)).to_have_css("text-align", "right")
    expect(row.locator("td").nth(2)).to_have_css("text-align", "right")
    screenshot("tables-desktop")
    page.set_viewport_size({"width": 360, "height": 800})
    expect(row).to_be_visible()
    screenshot("tables-phone")
    assert console_errors == []
