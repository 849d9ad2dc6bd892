from django.db import migrations


class Migration(migrations.Migration):
    """Dangerous: VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock."""

    atomic = False
    dependencies = [("schema_fixtures", "0010_backfill_batched")]
    operations = [
        migrations.RunSQL("VACUUM FULL schema_fixtures_widget", migrations.RunSQL.noop),
        migrations.RunSQL("CLUSTER schema_fixtures_widget USING widget_name", migrations.RunSQL.noop),
    ]
