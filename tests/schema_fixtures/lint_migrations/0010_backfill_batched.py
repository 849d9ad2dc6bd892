from django.db import migrations


def paint_in_batches(apps, schema_editor):
    widget = apps.get_model("schema_fixtures", "Widget")
    last = 0
    while ids := list(widget.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:1000]):
        widget.objects.filter(pk__in=ids).update(colour="blue")
        last = ids[-1]


class Migration(migrations.Migration):
    """Safe look-alike of 0008/0009: batched, outside a transaction; a bounded UPDATE."""

    atomic = False
    dependencies = [("schema_fixtures", "0009_backfill_runpython")]
    operations = [
        migrations.RunPython(paint_in_batches, migrations.RunPython.noop, hints={"model_name": "widget"}),
        migrations.RunSQL("UPDATE schema_fixtures_widget SET colour = 'red' WHERE id < 1000", migrations.RunSQL.noop),
    ]
