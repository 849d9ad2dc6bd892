from django.db import migrations, models


class Migration(migrations.Migration):
    """Dangerous: NOT NULL with a Python-side default; Django drops the database default right after."""

    dependencies = [("schema_fixtures", "0003_remove_widget_note")]
    operations = [migrations.AddField("widget", "rank", models.IntegerField(default=0))]
