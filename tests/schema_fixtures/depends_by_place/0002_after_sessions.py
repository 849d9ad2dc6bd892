from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0001_initial"), ("sessions", "__first__"), ("auth", "__latest__")]
    operations = [migrations.RunPython(migrations.RunPython.noop)]
