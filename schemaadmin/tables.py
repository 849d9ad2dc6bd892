"""django-tables2 tables of the conversation browser, the user finder and the audit log."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from schemaadmin.models import AuditEvent, ChatUser, Conversation, Message
from schemaadmin.templatetags.browse import utc_time
from schemaadmin.templatetags.humanize_extras import thousands

__all__ = ["AuditTable", "ConversationTable", "SearchHitTable", "UserTable"]


class _BrowseTable(tables.Table):
    class Meta:
        orderable = False  # order and paging come from the keyset controls, never from OFFSET
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = "Nothing matches these filters."


class ConversationTable(_BrowseTable):
    title = tables.Column(verbose_name="Conversation", empty_values=())
    user = tables.Column(verbose_name="User", empty_values=())
    channel = tables.Column()
    message_count = tables.Column(verbose_name="Messages", attrs={"td": {"class": "text-end"}})
    total_tokens = tables.Column(verbose_name="Tokens", attrs={"td": {"class": "text-end"}})
    created_at = tables.Column(verbose_name="Created")
    activity = tables.Column(verbose_name="Last activity", empty_values=())

    class Meta(_BrowseTable.Meta):
        model = Conversation
        fields: tuple[str, ...] = ()

    def render_title(self, record: Conversation) -> str:
        url = reverse("schemaadmin:conversation", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record.title or f"Conversation {record.pk}")

    def render_user(self, record: Conversation) -> str:
        return _user_link(record.user)

    def render_channel(self, record: Conversation) -> str:
        return record.get_channel_display()

    def render_message_count(self, value: int) -> str:
        return thousands(value)

    def render_total_tokens(self, value: int) -> str:
        return thousands(value)

    def render_created_at(self, value: Any) -> str:
        return utc_time(value)

    def render_activity(self, record: Conversation) -> str:
        return utc_time(record.last_message_at or record.created_at)


class SearchHitTable(_BrowseTable):
    snippet = tables.Column(verbose_name="Matching message", empty_values=(), attrs={"td": {"class": "snippet"}})
    role = tables.Column()
    conversation = tables.Column(empty_values=())
    user = tables.Column(accessor="conversation__user", empty_values=())
    created_at = tables.Column(verbose_name="Sent")

    class Meta(_BrowseTable.Meta):
        model = Message
        fields: tuple[str, ...] = ()

    def render_snippet(self, record: Message) -> str:
        url = reverse("schemaadmin:conversation", args=[record.conversation_id])
        return format_html(
            '<a class="hit" href="{}?around={}#m{}">{}</a>',
            url,
            record.pk,
            record.pk,
            record.snippet,  # type: ignore[attr-defined]
        )

    def render_role(self, record: Message) -> str:
        return format_html('<span class="role-badge role-{}">{}</span>', record.role, record.role)

    def render_conversation(self, record: Message) -> str:
        conversation = record.conversation
        url = reverse("schemaadmin:conversation", args=[conversation.pk])
        return format_html('<a href="{}">{}</a>', url, conversation.title or f"Conversation {conversation.pk}")

    def render_user(self, record: Message) -> str:
        return _user_link(record.conversation.user)

    def render_created_at(self, value: Any) -> str:
        return utc_time(value)


def _user_link(user: ChatUser) -> str:
    url = reverse("schemaadmin:user", args=[user.pk])
    return format_html(
        '<a href="{}">{}</a> <span class="text-body-secondary small">{}</span>',
        url,
        user.display_name or user.external_id,
        user.external_id,
    )


class UserTable(_BrowseTable):
    display_name = tables.Column(verbose_name="Name", empty_values=())
    external_id = tables.Column(verbose_name="External id")
    email = tables.Column()
    created_at = tables.Column(verbose_name="Since")

    class Meta(_BrowseTable.Meta):
        model = ChatUser
        fields: tuple[str, ...] = ()
        empty_text = "No user matches."

    def render_display_name(self, record: ChatUser) -> str:
        url = reverse("schemaadmin:user", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record.display_name or "—")

    def render_created_at(self, value: Any) -> str:
        return utc_time(value)


class AuditTable(_BrowseTable):
    at = tables.Column(verbose_name="When")
    actor_username = tables.Column(verbose_name="Who", empty_values=())
    action = tables.Column()
    target = tables.Column()
    ip_address = tables.Column(verbose_name="From")
    detail = tables.Column(empty_values=())

    class Meta(_BrowseTable.Meta):
        model = AuditEvent
        fields: tuple[str, ...] = ()
        empty_text = "No audit events match."

    def render_at(self, value: Any) -> str:
        return utc_time(value)

    def render_actor_username(self, value: str) -> str:
        return value or "—"

    def render_detail(self, value: dict[str, Any]) -> str:
        return format_html(
            "<code class='small'>{}</code>", ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "—"
        )
