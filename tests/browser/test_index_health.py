"""Index health in Chromium: the list, the "only problems" filter over htmx, one index's detail, the chart."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.wrapping import FITS_ITS_BOX, cut_words
from tests.planting import planter  # noqa: F401 -- the fixture

pytestmark = pytest.mark.browser


def _reads_whole(page, width: int, table: str = "keys") -> None:
    """Show the page width pixels wide: the table of that test id fits its box, no word in its cells is cut, the
    page does not scroll sideways."""
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_function("(width) => window.innerWidth === width", arg=width)
    page.wait_for_function(FITS_ITS_BOX, arg=f"[data-testid={table}]")
    assert cut_words(page, f"[data-testid={table}] td") == []
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def planted(planter):  # noqa: F811
    s = planter.schema
    planter.table(
        "docs",
        "id int PRIMARY KEY, x int, embedding vector(3), created timestamptz",
        rows=200,
        fill="i, i % 7, '[1,2,3]', now()",
    )
    planter.sql(f"CREATE INDEX docs_x_a ON {s}.docs (x)")
    planter.sql(f"CREATE INDEX docs_x_b ON {s}.docs (x)")
    planter.sql(
        f"CREATE INDEX docs_embedding_ivf ON {s}.docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 50)"
    )
    planter.sql(f"CREATE INDEX docs_embedding_hnsw ON {s}.docs USING hnsw (embedding vector_l2_ops) WITH (m = 24)")
    planter.sql(f'CREATE INDEX docs_created ON {s}.docs (created DESC, lower(x::text) COLLATE "C" text_pattern_ops)')
    planter.sql(f"CREATE INDEX docs_half ON {s}.docs USING hnsw ((embedding::halfvec(3)) halfvec_cosine_ops)")
    planter.sql(f"ANALYZE {s}.docs")
    return planter


def test_operator_filters_to_problems_and_opens_an_index(planted, page, role_user, sign_in, console_errors, screenshot):
    s = planted.schema
    role_user("operator", "olga")
    page.goto("/indexes/")
    sign_in("olga")
    expect(page).to_have_url(re.compile(r"/indexes/$"))
    expect(page.get_by_role("heading", name="Indexes")).to_be_visible()
    healthy = page.locator(f'tr[data-index="{s}.docs_pkey"]')
    expect(healthy).to_have_count(1)
    screenshot("indexes-all")

    page.get_by_label("Only problems").check()  # htmx swaps the table in place
    expect(page).to_have_url(re.compile(r"problems=on"))
    expect(healthy).to_have_count(0)
    ivf = page.locator(f'tr[data-index="{s}.docs_embedding_ivf"]')
    # Each finding's badge says what it is; its code is for scripts (data-code).
    expect(ivf.locator('[data-code="ivfflat_lists_mismatch"]')).to_have_text("IVFFlat lists do not fit the rows")
    expect(page.locator(f'tr[data-index="{s}.docs_x_b"] [data-code="duplicate_index"]')).to_have_text("Duplicate index")
    screenshot("indexes-problems")

    ivf.get_by_role("link", name=f"{s}.docs_embedding_ivf").click()
    expect(page).to_have_url(re.compile(rf"/indexes/{s}\.docs_embedding_ivf/$"))
    expect(page.get_by_role("heading", name=f"Index {s}.docs_embedding_ivf")).to_be_visible()
    finding = page.locator('[data-code="ivfflat_lists_mismatch"]')
    expect(finding).to_contain_text(f"ALTER INDEX {s}.docs_embedding_ivf SET (lists = 1);")
    expect(finding.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.get_by_test_id("vector-advice")).to_contain_text("lists")
    screenshot("index-detail-ivfflat")

    # An HNSW index's advice names settings as long as maintenance_work_mem: its table fits the column, at a
    # desktop's width and a phone's, instead of scrolling sideways in its box.
    page.goto(f"/indexes/{s}.docs_embedding_hnsw/")
    advice = page.get_by_test_id("vector-advice")
    expect(advice).to_contain_text("maintenance_work_mem")
    # Its settings and operator class wrap after "." or "_", never inside a word ("ef_construc|tion").
    for width in (1280, 360):
        _reads_whole(page, width, "vector-advice")
    # So does the keys table: on a phone its Order column was cut off at the screen's edge. Its keys wrap between
    # words, never inside one: "Stored as" read "vector(|3)" and "timesta|mp with time zone" at 360 px.
    _reads_whole(page, 360)
    screenshot("index-detail-hnsw-phone")
    for index in ("docs_created", "docs_half"):
        page.goto(f"/indexes/{s}.{index}/")
        expect(page.get_by_test_id("keys")).to_contain_text("Stored as")
        for width in (1280, 360):
            _reads_whole(page, width)
            screenshot(f"index-detail-{index}-{width}")
    expect(page.get_by_test_id("keys")).to_contain_text("halfvec(3)")
    # A halfvec index's operator class is long enough to be cut even at a desktop's width ("halfvec_cosine_op|s").
    expect(page.get_by_test_id("vector-advice")).to_contain_text("halfvec_cosine_ops")
    for width in (1280, 360):
        _reads_whole(page, width, "vector-advice")
    assert console_errors == []


def test_overview_draws_the_index_size_chart(page, role_user, sign_in, console_errors, screenshot):
    role_user("dba", "dee")
    sign_in("dee")
    expect(page.get_by_test_id("health-overview")).to_be_visible()
    expect(page.get_by_test_id("findings-warning")).not_to_have_text("0")
    page.wait_for_function("() => window.Chart && Chart.getChart('index-size-chart') !== undefined")
    screenshot("overview-health")
    assert console_errors == []
