"""Presentation of query statistics: durations and sparklines."""

from __future__ import annotations

from collections.abc import Sequence

from django import template

from schemaadmin.services.workload.query_stats import SERIES_POINTS

register = template.Library()

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
    top = max(series) or 1.0
    step = SPARK_WIDTH / max(len(series) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 1 - (value / top) * (SPARK_HEIGHT - 2):.1f}" for i, value in enumerate(series)
    )
