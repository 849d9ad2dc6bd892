from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0003_remove_widget_note")]
    operations = [migrations.AddField("gadget", "size", models.IntegerField(null=True))]
