from django.db import migrations


class Migration(migrations.Migration):
    """Safe look-alike of 0023: turning the triggers back on."""

    dependencies = [("schema_fixtures", "0023_disable_trigger")]
    operations = [migrations.RunSQL("ALTER TABLE schema_fixtures_widget ENABLE TRIGGER ALL", migrations.RunSQL.noop)]
