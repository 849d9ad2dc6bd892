from django.db import migrations


class Migration(migrations.Migration):
    """The second: validated in a transaction of its own (a scan that takes no lock against writes)."""

    dependencies = [("schema_fixtures", "0028_not_null_check_not_valid")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE schema_fixtures_widget VALIDATE CONSTRAINT widget_colour_nn", migrations.RunSQL.noop
        ),
    ]
