from django.apps import AppConfig


class SchemaFixturesConfig(AppConfig):
    """A tiny app installed only in tests: its migrations are the pending ones the schema pages apply."""

    name = "tests.schema_fixtures"
    label = "schema_fixtures"
    default_auto_field = "django.db.models.BigAutoField"
