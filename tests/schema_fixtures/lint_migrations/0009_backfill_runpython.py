from django.db import migrations


def paint(apps, schema_editor):
    apps.get_model("schema_fixtures", "Widget").objects.update(colour="blue")


class Migration(migrations.Migration):
    """Dangerous: a RunPython backfill of the Widget table (named by its hints) in one transaction."""

    dependencies = [("schema_fixtures", "0008_backfill_runsql")]
    operations = [migrations.RunPython(paint, migrations.RunPython.noop, hints={"model_name": "widget"})]
