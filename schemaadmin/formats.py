"""How every page writes times, durations, numbers and JSON: one policy, used by templates, tables and views.

Times: a <time> element holding the exact instant; the server writes it in UTC ("2026-12-03 21:12 UTC") and
schemaadmin.js rewrites it in the viewer's zone with the zone named ("2026-12-03 16:12 EST"), keeping the exact UTC
time on hover, plus the age ("3 min ago") where recency matters. Numbers: integers with thousands separators and
no decimals; ratios past RATIO_THRESHOLD as "× 973" instead of "97,200 %".
"""

from __future__ import annotations

import html
import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from schemaadmin.pg.names import qualify

__all__ = [
    "RATIO_THRESHOLD",
    "change_text",
    "count_text",
    "breakable_html",
    "duration_text",
    "expression_html",
    "ident_html",
    "json_html",
    "log_html",
    "number_text",
    "plural_noun",
    "when_html",
]

# A change of at least this factor reads better as "× 973" than as a percentage.
RATIO_THRESHOLD = 10.0
_WHEN_STYLES = frozenset({"seconds", "time", "ago", "log"})
# JobLog's stamp: an exact UTC instant at the start of each line.
_BREAK_AFTER = re.compile(r"([._])(?=.)")
_LOG_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})Z ", re.MULTILINE)


def when_html(value: datetime | None, styles: str = "", *, day_of: datetime | None = None) -> SafeString:
    """Return an instant as <time>: UTC on the server, the viewer's zone in the browser; "—" for None.

    styles, comma-separated: "seconds" (show seconds), "time" (time of day and zone), "ago" (add the age), "log"
    (time of day alone, for log lines under a heading that names the zone). day_of, with "time": the instant shown
    before it (a job's start); where the two fall on different days (in the viewer's zone, in the browser) the
    time of day is shown with its date.
    """
    if value is None:
        return mark_safe("—")
    shown_as, data = _when_styles(styles)
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    exact = utc.strftime("%Y-%m-%d %H:%M:%S")  # one formatting; the rest are slices of it
    day_attribute = ""
    if shown_as == "time" and day_of is not None:
        day = (day_of.astimezone(UTC) if day_of.tzinfo else day_of.replace(tzinfo=UTC)).strftime("%Y-%m-%dT%H:%M:%S")
        day_attribute = f' data-day-of="{day}Z"'
        if day[:10] != exact[:10]:
            shown_as = "seconds"  # another day (in UTC; the browser asks again in the viewer's zone): with its date
    if shown_as == "log":
        shown = exact[11:]
    elif shown_as == "time":
        shown = f"{exact[11:]} UTC"
    elif shown_as == "seconds":
        shown = f"{exact} UTC"
    else:
        shown = f"{exact[:16]} UTC"
    # Digits and punctuation only, nothing to escape: an f-string keeps it cheap for every row of a table.
    return mark_safe(
        f'<time datetime="{exact[:10]}T{exact[11:]}Z" title="{exact} UTC" data-when="{data}"{day_attribute}>'
        f"{shown}</time>"
    )


@cache
def _when_styles(styles: str) -> tuple[str, str]:
    """Return how when_html shows an instant for these styles (log, time, seconds or the date) and its data-when."""
    wanted = {s.strip() for s in styles.split(",") if s.strip()}
    unknown = wanted - _WHEN_STYLES
    if unknown:
        raise ValueError(f"unknown time style {', '.join(sorted(unknown))}")
    shown_as = next((style for style in ("log", "time", "seconds") if style in wanted), "date")
    return shown_as, " ".join(sorted(wanted))


def ident_html(*names: str | None) -> SafeString:
    """Return a (dotted) identifier that wraps only after a dot or an underscore, never inside a word.

    One name is shown as given (already qualified); several are joined as pg.names.qualified() joins them.
    """
    given = [n for n in names if n]
    text = given[0] if len(given) == 1 else qualify(*given)
    return mark_safe('<span class="ident">' + breakable_html(text) + "</span>")


def breakable_html(text: str) -> SafeString:
    """Return text escaped, with a <wbr> after each dot and underscore: SQL wraps there and at spaces, not inside
    names (the ident class, or statement-text, keeps the browser from cutting words anywhere else)."""
    return mark_safe(_BREAK_AFTER.sub(r"\1<wbr>", html.escape(text)))  # html.escape: Django's escape, less lazy


def expression_html(text: str) -> SafeString:
    """Return an SQL expression as breakable_html does, also breakable after each "::": a cast such as
    "(embedding::halfvec(3072))", an index's usual vector key, has no other place to wrap on a phone."""
    return mark_safe(breakable_html(text).replace("::", "::<wbr>"))


