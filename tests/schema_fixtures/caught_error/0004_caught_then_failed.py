"""A data migration that meets a database error it expects, handles it, and then fails for another reason."""

from django.db import IntegrityError, migrations, transaction


def caught_then_failed(apps, schema_editor):
    widget_model = apps.get_model("schema_fixtures", "Widget")
    widget = widget_model.objects.create(name="a")
    try:
        with transaction.atomic():
            widget_model.objects.create(id=widget.id, name="duplicate")
    except IntegrityError:
        pass  # expected: that row exists
    raise RuntimeError("lookup table missing: cannot map old codes")


class Migration(migrations.Migration):
    dependencies = [("schema_fixtures", "0003_remove_widget_note")]
    operations = [migrations.RunPython(caught_then_failed, migrations.RunPython.noop)]
