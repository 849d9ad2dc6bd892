"""Number and duration formatting for catalog figures."""

from __future__ import annotations

from django import template

register = template.Library()

_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB")


@register.filter
def pretty_bytes(value: int | float | None) -> str:
    """Format a byte count as PostgreSQL's pg_size_pretty does (1024-based)."""
    if value is None:
        return "—"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@register.filter
def thousands(value: int | None) -> str:
    """Format an integer with thousands separators."""
    return "—" if value is None else f"{value:,}"


@register.filter
def seconds_text(seconds: float | None) -> str:
    """Return a duration as people read it: 42 s, 3 min 05 s, 2 h 07 min."""
    if seconds is None:
        return ""
    if seconds < 1:
        # A small REINDEX takes milliseconds: "0.0 s" would read as "did nothing".
        return f"{seconds:.2f} s" if seconds >= 0.005 else "< 0.01 s"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
