from django.apps import AppConfig


class SchemaAdminConfig(AppConfig):
    name = "schemaadmin"
    verbose_name = "SchemaAdmin"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their side effects: system checks and audit signal receivers register themselves.
        from schemaadmin import audit, checks  # noqa: F401
