"""A rebuild records the oid of the index it claimed: after a stop, recovery tells the rebuilt index, swapped in
under the same name before the worker died, from the old one left untouched. A nullable column: no row is rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schemaadmin", "0022_users_external_id_loose"),
    ]

    operations = [
        migrations.AddField(
            model_name="indexrebuild",
            name="index_oid",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
