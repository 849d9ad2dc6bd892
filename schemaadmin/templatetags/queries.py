"""Presentation of query statistics: durations, sparklines, and the list's rows built in Python.

A list shows up to 100 statements of a dozen formatted cells each: through the template engine that cost ~50 ms of
a page's budget on a loaded machine, in Python a few. Every text from the server is escaped (html.escape);
queryids are integers; the link comes from reverse().
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from html import escape  # Django's own wraps it for lazy strings: ours are plain, a thousand a page

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from schemaadmin.formats import breakable_html, number_text
from schemaadmin.services.workload.query_stats import SERIES_POINTS, QueryStats, StatementRow

register = template.Library()

__all__ = ["duration_ms", "percent", "sparkline_points", "statement_rows"]

# How much of a statement's text a row shows; its page shows all of it.
SHORT_QUERY = 140

SPARK_WIDTH, SPARK_HEIGHT = 120, 24


@register.filter
def duration_ms(value: float | None) -> str:
    """Format milliseconds as ms below a second, else seconds, minutes or hours."""
    if value is None:
        return "—"
    if value < 1:
        return f"{value:.3f} ms"
    if value < 1000:
        return f"{value:.1f} ms"
    seconds = value / 1000
    if seconds < 120:
        return f"{seconds:.2f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@register.filter
def percent(value: float | None) -> str:
    """Format a share (0..1) as a percentage."""
    return "—" if value is None else f"{value * 100:.1f}%"


@register.filter
def sparkline_points(series: Sequence[float]) -> str:
    """Return an SVG polyline's points drawing the series in a SPARK_WIDTH x SPARK_HEIGHT box."""
    if not series:
        return ""
    if len(series) > SERIES_POINTS:  # the service bins series already; a longer one is summed in runs here
        run = -(-len(series) // SERIES_POINTS)
        series = [sum(series[i : i + run]) for i in range(0, len(series), run)]
    scale = (SPARK_HEIGHT - 2) / (max(series) or 1.0)
    xs = _x_positions(len(series))
    return " ".join(f"{x},{SPARK_HEIGHT - 1 - value * scale:.1f}" for x, value in zip(xs, series, strict=True))


@functools.cache
def _x_positions(count: int) -> tuple[str, ...]:
    step = SPARK_WIDTH / max(count - 1, 1)
    return tuple(f"{i * step:.1f}" for i in range(count))


@register.simple_tag
def statement_rows(stats: QueryStats, keep_query: str) -> SafeString:
    """Return the <tr> of each statement of the list (a sparkline cell unless the figures are the live view's)."""
    link = reverse("schemaadmin:query", args=[0])[:-2]  # "/queries/": the queryid and "/" follow
    return mark_safe("".join(_row(row, stats, link, keep_query) for row in stats.statements))  # escaped parts


def _row(row: StatementRow, stats: QueryStats, link: str, keep_query: str) -> str:
    # Text from the server goes through escape(); numbers and durations are this module's own digits and units.
    note = (
        f'<div class="small text-body-secondary" data-testid="schema-note">{escape(row.schema_note)}</div>'
        if row.schema_note
        else ""
    )
    spark = ""
    if not stats.live:
        line = (
            f'<svg class="sparkline" width="120" height="24" viewBox="0 0 120 24" role="img" '
            f'aria-label="time per {escape(stats.span)}"><polyline fill="none" stroke="currentColor" '
            f'stroke-width="1.5" points="{sparkline_points(row.series)}"/></svg>'
            if row.series
            else ""
        )
        spark = f"<td>{line}</td>"
    text = row.query or "(text not recorded)"
    text = breakable_html(text if len(text) <= SHORT_QUERY else f"{text[: SHORT_QUERY - 1]}…")
    return (
        f'<tr><td class="query-cell"><a href="{link}{int(row.queryid)}/{escape(keep_query)}" '
        f'class="font-monospace small statement-text" data-testid="statement-link">{text}</a>{note}</td>'
        f'<td class="small ident">{breakable_html(row.database)}</td>'
        f'<td class="small ident">{breakable_html(row.role)}</td>'
        f'<td class="text-end">{number_text(row.calls)}</td>'
        f'<td class="text-end text-nowrap">{duration_ms(row.total_ms)}</td>'
        f'<td class="text-end text-nowrap">{duration_ms(row.mean_ms)}</td>'
        f'<td class="text-end">{number_text(row.rows)}</td>'
        f'<td class="text-end">{number_text(row.shared_blks_read)}</td>'
        f'<td class="text-end">{number_text(row.temp_blks_written)}</td>'
        f'<td class="text-end text-nowrap">{percent(row.share)}</td>{spark}</tr>'
    )
