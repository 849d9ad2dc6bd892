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
