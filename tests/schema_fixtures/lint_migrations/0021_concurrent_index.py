from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """Safe: an index built CONCURRENTLY in a non-atomic migration."""

    atomic = False
    dependencies = [("schema_fixtures", "0020_safe_alterations")]
    operations = [AddIndexConcurrently("widget", models.Index(fields=["stock"], name="widget_stock"))]
