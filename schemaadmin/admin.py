"""Django admin for raw records (superusers). The chat tables' admins are read-only and audited
(schemaadmin/admin_chat.py); bench/conversations.py measures Django's stock changelist on a site of its own."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from schemaadmin.admin_chat import ChatRecordAdmin
from schemaadmin.forms.auth import ThrottledAdminAuthenticationForm
from schemaadmin.models import AuditEvent, ChatUser, Conversation, ConversationPreference, Message

# /admin/login/ checks passwords too: it counts attempts with the same throttle as the dashboard's sign-in.
admin.site.login_form = ThrottledAdminAuthenticationForm

# Characters of a message a list row shows.
EXCERPT_LENGTH = 80


@admin.register(ChatUser)
class ChatUserAdmin(ChatRecordAdmin):
    list_display = ["external_id", "display_name", "email", "created_at"]
    # The user's id, external id exactly (its unique index) or email in any case (users_email_upper).
    search_fields = ["id__exact", "external_id__exact", "email__iexact"]

    def viewed(self, obj: Any) -> tuple[str, dict[str, Any]]:
        return f"user:{obj.pk}", {}

    def listed(self, rows: list[Any]) -> dict[str, Any]:
        return {"users": [str(row.pk) for row in rows]}


@admin.register(Conversation)
class ConversationAdmin(ChatRecordAdmin):
    list_display = ["id", "title", "user", "channel", "message_count", "last_message_at"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    # A conversation's id, or a user's id for their conversations (conversations_user_last_msg).
    search_fields = ["id__exact", "user__id__exact"]
    indexed_lookups = frozenset({"user__id__exact"})

    def viewed(self, obj: Any) -> tuple[str, dict[str, Any]]:
        return f"conversation:{obj.pk}", {"user_id": str(obj.user_id)}

    def listed(self, rows: list[Any]) -> dict[str, Any]:
        return {"conversations": [row.pk for row in rows]}


@admin.register(Message)
class MessageAdmin(ChatRecordAdmin):
    list_display = ["id", "conversation", "user", "role", "excerpt", "created_at"]
    list_select_related = ["conversation", "user"]
    raw_id_fields = ["conversation", "user"]
    # A message's id, or a conversation's id for its messages (messages_conv_created_id). Not the text: a LIKE over
    # 10M messages reads them all; the dashboard's /conversations/ searches it through its full-text index.
    search_fields = ["id__exact", "conversation__id__exact"]
    indexed_lookups = frozenset({"conversation__id__exact"})

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).defer("search_vector")

    @admin.display(description="content")
    def excerpt(self, message: Message) -> str:
        return Truncator(message.content).chars(EXCERPT_LENGTH)

    def viewed(self, obj: Any) -> tuple[str, dict[str, Any]]:
        return f"message:{obj.pk}", {"conversations": [obj.conversation_id], "user_id": str(obj.user_id)}

    def listed(self, rows: list[Any]) -> dict[str, Any]:
        return {
            "messages": [row.pk for row in rows],
            "conversations": list(dict.fromkeys(row.conversation_id for row in rows)),
        }


@admin.register(ConversationPreference)
class ConversationPreferenceAdmin(ChatRecordAdmin):
    list_display = ["user", "language", "tone", "updated_at"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["user__id__exact"]  # its primary key

    def viewed(self, obj: Any) -> tuple[str, dict[str, Any]]:
        return f"user:{obj.pk}", {}

    def listed(self, rows: list[Any]) -> dict[str, Any]:
        return {"users": [str(row.pk) for row in rows]}


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_username", "action", "target"]
    # The list over millions of events: no DISTINCT over every action for a filter sidebar, no count of every row,
    # and a search that an index answers (who exactly, or the start of a target) instead of LIKE '%…%' on both.
    search_fields = ["actor_username__exact", "target__startswith"]
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):  # the audit log is written by the app, never by hand
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):  # nor rewritten by deleting what it says
        return False
