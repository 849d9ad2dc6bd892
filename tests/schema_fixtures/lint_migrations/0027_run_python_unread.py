from django.db import migrations


def paint_everything(apps, schema_editor):
    apps.get_model("schema_fixtures", "Widget").objects.update(colour="green")


class Migration(migrations.Migration):
    """0009 without its hint and alone: nothing says which table the Python writes, or how many rows."""

    dependencies = [("schema_fixtures", "0026_runsql_concurrently_atomic")]
    operations = [migrations.RunPython(paint_everything, migrations.RunPython.noop)]
