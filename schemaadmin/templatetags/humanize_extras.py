"""Template filters for the one way SchemaAdmin writes times, durations, numbers, counts, JSON and job logs.

The policy and the functions behind these filters live in schemaadmin/formats.py (tables and views call them too).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils.safestring import SafeString

from schemaadmin import formats
from schemaadmin.pg.locked import LockedGroup, LockedRelation, group_locked
from schemaadmin.pg.names import qualify

register = template.Library()

_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB")


@register.filter
def locked_groups(relations: list[LockedRelation]) -> list[LockedGroup]:
    """{{ locked|locked_groups }}: locked relations grouped by table tree (pg.locked.group_locked)."""
    return group_locked(list(relations))


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
def thousands(value: Any) -> str:
    """Format a number with thousands separators, integers without decimals."""
    return formats.number_text(value)


@register.filter
def number(value: Any, decimals: int | None = None) -> str:
    """Format a number: {{ n|number }} (integers as integers, separators), {{ ms|number:3 }} for decimals."""
    return formats.number_text(value, None if decimals in (None, "") else int(decimals))


@register.filter
def change(before: float | None, after: float | None) -> str:
    """{{ before|change:after }}: "+12 %", "−40 %", or "× 973" past the threshold."""
    return formats.change_text(before, after)


@register.filter
def count(value: int | None, noun: str) -> str:
    """{{ n|count:"row" }} → "1,234 rows"; irregular plurals as "index|indexes"."""
    return formats.count_text(value, noun)


@register.filter
def plural(noun: str) -> str:
    """{{ "row"|plural }} → "rows"; irregular plurals as "index|indexes" (count's nouns)."""
    return formats.plural_noun(noun)


@register.filter
def when(value: datetime | None, styles: str = "") -> SafeString:
    """{{ at|when }}, {{ at|when:"seconds" }}, {{ at|when:"ago" }} or {{ at|when:"time" }}: a <time>."""
    return formats.when_html(value, styles)


@register.filter
def time_after(value: datetime | None, earlier: datetime | None) -> SafeString:
    """{{ job.finished_at|time_after:job.started_at }}: the time of day, with its date where it is not earlier's day."""
    return formats.when_html(value, "time", day_of=earlier)


@register.filter
def duration(value: timedelta | float | None, unit: str = "s") -> str:
    """{{ record.duration|duration }} or {{ seconds|duration }} or {{ ms|duration:"ms" }}: "3 min 05 s"."""
    return formats.duration_text(value, unit)


@register.filter(name="json")
def json_tree(value: Any) -> SafeString:
    """{{ value|json }}: formatted, collapsible JSON."""
    return formats.json_html(value)


@register.filter
def job_log(text: str | None) -> SafeString:
    """{{ record.log|job_log }}: a job's log with each line's time in the viewer's zone."""
    return formats.log_html(text)


@register.filter(name="qualified")
def qualified_filter(schema: str, name: str) -> str:
    """{{ schema|qualified:name }}: schema.name as URLs and lookups take it (pg.names.qualify)."""
    return qualify(schema, name)


@register.filter
def ident(value: str | None, name: str | None = None) -> SafeString:
    """{{ qualified|ident }} or {{ schema|ident:name }}: an identifier that wraps only after "." or "_"."""
    return formats.ident_html(value, name)


@register.filter
def expression(value: str | None) -> SafeString:
    """{{ key.expression|expression }}: SQL that wraps at spaces and after ".", "_" or "::", never inside a word."""
    return formats.expression_html(value or "")
