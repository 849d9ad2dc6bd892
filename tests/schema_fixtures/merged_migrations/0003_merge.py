"""Django replays 0002_wide, then 0002_narrow (its depth-first plan explores the larger parent first): the column
is smallint here, and this AlterField writes ALTER COLUMN … TYPE integer."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0002_narrow"), ("schema_fixtures", "0002_wide")]
    operations = [migrations.AlterField("gauge", "level", models.IntegerField())]
