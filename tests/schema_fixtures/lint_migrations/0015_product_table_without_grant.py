from django.db import migrations, models


class Migration(migrations.Migration):
    """Dangerous when the app is the product's (PRODUCT_APPS): the EXPLAIN console's role cannot read the table."""

    dependencies = [("schema_fixtures", "0014_exclusion_on_new_table")]
    operations = [
        migrations.CreateModel("Gadget", [("id", models.BigAutoField(primary_key=True)), ("label", models.TextField())])
    ]
