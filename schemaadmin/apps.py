from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SchemaAdminConfig(AppConfig):
    name = "schemaadmin"
    verbose_name = "SchemaAdmin"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their side effects: system checks and audit signal receivers register themselves.
        from schemaadmin import audit, checks  # noqa: F401


class AuditedAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, its site the one whose refusals are audited (schemaadmin/admin_site.py). Not the
    default config of this module: that is SchemaAdminConfig, for the "schemaadmin" app."""

    default = False
    default_site = "schemaadmin.admin_site.AuditedAdminSite"
