from django.db import migrations, models


class Migration(migrations.Migration):
    """Safe: nullable columns need no default and no scan."""

    dependencies = [("schema_fixtures", "0018_runsql_concurrently")]
    operations = [
        migrations.AddField("widget", "stock", models.IntegerField(null=True)),
        migrations.AddField("widget", "price", models.DecimalField(max_digits=8, decimal_places=2, null=True)),
    ]
