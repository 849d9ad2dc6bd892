"""An audit event as people read it: its target linked to the page about it, its detail as labelled fields."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from schemaadmin.formats import ident_html, json_html, number_text, when_html
from schemaadmin.pg.names import split_qualified
from schemaadmin.tables.links import object_url

__all__ = ["detail_html", "target_html"]

# "explain:3", "conversation:12", "user:<uuid>": the kind of record and its key.
_KEYED_TARGET = re.compile(r"^(explain|conversation|user|rebuild|recall|apply):(\S+)$")
_URL_NAMES = {
    "explain": "schemaadmin:explain_run",
    "conversation": "schemaadmin:conversation",
    "user": "schemaadmin:user",
    "rebuild": "schemaadmin:rebuild",
    "recall": "schemaadmin:recall_check",
    "apply": "schemaadmin:schema_apply_run",
}
# Detail keys naming a record: the kind of record, by the action's area where a key is shared ("check").
_DETAIL_RECORDS = {"rebuild": "rebuild", "retry_of": "rebuild", "apply": "apply", "run": "explain"}
_LABELS = {"sql": "SQL", "ip": "IP", "pid": "pid", "retry_of": "Retry of", "as_username": "As"}
# Detail keys whose number names a thing, not an amount: written as its pages write it, without separators (a
# thread's anchors are its messages' ids, "#2312"; a pid is "4242").
_MESSAGE_IDS = frozenset({"around", "before", "after"})
_PLAIN_NUMBERS = frozenset({"pid"})
# Detail keys listing what a list or search page showed: each linked to its page, by its key's type.
_SHOWN_RECORDS = {"conversations": "conversation", "users": "user"}
_KEY_TYPES: dict[str, type] = {"conversation": int, "user": UUID}


def _link(kind: str, key: Any, text: Any) -> SafeString:
    try:
        url = reverse(_URL_NAMES[kind], args=[key])
    except (KeyError, NoReverseMatch):
        return format_html("{}", text)
    return format_html('<a href="{}">{}</a>', url, text)


def _shown_links(kind: str, keys: list[Any]) -> SafeString:
    """Return the records a list page showed (up to 100 an event, 50 events a page), each linked to its page: a
    conversation's integer or a user's UUID put into the URL resolved once (tables.links), in f-strings, where
    reverse() and format_html() per record cost ~50 µs each, 5,000 of them a page of the log."""
    url_name, prefix, links = _URL_NAMES[kind], get_script_prefix(), []
    for item in keys:
        key, text = item, f"#{item}" if kind == "conversation" else str(item)
        if isinstance(item, str):
            try:
                key = UUID(item)
            except ValueError:
                pass
        # Each kind's own key type (a conversation's int, a user's UUID): another would match no URL pattern.
        if isinstance(key, (int, UUID)) and isinstance(key, _KEY_TYPES[kind]) and not isinstance(key, bool):
            links.append(f'<a href="{object_url(url_name, key, script_prefix=prefix)}">{text}</a>')  # no escaping due
        else:
            links.append(escape(text))
    return mark_safe(" ".join(links))


def target_html(action: str, target: str) -> SafeString:
    """Return the target, linked to its page when SchemaAdmin has one (explain:3 → the run)."""
    if not target:
        return mark_safe("—")
    keyed = _KEYED_TARGET.match(target)
    if keyed:
        return _link(keyed.group(1), keyed.group(2), target)
    area = action.partition(".")[0]
    if area in ("rebuild", "recall") and split_qualified(target) is not None:
        try:
            return format_html('<a href="{}">{}</a>', reverse("schemaadmin:index", args=[target]), ident_html(target))
        except NoReverseMatch:
            pass
    return format_html("{}", target)


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " ").capitalize())


def _value(action: str, key: str, value: Any) -> SafeString:
    if value is None or value == "":
        return mark_safe('<span class="text-body-secondary">—</span>')
    kind = _DETAIL_RECORDS.get(key)
    if key == "check":
        kind = "recall" if action.startswith("recall.") else None
    if kind and isinstance(value, (int, str)):
        return _link(kind, value, f"{kind} {value}")
    if isinstance(value, bool):
        return format_html("{}", "yes" if value else "no")
    if isinstance(value, int) and key in _MESSAGE_IDS:
        return format_html("#{}", value)
    if isinstance(value, int) and (key in _PLAIN_NUMBERS or key.endswith("_id")):
        return format_html("{}", value)
    if isinstance(value, (int, float)):
        return format_html("{}", number_text(value))
    if key in _SHOWN_RECORDS and isinstance(value, list):
        kind = _SHOWN_RECORDS[key]
        noun = kind if len(value) == 1 else key  # "1 conversation", "25 conversations"
        return format_html("<details><summary>{} {}</summary>{}</details>", len(value), noun, _shown_links(kind, value))
    if isinstance(value, (dict, list)):
        return format_html('<div class="json-view">{}</div>', json_html(value, open_depth=0))
    if isinstance(value, str) and (key.endswith("_start") or key.endswith("_at")):
        instant = _instant(value)
        if instant is not None:
            return when_html(instant, "seconds")
    if key == "sql" or "\n" in str(value):
        return format_html('<code class="audit-sql">{}</code>', value)
    return format_html("{}", value)


def _instant(text: str) -> datetime | None:
    """Return the instant an ISO time with its offset names (as details store them), else None."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def detail_html(action: str, detail: dict[str, Any] | None) -> SafeString:
    """Return an event's detail as a list of labelled fields, records linked, empty ones as "—"; never a repr."""
    if not detail:
        return mark_safe('<span class="text-body-secondary">—</span>')
    return format_html(
        '<dl class="audit-detail">{}</dl>',
        format_html_join(
            "", "<div><dt>{}</dt><dd>{}</dd></div>", ((_label(k), _value(action, k, v)) for k, v in detail.items())
        ),
    )
