"""Running totals on query statistics deltas, and the statements that have deltas: a window is two probes each.

Also: the deltas lose two indexes the running-totals index and the primary key cover, and the baseline, whose rows
are rewritten at every snapshot, leaves room on its pages for HOT updates.
"""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Accepted findings of the migration lint (services/schema/lint.py).
    lint_exemptions = {
        "index_many_columns": (
            "query_stat_delta_running is the statement's key (dbid, userid, queryid) and the snapshot: a window probes "
            "one statement's first and last delta in it, so all four columns are the search key."
        ),
    }
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
        RemoveIndexConcurrently(
            model_name="querystatdelta",
            name="query_stat_delta_queryid",
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
        # The foreign key's own index goes (the primary key leads with snapshot_id); the constraint stays as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="querystatdelta",
                    name="snapshot",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.DB_CASCADE,
                        related_name="+",
                        to="schemaadmin.querysnapshot",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX CONCURRENTLY IF EXISTS schemaadmin_query_stat_delta_snapshot_id_0f12f013",
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS schemaadmin_query_stat_delta_snapshot_id_0f12f013 "
                    "ON schemaadmin_query_stat_delta (snapshot_id)",
                ),
            ],
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
        migrations.RunSQL(
            "ALTER TABLE schemaadmin_query_stat_baseline SET (fillfactor = 50)",
            "ALTER TABLE schemaadmin_query_stat_baseline RESET (fillfactor)",
        ),
    ]
