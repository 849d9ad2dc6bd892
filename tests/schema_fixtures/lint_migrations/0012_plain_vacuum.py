from django.db import migrations


class Migration(migrations.Migration):
    """Safe look-alike of 0011: plain VACUUM takes no write lock."""

    atomic = False
    dependencies = [("schema_fixtures", "0011_vacuum_full_cluster")]
    operations = [migrations.RunSQL("VACUUM (ANALYZE) schema_fixtures_widget", migrations.RunSQL.noop)]
