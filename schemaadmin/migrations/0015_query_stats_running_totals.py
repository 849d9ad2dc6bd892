"""Running totals on query statistics deltas, and the statements that have deltas: a window is two probes each."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Non-atomic: the index on the deltas builds CONCURRENTLY, so snapshots keep writing meanwhile.
    atomic = False

    dependencies = [
        ("schemaadmin", "0014_activity_permissions"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueryStatKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "database_alias",
                        "dbid",
                        "userid",
                        "queryid",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("database_alias", models.TextField()),
                ("dbid", models.BigIntegerField()),
                ("userid", models.BigIntegerField()),
                ("queryid", models.BigIntegerField()),
                ("first_taken_at", models.DateTimeField()),
                ("last_taken_at", models.DateTimeField()),
            ],
            options={
                "db_table": "schemaadmin_query_stat_key",
            },
        ),
        migrations.AddField(
            model_name="querystatdelta",
            name="cum_calls",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="querystatdelta",
            name="cum_rows",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="querystatdelta",
            name="cum_shared_blks_hit",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="querystatdelta",
            name="cum_shared_blks_read",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="querystatdelta",
            name="cum_temp_blks_written",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="querystatdelta",
            name="cum_total_ms",
            field=models.FloatField(db_default=0),
        ),
        AddIndexConcurrently(
            model_name="querystatdelta",
            index=models.Index(
                fields=["dbid", "userid", "queryid", "snapshot"],
                include=(
                    "calls",
                    "total_ms",
                    "rows",
                    "shared_blks_hit",
                    "shared_blks_read",
                    "temp_blks_written",
                    "cum_calls",
                    "cum_total_ms",
                    "cum_rows",
                    "cum_shared_blks_hit",
                    "cum_shared_blks_read",
                    "cum_temp_blks_written",
                ),
                name="query_stat_delta_running",
            ),
        ),
    ]
