"""Number formatting for catalog figures."""

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
