from django.urls import path, register_converter

from schemaadmin.converters import QualifiedNameConverter
from schemaadmin.views import (
    activity,
    audit,
    conversations,
    dashboard,
    explain,
    findings,
    health,
    rebuilds,
    schema_apply,
    schema_archive,
    schema_live,
    users,
)
from schemaadmin.views import indexes as health_views
from schemaadmin.views import queries as query_views
from schemaadmin.views import recall as recall_views
from schemaadmin.views import schema as schema_views

register_converter(QualifiedNameConverter, "qualified")

app_name = "schemaadmin"

urlpatterns = [
    path("", dashboard.overview, name="overview"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", health.favicon, name="favicon"),
    path("findings/", findings.finding_list, name="findings"),
    path("indexes/", health_views.index_list, name="indexes"),
    path("indexes/<qualified:qualified>/", health_views.index_detail, name="index"),
    path("indexes/<qualified:qualified>/recall", recall_views.recall_check_start, name="recall_check_start"),
    path("recall/<int:pk>/", recall_views.recall_check, name="recall_check"),
    path("tables/", health_views.table_list, name="tables"),
    path("tables/<qualified:qualified>/", health_views.table_detail, name="table"),
    path("conversations/", conversations.conversation_list, name="conversations"),
    path("conversations/<int:pk>/", conversations.conversation_detail, name="conversation"),
    path("conversations/<int:pk>/export.json", conversations.conversation_export, {"fmt": "json"}, name="export_json"),
    path("conversations/<int:pk>/export.md", conversations.conversation_export, {"fmt": "md"}, name="export_md"),
    path("users/", users.user_list, name="users"),
    path("users/<uuid:pk>/", users.user_detail, name="user"),
    path("audit/", audit.audit_list, name="audit"),
    path("activity/", activity.activity, name="activity"),
    path("activity/cancel", activity.signal_session, {"signal": "cancel"}, name="activity_cancel"),
    path("activity/terminate", activity.signal_session, {"signal": "terminate"}, name="activity_terminate"),
    path("explain/", explain.console, name="explain"),
    path("explain/<int:pk>/", explain.run_detail, name="explain_run"),
    path("explain/compare/", explain.compare, name="explain_compare"),
    path("rebuilds/", rebuilds.rebuild_list, name="rebuilds"),
    path("rebuilds/new", rebuilds.rebuild_new, name="rebuild_new"),
    path("rebuilds/<int:pk>/", rebuilds.rebuild_detail, name="rebuild"),
    path("rebuilds/<int:pk>/cancel", rebuilds.rebuild_cancel, name="rebuild_cancel"),
    path("rebuilds/<int:pk>/retry", rebuilds.rebuild_retry, name="rebuild_retry"),
    path("schema/", schema_views.migrations, name="schema"),
    path("schema/migrations/<str:app_label>/<str:name>/", schema_views.migration, name="schema_migration"),
    path("schema/tables/", schema_live.live_schema, name="schema_tables"),
    path("schema/tables/diagram/", schema_live.diagram, name="schema_diagram"),
    path("schema/drift/", schema_live.drift, name="schema_drift"),
    path("schema/apply/", schema_apply.apply_confirm, name="schema_apply"),
    path("schema/applies/", schema_apply.apply_list, name="schema_applies"),
    path("schema/applies/<int:pk>/", schema_apply.apply_run, name="schema_apply_run"),
    path("schema/archives/drop", schema_archive.archive_drop, name="schema_archive_drop"),
    path("queries/", query_views.query_list, name="queries"),
    path("queries/regressions/", query_views.query_regressions, name="query_regressions"),
    path("queries/<str:queryid>/", query_views.query_detail, name="query"),
]
