from django.db import migrations, models


class Migration(migrations.Migration):
    """0002 and 0003 squashed: a database that applied only 0002 keeps using them until it applies 0003."""

    replaces = [("schema_fixtures", "0002_widget_name_index"), ("schema_fixtures", "0003_remove_widget_note")]
    dependencies = [("schema_fixtures", "0001_initial")]
    operations = [
        migrations.AddIndex(model_name="widget", index=models.Index(fields=["name"], name="widget_name")),
        migrations.RemoveField(model_name="widget", name="note"),
    ]
