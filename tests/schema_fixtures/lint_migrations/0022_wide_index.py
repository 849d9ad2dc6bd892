from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """Best practice (strong_migrations): a non-unique index of more than three columns rarely helps."""

    atomic = False
    dependencies = [("schema_fixtures", "0021_concurrent_index")]
    operations = [
        AddIndexConcurrently(
            "widget", models.Index(fields=["name", "colour", "price", "stock"], name="widget_four_columns")
        )
    ]
