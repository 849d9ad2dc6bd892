from django.db import migrations


class Migration(migrations.Migration):
    """The first step of SET NOT NULL's safe way: a CHECK proving the column not null, added without a scan."""

    dependencies = [("schema_fixtures", "0027_run_python_unread")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE schema_fixtures_widget ADD CONSTRAINT widget_colour_nn CHECK (colour IS NOT NULL) NOT VALID",
            "ALTER TABLE schema_fixtures_widget DROP CONSTRAINT widget_colour_nn",
        ),
    ]
