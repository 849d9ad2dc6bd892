"""The browsing tables render the same HTML through as_page_html as through django-tables2's {% render_table %}."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from unittest.mock import patch

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.test import RequestFactory
from django.test.html import parse_html
from django.urls import clear_script_prefix, reverse, set_script_prefix
from django_tables2.rows import BoundRow

from schemaadmin.models import AuditEvent, ChatUser, Conversation, Message
from schemaadmin.tables.browse import AuditTable, ConversationTable, SearchHitTable, UserTable, object_url
from schemaadmin.templatetags.browse import browse_table

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _users() -> list[ChatUser]:
    return [
        ChatUser(id=uuid.UUID(int=1), external_id="+44 7700 900111", display_name="Ada <b>L</b>", email="a@x.org"),
        ChatUser(id=uuid.UUID(int=2), external_id="acct-&-bob", display_name="", email="", created_at=T0),
    ]


def _conversations() -> list[Conversation]:
    ada, bob = _users()
    return [
        Conversation(
            id=7,
            user=ada,
            title="Refund <script>alert(1)</script>",
            channel="whatsapp",
            message_count=12345,
            total_tokens=0,
            created_at=T0,
            last_message_at=T0.replace(hour=11),
        ),
        Conversation(id=8, user=bob, title="", channel="sms", message_count=1, total_tokens=9, created_at=T0),
        Conversation(id=9, user=bob, title="Other", channel="unknown", message_count=2, total_tokens=3, created_at=T0),
    ]


def _hits() -> list[Message]:
    conversation = _conversations()[0]
    hits = []
    for pk, role in ((101, "user"), (102, "tool")):
        hit = Message(id=pk, conversation=conversation, role=role, content="x", created_at=T0)
        hit.snippet = "a <mark>refund</mark> &amp; more"  # type: ignore[attr-defined]  # as search_page sets it
        hits.append(hit)
    return hits


def _with_render_table(table) -> str:
    request = RequestFactory().get("/conversations/")
    return Template("{% load django_tables2 %}{% render_table table %}").render(
        Context({"table": table, "request": request})
    )


# The tables pages render with {% browse_table %} (the audit log goes through {% render_table %} and its sortable
# "When" header, so it is not among them).
TABLES = {
    "conversations": lambda: ConversationTable(_conversations()),
    "a user's conversations": lambda: ConversationTable(_conversations(), exclude=("user",)),
    "search hits": lambda: SearchHitTable(_hits()),
    "users": lambda: UserTable(_users()),
    "own attrs and default": lambda: UserTable(_users(), attrs={"class": "t", "td": {"data-x": "1"}}, default="n/a"),
    "empty": lambda: ConversationTable([]),
    "empty users": lambda: UserTable([]),
}


@pytest.mark.parametrize("name", TABLES)
def test_fast_rendering_is_the_same_html_as_render_table(name):
    expected = _with_render_table(TABLES[name]())
    rendered = browse_table(TABLES[name]())
    assert parse_html(rendered) == parse_html(expected)


def test_fast_rendering_escapes_text_and_shows_labels_links_and_defaults():
    html = ConversationTable(_conversations()).as_page_html()
    assert "<script>" not in html and "Refund &lt;script&gt;" in html
    assert "Ada &lt;b&gt;L&lt;/b&gt;" in html and "acct-&amp;-bob" in html
    assert ">WhatsApp<" in html and ">SMS<" in html and ">unknown<" in html  # choice label, else the value
    assert '<a href="/conversations/8/"><bdi>Conversation 8</bdi></a>' in html
    assert f'href="/users/{uuid.UUID(int=1)}/"' in html
    assert '<td class="text-end" data-label="Messages">12,345</td>' in html
    assert (
        '<time datetime="2026-03-01T09:30:00Z" title="2026-03-01 09:30:00 UTC" data-when="">2026-03-01 09:30 UTC</time>'
        in html
    )
    assert html.count('<tr class="even">') == 2 and html.count('<tr class="odd">') == 1
    assert "Nothing matches these filters." in ConversationTable([]).as_page_html()


def test_a_table_given_its_own_attrs_does_not_change_the_others():
    own = UserTable(_users(), attrs={"th": {"data-x": "1"}}).as_page_html()
    plain = UserTable(_users()).as_page_html()
    assert 'data-x="1"' in own and "data-x" not in plain


def test_tables_with_features_the_fast_path_lacks_are_refused():
    with pytest.raises(ImproperlyConfigured, match="row_attrs"):
        ConversationTable([], row_attrs={"data-id": lambda record: record.pk}).as_page_html()
    with pytest.raises(ImproperlyConfigured, match="ordering"):
        ConversationTable([], orderable=True).as_page_html()


@pytest.mark.parametrize("prefix", ["/", "/dash/"])
def test_object_url_is_what_reverse_gives(prefix):
    set_script_prefix(prefix)
    try:
        key = uuid.uuid4()
        assert object_url("schemaadmin:user", key) == reverse("schemaadmin:user", args=[key])
        for pk in (1, 42, 918273645546372819):
            assert object_url("schemaadmin:conversation", pk) == reverse("schemaadmin:conversation", args=[pk])
    finally:
        clear_script_prefix()


def _events() -> list[AuditEvent]:
    return [
        AuditEvent(
            id=1, actor_username="ada", action="conversation.view", target="conversation:7", detail={"around": 3}, at=T0
        ),
        AuditEvent(id=2, actor_username="", action="login_failed", target="<b>x</b>", ip_address="192.0.2.1", at=T0),
        AuditEvent(id=3, actor_username="bo", action="index.rebuild", target='public."odd.idx"', detail={}, at=T0),
    ]


@pytest.mark.parametrize("events", [_events, list], ids=["events", "empty"])
def test_the_audit_log_s_rows_are_what_django_tables2_writes(events):
    # The audit log renders through includes/health_table.html (its sortable "When" header), which takes the rows
    # from tbody_html; django-tables2's own template writes them cell by cell.
    with patch.object(BoundRow, "__init__", side_effect=AssertionError("a row went through django-tables2")):
        ours = _with_render_table(AuditTable(events()))
    theirs = _with_render_table(AuditTable(events(), template_name="django_tables2/bootstrap5.html"))
    body = re.compile(r"<tbody.*</tbody>", re.DOTALL)
    assert parse_html(body.search(ours).group()) == parse_html(body.search(theirs).group())
    assert "&lt;b&gt;x&lt;/b&gt;" in ours or not events()
