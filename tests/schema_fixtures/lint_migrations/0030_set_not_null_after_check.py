from django.db import migrations


class Migration(migrations.Migration):
    """The last: SET NOT NULL, which the validated CHECK spares its scan, and the CHECK dropped."""

    dependencies = [("schema_fixtures", "0029_not_null_check_validated")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE schema_fixtures_widget ALTER COLUMN colour SET NOT NULL;"
            " ALTER TABLE schema_fixtures_widget DROP CONSTRAINT widget_colour_nn;",
            migrations.RunSQL.noop,
        ),
    ]
