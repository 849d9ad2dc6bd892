from django.db import migrations, models


class Migration(migrations.Migration):
    """Dangerous: a column and its backfill in one transaction, holding the ALTER's lock through the UPDATE."""

    dependencies = [("schema_fixtures", "0007_jsonb_column")]
    operations = [
        migrations.AddField("widget", "colour", models.CharField(max_length=20, null=True)),
        migrations.RunSQL("UPDATE schema_fixtures_widget SET colour = 'red'", migrations.RunSQL.noop),
    ]
