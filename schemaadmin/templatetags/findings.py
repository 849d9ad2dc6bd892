"""A severity's badge and words, the same on every page that shows findings (health, drift, lint)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from schemaadmin.services.findings import Severity

register = template.Library()


@register.simple_tag
def severity_badge(severity: Severity | str, count: int | None = None) -> SafeString:
    """Render a severity's badge: "critical", or with a count "2 critical", "3 warnings"; a count of none is grey
    (a red "0 critical" reads as an alarm)."""
    level = Severity(severity)
    text = level.value if count is None else level.counted(count)
    css = "text-bg-light border" if count == 0 else level.badge
    return format_html('<span class="badge {}" data-severity="{}">{}</span>', css, level.value, text)


@register.simple_tag
def severity_count(severity: Severity | str, count: int) -> str:
    """Return "1 warning", "3 warnings", "2 critical" or "0 info"."""
    return Severity(severity).counted(count)
