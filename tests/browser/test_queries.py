"""/queries/ in Chromium: a DBA opens the most-called statement of the last hour and explains it."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from schemaadmin.models import QueryText
from schemaadmin.services.workload.snapshots import take_snapshot
from tests.planting import planter  # noqa: F401 -- fixture
from tests.versions import skip_below

pytestmark = pytest.mark.browser


def test_a_dba_opens_the_top_statement_and_explains_it(
    page,
    planter,  # noqa: F811 -- the imported fixture
    role_user,
    sign_in,
    console_errors,
    screenshot,
):
    skip_below(160000, "Explain this on a $1 statement is a generic plan: PostgreSQL 16's")
    table = planter.table(f"ledger_{uuid.uuid4().hex[:8]}", "id int, amount int", rows=400, fill="i, i % 4")
    statement = f"SELECT count(*) FROM {table} AS a, {table} AS b WHERE a.amount = %s AND b.id > a.id"  # noqa: S608 -- planted
    planter.sql(f"ANALYZE {table}")
    take_snapshot(now=timezone.now() - timedelta(minutes=20))
    # Called 25 times between the two snapshots, more than anything else (the snapshots' own statements run once
    # each and, on a busy machine, can cost more time than this: the order by time is tested in tests/views/).
    for i in range(25):
        planter.sql(statement, [i % 4])
    take_snapshot(now=timezone.now() - timedelta(minutes=10))

    role_user("dba", "dora")
    # This test's database only: pg_stat_statements is the server's, and on an external one (DATABASE_URL) the other
    # test processes' databases, and earlier runs' of this very test, share it.
    database = connection.settings_dict["NAME"]
    page.goto(f"/queries/?window=1h&order=calls&database={database}")
    sign_in("dora")
    expect(page).to_have_url(re.compile(rf"/queries/\?window=1h&order=calls&database={re.escape(database)}$"))
    top = page.get_by_test_id("statement-link").first
    expect(top).to_contain_text(f"FROM {table} AS a")
    expect(page.locator("svg.sparkline").first).to_be_visible()
    assert_names_unbroken(top)
    screenshot("queries-desktop")
    page.set_viewport_size({"width": 360, "height": 800})
    assert_names_unbroken(top)
    screenshot("queries-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    top.click()
    expect(page.get_by_test_id("statement-text")).to_contain_text("WHERE a.amount = $1 AND b.id > a.id")
    expect(page.get_by_test_id("calls")).to_have_text("25")
    expect(page.locator("#query-chart")).to_be_visible()
    screenshot("query-detail-desktop")
    page.set_viewport_size({"width": 360, "height": 800})
    # The chart redraws for the new width on its own time: the phone's page is the one that no longer overflows.
    page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth")
    screenshot("query-detail-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_test_id("explain-this").click()
    expect(page).to_have_url(re.compile(r"/explain/$"))
    # The form's field (CodeMirror edits it from above when its bundle is built).
    expect(page.locator("#explain-form textarea[name=sql]")).to_have_value(re.compile(r"WHERE a\.amount = \$1"))
    plan = page.get_by_test_id("pev2")
    expect(plan.locator(".plan-node").first).to_be_visible()
    expect(plan).to_contain_text("Aggregate")
    screenshot("query-explained")
    assert console_errors == []


# The pairs of characters around each place where the rendered text wraps to a new line.
_LINE_BREAKS = """el => {
  const pairs = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let top = null, before = "", node;
  while ((node = walker.nextNode())) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (!rect) continue;
      if (top !== null && rect.top > top + 2) pairs.push(before + node.data[i]);
      top = rect.top;
      before = node.data[i];
    }
  }
  return pairs;
}"""


def assert_names_unbroken(statement) -> None:
    """Fail if the statement's text wraps inside a name: only at a space, or after a dot, underscore or comma."""
    for pair in statement.evaluate(_LINE_BREAKS):
        assert pair[0] in " ._,(" or pair[1] == " ", f"a name is cut at {pair!r}"