def duration_text(value: timedelta | float | int | None, unit: str = "s") -> str:
    """Return a duration as people read it: 0.25 s, 42 s, 3 min 05 s, 2 h 07 min; "" for None.

    value is a timedelta or a number of seconds (unit="ms": milliseconds).
    """
    if value is None:
        return ""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        seconds = float(value) / (1000 if unit == "ms" else 1)
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        # A small REINDEX takes milliseconds: "0.0 s" would read as "did nothing". A time measured in milliseconds
        # stays in them below one ("< 0.01 s" beside "2.82 ms" in the EXPLAIN console's history).
        if unit == "ms":
            milliseconds = seconds * 1000
            return f"{milliseconds:.3g} ms" if milliseconds >= 0.01 else "< 0.01 ms"
        return f"{seconds:.2f} s" if seconds >= 0.005 else "< 0.01 s"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def number_text(value: Any, decimals: int | None = None) -> str:
    """Return a number with thousands separators: integers (and whole floats) without decimals; "—" for None."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        try:
            value = Decimal(value) if "." in value else int(value)
        except (ArithmeticError, ValueError):
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return "∞" if value > 0 else ("−∞" if value < 0 else "—")
    if isinstance(value, int) or float(value) == int(value):
        return f"{int(value):,}"
    if decimals is None:
        decimals = 2 if abs(value) < 100 else (1 if abs(value) < 10_000 else 0)
    return f"{float(value):,.{decimals}f}"


def change_text(before: float | None, after: float | None) -> str:
    """Return the change from before to after: "+12 %", "−40 %", "× 973" or "÷ 50" past the threshold; "" if unknown."""
    if before is None or after is None:
        return ""
    if before == after:
        return "no change"
    if before == 0:
        return "new" if after else "no change"
    if after == 0:
        return "−100 %"
    factor = after / before
    if factor >= RATIO_THRESHOLD:
        return f"× {number_text(round(factor))}"
    if factor <= 1 / RATIO_THRESHOLD:
        return f"÷ {number_text(round(1 / factor))}"
    percent = (factor - 1) * 100
    sign = "+" if percent > 0 else "−"
    return f"{sign}{number_text(round(abs(percent)))} %"


def count_text(value: int | None, noun: str) -> str:
    """Return "1 row" or "1,234 rows": a count that says what it counts ("index|indexes" for irregular plurals)."""
    if value is None:
        return f"— {plural_noun(noun)}"
    return f"{number_text(value)} {noun.partition('|')[0] if value == 1 else plural_noun(noun)}"


def plural_noun(noun: str) -> str:
    """Return the plural of count_text's noun: "rows" for "row", "indexes" for "index|indexes"."""
    singular, _, plural = noun.partition("|")
    return plural or f"{singular}s"


def json_html(value: Any, *, open_depth: int = 2) -> SafeString:
    """Return a JSON value as nested, collapsible HTML (<details> per object or array), everything escaped."""
    return _json_node(value, depth=0, open_depth=open_depth)


# Levels drawn as collapsible lists; what is nested deeper is shown as its JSON text, cut at JSON_TEXT_SHOWN
# characters. Drawing each level costs Python a few frames: 3,000 levels of [[[…]]] in a user's preferences raised
# RecursionError, a 500 on every page about that user.
JSON_DEPTH_SHOWN = 32
JSON_TEXT_SHOWN = 2_000


def _json_text(value: Any) -> SafeString:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return format_html('<span class="json-deep">{}</span>', "(nested too deeply to show)")
    cut = f"{text[:JSON_TEXT_SHOWN]}… ({number_text(len(text))} characters)" if len(text) > JSON_TEXT_SHOWN else text
    return format_html('<code class="json-deep">{}</code>', cut)


def _json_node(value: Any, *, depth: int, open_depth: int) -> SafeString:
    if depth >= JSON_DEPTH_SHOWN and isinstance(value, (dict, list, tuple)) and value:
        return _json_text(value)
    if isinstance(value, dict):
        items = [
            format_html(
                '<li><span class="json-key">{}</span>: {}</li>',
                key,
                _json_node(v, depth=depth + 1, open_depth=open_depth),
            )
            for key, v in value.items()
        ]
        return _json_container(items, "{", "}", count_text(len(value), "key"), depth=depth, open_depth=open_depth)
    if isinstance(value, (list, tuple)):
        items = [format_html("<li>{}</li>", _json_node(v, depth=depth + 1, open_depth=open_depth)) for v in value]
        return _json_container(items, "[", "]", count_text(len(value), "item"), depth=depth, open_depth=open_depth)
    kind = (
        "null"
        if value is None
        else "bool"
        if isinstance(value, bool)
        else "number"
        if isinstance(value, (int, float))
        else "string"
    )
    return format_html('<span class="json-{}">{}</span>', kind, json.dumps(value, ensure_ascii=False, default=str))


def _json_container(
    items: list[SafeString], start: str, end: str, summary: str, *, depth: int, open_depth: int
) -> SafeString:
    if not items:
        return format_html('<span class="json-empty">{}{}</span>', start, end)
    return format_html(
        '<details class="json"{}><summary data-close="{}">{} <span class="json-summary">{}</span></summary>'
        "<ul>{}</ul>{}</details>",
        " open" if depth < open_depth else "",
        end,
        start,
        summary,
        mark_safe("".join(items)),
        end,
    )


def log_html(text: str | None, empty: str = "(nothing yet)") -> SafeString:
    """Return a job's log as HTML: escaped text, each line's UTC stamp as a <time> of day the browser localises."""
    if not text:
        return format_html("{}", empty)
    parts: list[str] = []
    position = 0
    # Lines wrap at spaces and after dots and underscores (breakable_html), so index names are never cut apart.
    for match in _LOG_STAMP.finditer(text):
        parts.append(breakable_html(text[position : match.start()]))
        instant = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}+00:00")
        parts.append(when_html(instant, "log") + " ")
        position = match.end()
    parts.append(breakable_html(text[position:]))
    return mark_safe("".join(parts))
