"""A rebuild records the oid of the replacement it built: after a stop, recovery tells that index, swapped in under
the old name before the worker died, from the old one left untouched. A nullable column: no row is rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schemaadmin", "0022_users_external_id_loose"),
    ]

    operations = [
        migrations.AddField(
            model_name="indexrebuild",
            name="built_oid",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
