"""A rebuild records the oid its index had when the job claimed it: after a stop, recovery tells a REINDEX
CONCURRENTLY whose swap had committed (that oid now a _ccold leftover) from one that never reached it. A nullable
column: no row is rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schemaadmin", "0023_indexrebuild_built_oid"),
    ]

    operations = [
        migrations.AddField(
            model_name="indexrebuild",
            name="original_oid",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