def test_the_chart_places_each_snapshot_at_its_time(page, planter, role_user, sign_in, console_errors):  # noqa: F811
    """Snapshots 5 minutes apart, then none for 45 minutes (the worker stopped): the chart's x axis is time, so the
    gap is nine steps wide, not closed up as one more slot. One more taken seconds after another (a snapshot taken
    by hand) leaves the bars as wide as the usual step makes them, not hairlines."""
    table = planter.table(f"gaps_{uuid.uuid4().hex[:8]}", "id int, amount int", rows=50, fill="i, i % 4")
    statement = f"SELECT count(*) FROM {table} WHERE amount = %s"  # noqa: S608 -- planted
    now = timezone.now()
    take_snapshot(now=now - timedelta(minutes=70))
    for minutes_ago in (65, 60, 59.95, 15):
        for i in range(3):
            planter.sql(statement, [i])
        take_snapshot(now=now - timedelta(minutes=minutes_ago))
    queryid = QueryText.objects.get(query__contains=f"FROM {table} WHERE amount = $1").queryid

    role_user("operator", "otto")
    page.goto(f"/queries/{queryid}/?window=6h")
    sign_in("otto")
    expect(page.locator("#query-chart")).to_be_visible()
    # When each bar's snapshot was taken (the page's data) and where Chart.js drew it: once the scripts ran.
    drawn = page.wait_for_function(
        """() => {
          const chart = window.Chart && window.Chart.getChart(document.getElementById("query-chart"));
          const times = JSON.parse(document.getElementById("query-chart-data").textContent).labels.map(Date.parse);
          const bars = chart ? chart.getDatasetMeta(0).data : [];
          const drawn = bars.map((bar, i) => [times[i], bar.x, bar.width]);
          return bars.length && bars.length === times.length ? drawn : null;
        }"""
    ).json_value()
    assert len(drawn) >= 3, drawn
    (first_time, first_x, _), (last_time, last_x, _) = drawn[0], drawn[-1]
    pixels_per_ms = (last_x - first_x) / (last_time - first_time)
    for time, x, _ in drawn:  # every bar where its time puts it, within a pixel
        assert abs(first_x + (time - first_time) * pixels_per_ms - x) < 1.5, drawn
    five_minutes = 5 * 60_000 * pixels_per_ms
    assert all(width >= 0.5 * five_minutes for _, _, width in drawn), (five_minutes, drawn)
    # Calls are counted in whole calls, time read as a duration with its unit (not "0.5" calls, not bare ms).
    ticks = page.evaluate(
        """() => {
          const chart = window.Chart.getChart(document.getElementById("query-chart"));
          const scales = chart.scales;
          return {calls: scales.calls.ticks.map((t) => t.value), time: scales.time.ticks.map((t) => t.label),
                  steps: scales.time.ticks.slice(1).map((t, i) => t.value - scales.time.ticks[i].value)};
        }"""
    )
    assert ticks["calls"] and all(value == int(value) for value in ticks["calls"]), ticks
    assert all(label == "0" or label.endswith((" ms", " s", " min", " h")) for label in ticks["time"]), ticks
    # One round step between them ("1.33 min" was a tick); here, under a millisecond, 1, 2 or 5 times a power of ten.
    steps = ticks["steps"]
    assert steps and max(steps) - min(steps) < 1e-9 * max(steps), ticks
    mantissa = f"{steps[0]:.3e}".split("e")[0]
    assert mantissa in ("1.000", "2.000", "5.000"), ticks
    # In the dark scheme, axes and legend take the page's text colour, not Chart.js's grey (2.7:1 there).
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.bsTheme === 'dark'")
    painted = page.wait_for_function(
        """() => {
          const chart = window.Chart.getChart(document.getElementById("query-chart"));
          const text = getComputedStyle(document.documentElement).getPropertyValue("--bs-body-color").trim();
          const o = chart.options;
          const used = [o.scales.x.ticks.color, o.scales.time.ticks.color, o.scales.time.title.color,
                        o.plugins.legend.labels.color];
          return used.every((colour) => colour === text) ? used : null;
        }"""
    ).json_value()
    assert painted[0] != "#666", painted
    assert console_errors == []


@pytest.mark.parametrize("browser_zone", ["Europe/Berlin", "Asia/Kolkata"])
def test_the_chart_ticks_stay_on_whole_local_hours_across_a_clock_change(
    page,
    planter,  # noqa: F811 -- the imported fixture
    role_user,
    sign_in,
    console_errors,
):
    """Berlin's clocks went back an hour at 01:00 UTC on 2026-10-25: ticks every few hours sit on whole local hours
    on both sides of it (00:00, 03:00, …), and so they do in a zone half an hour off UTC."""
    table = planter.table(f"dst_{uuid.uuid4().hex[:8]}", "id int, amount int", rows=50, fill="i, i % 4")
    statement = f"SELECT count(*) FROM {table} WHERE amount = %s"  # noqa: S608 -- planted
    noon = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    take_snapshot(now=noon)
    for hours in range(2, 36, 3):
        for i in range(3):
            planter.sql(statement, [i])
        take_snapshot(now=noon + timedelta(hours=hours))
    queryid = QueryText.objects.get(query__contains=f"FROM {table} WHERE amount = $1").queryid

    role_user("operator", "otto")
    page.goto(f"/queries/{queryid}/?window=custom&start=2026-10-24T12:00&end=2026-10-26T00:00")
    sign_in("otto")
    ticks = page.wait_for_function(
        """() => {
          const chart = window.Chart && window.Chart.getChart(document.getElementById("query-chart"));
          const ticks = chart ? chart.scales.x.ticks : [];
          return ticks.length ? ticks.map((t) => [new Date(t.value).getHours(), new Date(t.value).getMinutes()]) : null;
        }"""
    ).json_value()
    step = min((later[0] - earlier[0]) % 24 for earlier, later in itertools.pairwise(ticks))
    assert 1 < step < 24, ticks  # 36 hours at this width: a tick every few hours
    assert all(minute == 0 and hour % step == 0 for hour, minute in ticks), ticks
    assert console_errors == []
