from django.db import migrations, models


class Migration(migrations.Migration):
    """Safe: widening a varchar, varchar to text, a larger numeric precision, dropping NOT NULL."""

    dependencies = [("schema_fixtures", "0019_nullable_columns")]
    operations = [
        migrations.AlterField("widget", "name", models.CharField(max_length=200)),
        migrations.AlterField("widget", "colour", models.TextField(null=True)),
        migrations.AlterField("widget", "price", models.DecimalField(max_digits=12, decimal_places=2, null=True)),
        migrations.AlterField("widget", "level", models.IntegerField(db_default=0, null=True)),
    ]
