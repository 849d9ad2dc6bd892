from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0001_initial")]
    operations = [migrations.AlterField("gauge", "level", models.IntegerField())]
