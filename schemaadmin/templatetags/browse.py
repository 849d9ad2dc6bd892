"""Template helpers for the browsing pages: page links that keep the filters, and message bodies."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from schemaadmin.formats import when_html
from schemaadmin.paging import Cursor, list_scope
from schemaadmin.templatetags.humanize_extras import thousands

register = template.Library()

LONG_MESSAGE_CHARS = 1500
LONG_MESSAGE_LINES = 25
PREVIEW_CHARS = 500
# Code fences as CommonMark reads them, not any three backticks paired with the next three: a fence opens at the start
# of a line (up to 3 spaces in) with 3 or more backticks and an info string without any, and closes at a line of
# backticks at least as long, so a ```` fence holds ``` fences (LLM answers, our own Markdown export) and a run of
# backticks inside a sentence stays text.
# Each pattern is tried at the start of a line that holds ``` (found by str.find), not scanned along the message.
_FENCE_OPEN = re.compile(r"( {0,3})(`{3,})([^`\n]*)$", re.MULTILINE)
_FENCE_CLOSE = re.compile(r" {0,3}(`{3,})[ \t\r]*$", re.MULTILINE)
# The opener's indentation, taken off each line of its code (up to as many spaces), as CommonMark does.
_INDENT = {width: re.compile(rf"^ {{1,{width}}}", re.MULTILINE) for width in (1, 2, 3)}


def query_with(current: QueryDict, **changes: Any) -> str:
    """Return the query string current with the given parameters replaced (None or '' removes one)."""
    query = current.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def page_url(context: dict[str, Any], **changes: Any) -> str:
    """Return the current query string with the given parameters replaced (None or '' removes one); a page's Cursor
    becomes its token made for the list the request shows (list_scope), so a link edited to another list is known."""
    request = context["request"]
    if any(isinstance(value, Cursor) for value in changes.values()):
        scope = list_scope(request)
        changes = {key: value.encode(scope) if isinstance(value, Cursor) else value for key, value in changes.items()}
    return query_with(request.GET, **changes)


@register.simple_tag(takes_context=True)
def sort_header(
    context: dict[str, Any], label: str, key: str, current: str, *, param: str = "order", css: str = ""
) -> str:
    """Return a <th> whose link orders a top-N list by key, largest first, saying so in aria-sort when it does."""
    ordered = key == current
    return format_html(
        '<th scope="col" class="{}" aria-sort="{}"><a class="sort-link" href="{}">{}<span class="sort-mark" '
        'aria-hidden="true">{}</span></a></th>',
        css,
        "descending" if ordered else "none",
        page_url(context, **{param: key}),
        label,
        "▼" if ordered else "↕",
    )


@register.simple_tag(takes_context=True)
def two_way_sort_header(
    context: dict[str, Any], label: str, key: str, current: str, *, param: str = "sort", attrs: str = ""
) -> str:
    """Return a <th> whose link orders a keyset list by key: largest or newest first, then (clicked again) the other
    way round; current is the order in use ("-key" descending, "key" ascending). A new order starts at page one."""
    direction = "descending" if current == f"-{key}" else "ascending" if current == key else "none"
    wanted = key if direction == "descending" else f"-{key}"
    return format_html(
        '<th {} scope="col" aria-sort="{}"><a class="sort-link" href="{}">{}<span class="sort-mark" '
        'aria-hidden="true">{}</span></a></th>',
        mark_safe(attrs),  # attribute markup from the template or django-tables2's AttributeDict.as_html()
        direction,
        page_url(context, **{param: wanted, "after": None, "before": None}),
        label,
        {"descending": "▼", "ascending": "▲"}.get(direction, "↕"),
    )


def _fence_line(pattern: re.Pattern[str], content: str, position: int) -> re.Match[str] | None:
    """Return the first line from position (a line's start, or a line's end) that pattern matches from its start."""
    while (ticks := content.find("```", position)) != -1:
        line_start = content.rfind("\n", position, ticks) + 1 or position
        if found := pattern.match(content, line_start):
            return found
        position = content.find("\n", ticks) + 1 or len(content)
    return None


@register.filter
def message_body(content: str) -> SafeString:
    """Return message text as HTML: everything escaped, code fences as code blocks, newlines kept by CSS."""
    # html.escape is what format_html does to text, without its per-argument checks: this runs for every message.
    if "```" not in content:
        return mark_safe(f'<div class="text">{escape(content)}</div>' if content else "")
    parts: list[str] = []
    position = 0
    while (opener := _fence_line(_FENCE_OPEN, content, position)) is not None:
        indent, ticks, info = opener.groups()
        code_start = opener.end() + 1
        closer = _fence_line(_FENCE_CLOSE, content, code_start)
        while closer is not None and len(closer.group(1)) < len(ticks):
            closer = _fence_line(_FENCE_CLOSE, content, closer.end() + 1)
        code = content[code_start : closer.start() if closer else len(content)]
        if closer is None and not code.strip():
            break  # an opener with nothing after it ("`" * 500 + " fence") is shown as written, not as an empty box
        if opener.start() > position:
            parts.append(f'<div class="text">{escape(content[position : opener.start()])}</div>')
        # The info string's first word names the language; a search's marks (\x01, \x02) in it would become <mark>
        # inside the attribute.
        language = info.replace("\x01", "").replace("\x02", "").split(maxsplit=1)
        attribute = f' data-language="{escape(language[0])}"' if language else ""
        if indent:
            code = _INDENT[len(indent)].sub("", code)
        parts.append(f'<pre class="code"{attribute}><code>{escape(code.rstrip("\n"))}</code></pre>')
        position = closer.end() if closer else len(content)
    if position < len(content):
        parts.append(f'<div class="text">{escape(content[position:])}</div>')
    return mark_safe("".join(parts))


@register.filter
def marked_body(marked: str) -> SafeString:
    """Return message text as message_body does, with the search's marks (\\x01 … \\x02) as <mark>."""
    return mark_safe(message_body(marked).replace("\x01", "<mark>").replace("\x02", "</mark>"))


@register.filter
def is_long(content: str) -> bool:
    """Return whether a message is long enough to show collapsed."""
    return len(content) > LONG_MESSAGE_CHARS or content.count("\n") > LONG_MESSAGE_LINES


@register.filter
def preview(content: str) -> str:
    """Return the first lines of a long message, escaped by the template."""
    lines = content.splitlines()[:8]
    text = "\n".join(lines)[:PREVIEW_CHARS]
    return text + "…"


@register.filter
def utc_time(value: Any) -> SafeString:
    """Render an instant as <time> (schemaadmin.formats.when_html): the viewer's zone in the browser."""
    return when_html(value)


@register.simple_tag
def browse_table(table: Any) -> SafeString:
    """Render a browsing table (schemaadmin.tables.browse) without django-tables2's per-cell machinery."""
    return table.as_page_html()


@register.simple_tag(takes_context=True)
def sorted_browse_table(context: dict[str, Any], table: Any, current: str, *, param: str = "sort") -> SafeString:
    """Render a browsing table as browse_table does, its table.sort_keys columns' headers ordering the list."""
    headers = {}
    for name, key in table.sort_keys.items():
        bound = table.columns[name]
        headers[name] = two_way_sort_header(
            context, str(bound.header), key, current, param=param, attrs=bound.attrs["th"].as_html()
        )
    return table.as_page_html(headers=headers)


# One formatter for counts, shared with the overview's humanize_extras.
register.filter("thousands", thousands)


__all__ = [
    "browse_table",
    "is_long",
    "message_body",
    "page_url",
    "preview",
    "sorted_browse_table",
    "two_way_sort_header",
    "utc_time",
]
