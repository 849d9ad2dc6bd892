"""The messages of a thread as HTML: one Python pass per message instead of a template include per message."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from schemaadmin.models import Message
from schemaadmin.templatetags.browse import is_long, marked_body, message_body, preview, utc_time
from schemaadmin.templatetags.humanize_extras import thousands

__all__ = ["message_html", "thread_messages"]

register = template.Library()


@register.simple_tag
def thread_messages(messages: Iterable[Message], focus: int | None, link: str) -> SafeString:
    """Render messages in order: {% thread_messages window.messages window.focus thread_url %}."""
    # Why not {% include %} per message: the include, ~15 variable lookups and a dozen filters per message cost
    # ~3 ms of a 50-message thread here; this is the same markup at a few microseconds a message.
    # tests/views/test_conversations.py and test_thread_search.py hold it to what users rely on: ids, focus, hits,
    # links, collapsing, code blocks, times and escaping.
    link = escape(link)
    return mark_safe("".join([message_html(m, focus=focus, link=link) for m in messages]))


def message_html(message: Message, *, focus: int | None, link: str) -> str:
    """Return one message as an <article>: header, then its body (collapsed when long; marked when a search hit)."""
    pk = message.pk
    role = escape(message.role)
    content = message.content
    marked = getattr(message, "marked", None)  # set by services.thread_search.mark_hits on a search's hits
    body: str = marked_body(marked) if marked else message_body(content)
    if is_long(content):
        summary = (
            f'<summary><bdi class="preview">{escape(preview(content))}</bdi> '
            f'<span class="show-all">Show all ({thousands(len(content))} characters)</span>'
            '<span class="show-less">Show less</span></summary>'
        )
        opened = " open" if marked else ""  # a search hit opens expanded at its marks
        body = f'<details class="long-message"{opened}>\n  {summary}\n  <div class="body">{body}</div>\n</details>'
    else:
        body = f'<div class="body">{body}</div>'
    focused = " focus" if pk == focus else ""
    hit = ' data-hit="1"' if marked else ""
    return (
        f'<article id="m{pk}" class="message role-{role}{focused}"{hit}>\n'
        f'<header class="d-flex flex-wrap gap-2 align-items-baseline">\n'
        f'  <span class="role-badge role-{role}">{role}</span>\n'
        f"  {utc_time(message.created_at)}\n"
        f'  <span class="text-body-secondary small">{thousands(message.token_count)} '
        f"token{'' if message.token_count == 1 else 's'}</span>\n"
        f'  <a class="small ms-auto" href="{link}?around={pk}#m{pk}" title="Link to this message">#{pk}</a>\n'
        f"</header>\n{body}\n</article>\n"
    )
