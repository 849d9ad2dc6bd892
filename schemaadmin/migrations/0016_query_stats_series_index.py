"""The roll-ups' series index covers what a sparkline reads, so a page's series come from the index alone."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Non-atomic: the indexes build and go CONCURRENTLY, so snapshots keep writing meanwhile.
    atomic = False

    dependencies = [
        ("schemaadmin", "0015_query_stats_running_totals"),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name="querystatrollup",
            name="query_stat_rollup_queryid",
        ),
        AddIndexConcurrently(
            model_name="querystatrollup",
            index=models.Index(
                fields=["queryid", "span", "bucket"],
                include=("database_alias", "dbid", "userid", "calls", "total_ms"),
                name="query_stat_rollup_series",
            ),
        ),
    ]
