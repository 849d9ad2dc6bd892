from django.db import migrations


class Migration(migrations.Migration):
    # The app is migrated (it has a migrations package) but has no migration: migrate refuses the dependency.
    dependencies = [("schema_fixtures", "0001_initial"), ("sessions", "__first__")]
    operations = [migrations.RunPython(migrations.RunPython.noop)]
