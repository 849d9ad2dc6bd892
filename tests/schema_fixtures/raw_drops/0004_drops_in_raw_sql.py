"""Drops Django's operations do not name: a DROP TABLE in raw SQL, and a RemoveField behind
SeparateDatabaseAndState. Never applied: tests read its plan."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0003_remove_widget_note")]
    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS schema_fixtures_old_stuff", migrations.RunSQL.noop),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RemoveField("widget", "name")],
            state_operations=[],
        ),
    ]
