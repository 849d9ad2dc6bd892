from django.db import migrations


class Migration(migrations.Migration):
    """Statements that hold the table, rewrite it, or switch off the timeouts the apply job sets."""

    dependencies = [("schema_fixtures", "0030_set_not_null_after_check")]
    operations = [
        migrations.RunSQL(
            """
            SET lock_timeout = 0;
            SET LOCAL statement_timeout TO '0ms';
            LOCK TABLE schema_fixtures_widget IN ACCESS EXCLUSIVE MODE;
            ALTER TABLE schema_fixtures_widget SET UNLOGGED;
            ALTER TABLE schema_fixtures_widget SET LOGGED;
            SET lock_timeout = '2s';
            LOCK TABLE schema_fixtures_widget IN ROW EXCLUSIVE MODE;
            """,
            migrations.RunSQL.noop,
        ),
    ]
