from django.db import migrations


class Migration(migrations.Migration):
    """A second 0002 written on another branch: two leaves, which migrate refuses to run."""

    dependencies = [("schema_fixtures", "0001_initial")]
    operations = [migrations.RunSQL("SELECT 1", reverse_sql="SELECT 1")]
