from django.db import migrations


class Migration(migrations.Migration):
    """A destructive change: applying it from the schema page needs the target's name typed."""

    dependencies = [("schema_fixtures", "0002_widget_name_index")]

    operations = [migrations.RemoveField(model_name="widget", name="note")]
