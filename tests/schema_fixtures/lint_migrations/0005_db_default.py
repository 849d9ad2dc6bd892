from django.db import migrations, models


class Migration(migrations.Migration):
    """Safe look-alike of 0004: db_default keeps the default in the database."""

    dependencies = [("schema_fixtures", "0004_python_default")]
    operations = [migrations.AddField("widget", "level", models.IntegerField(db_default=0))]
