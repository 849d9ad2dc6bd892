from django.db import migrations, models


class Migration(migrations.Migration):
    """A model renamed (its table with it), then an index built on it without CONCURRENTLY: the table is the
    widget table, as big as it was, under its new name."""

    dependencies = [("schema_fixtures", "0031_locks_logging_timeouts")]
    operations = [
        migrations.RenameModel("Widget", "Gadget"),
        migrations.AddIndex("gadget", models.Index(fields=["name"], name="gadget_name_plain")),
    ]
