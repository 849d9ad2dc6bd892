from django.db import migrations, models


class Migration(migrations.Migration):
    """Safe look-alike of 0006: Django's JSONField is jsonb."""

    dependencies = [("schema_fixtures", "0006_json_column")]
    operations = [migrations.AddField("widget", "settings", models.JSONField(null=True))]
