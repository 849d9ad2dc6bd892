from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0003_remove_widget_note")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL("CREATE SCHEMA billing_made", "DROP SCHEMA billing_made")]
        )
    ]
