"""Django admin for raw records (superusers). Message and Conversation use the default ModelAdmin on purpose:
bench/conversations.py measures that changelist as the baseline the conversation browser must beat."""

from django.contrib import admin

from schemaadmin.forms.auth import ThrottledAdminAuthenticationForm
from schemaadmin.models import AuditEvent, Conversation, Message

# /admin/login/ checks passwords too: it counts attempts with the same throttle as the dashboard's sign-in.
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    search_fields = ["title"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    search_fields = ["content"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_username", "action", "target"]
    list_filter = ["action"]
    search_fields = ["actor_username", "target"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):  # the audit log is written by the app, never by hand
        return False

    def has_change_permission(self, request, obj=None):
        return False
