import schemaadmin_no_such_module  # noqa: F401 -- the import that fails
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0003_remove_widget_note")]
    operations = [migrations.RunPython(migrations.RunPython.noop)]
