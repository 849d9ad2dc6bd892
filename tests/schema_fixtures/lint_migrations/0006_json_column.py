from django.db import migrations

from tests.schema_fixtures.fields import PlainJsonField


class Migration(migrations.Migration):
    """Dangerous: a json column (no equality operator)."""

    dependencies = [("schema_fixtures", "0005_db_default")]
    operations = [migrations.AddField("widget", "payload", PlainJsonField(null=True))]
