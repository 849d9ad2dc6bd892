from django.db import migrations


class Migration(migrations.Migration):
    """0018 without atomic = False: each CONCURRENTLY statement is refused inside the migration's transaction."""

    dependencies = [("schema_fixtures", "0025_serial_column")]
    operations = [
        migrations.RunSQL(
            """
            CREATE INDEX CONCURRENTLY widget_name_upper ON schema_fixtures_widget (upper(name));
            DROP INDEX CONCURRENTLY IF EXISTS public.widget_name_lower;
            REINDEX INDEX CONCURRENTLY widget_name_upper;
            """,
            migrations.RunSQL.noop,
        ),
    ]
