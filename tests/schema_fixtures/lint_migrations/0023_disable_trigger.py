from django.db import migrations


class Migration(migrations.Migration):
    """Dangerous: DISABLE TRIGGER ALL also switches off the foreign-key triggers."""

    dependencies = [("schema_fixtures", "0022_wide_index")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE schema_fixtures_widget DISABLE TRIGGER ALL",
            "ALTER TABLE schema_fixtures_widget ENABLE TRIGGER ALL",
        ),
    ]
