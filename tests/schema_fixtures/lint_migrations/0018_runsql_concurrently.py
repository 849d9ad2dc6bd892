from django.db import migrations


class Migration(migrations.Migration):
    """Safe look-alike of 0017: the index is built CONCURRENTLY, outside a transaction."""

    atomic = False
    dependencies = [("schema_fixtures", "0017_runsql_on_big_table")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY widget_name_lower ON schema_fixtures_widget (lower(name))",
            migrations.RunSQL.noop,
        ),
    ]
