from django.db import migrations, models


class Migration(migrations.Migration):
    """A plain (non-concurrent) index: what the lint warns about on a big table."""

    dependencies = [("schema_fixtures", "0001_initial")]

    operations = [
        migrations.AddIndex(model_name="widget", index=models.Index(fields=["name"], name="widget_name")),
    ]
