from django.urls import path

from schemaadmin.views import audit, conversations, dashboard, health, users

app_name = "schemaadmin"

urlpatterns = [
    path("", dashboard.overview, name="overview"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", health.favicon, name="favicon"),
    path("conversations/", conversations.conversation_list, name="conversations"),
    path("conversations/<int:pk>/", conversations.conversation_detail, name="conversation"),
    path("conversations/<int:pk>/export.json", conversations.conversation_export, {"fmt": "json"}, name="export_json"),
    path("conversations/<int:pk>/export.md", conversations.conversation_export, {"fmt": "md"}, name="export_md"),
    path("users/", users.user_list, name="users"),
    path("users/<uuid:pk>/", users.user_detail, name="user"),
    path("audit/", audit.audit_list, name="audit"),
]
