"""Each statement's running totals now on its key, and each snapshot's stored time: windows ending now probe once.

A window [start, end) is its statements' running totals at end less those at start. At end they are the key's own
when the statement's latest delta is older than end (every window that ends now), so only the start is probed in
the deltas' index. A snapshot's total time gives a statement's share of a window without summing every statement.
"""

from django.db import migrations, models

COUNTERS = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written")
CUMULATIVE = ", ".join(f"cum_{name}" for name in COUNTERS)

# What the snapshots stored so far say: each key's latest delta, and each snapshot's deltas' time.
KEY_TOTALS = f"""
UPDATE schemaadmin_query_stat_key AS k
SET {", ".join(f"cum_{name} = latest.cum_{name}" for name in COUNTERS)}
FROM (
    SELECT DISTINCT ON (s.database_alias, d.dbid, d.userid, d.queryid)
           s.database_alias, d.dbid, d.userid, d.queryid, {CUMULATIVE}
    FROM schemaadmin_query_stat_delta AS d
    JOIN schemaadmin_query_snapshot AS s ON s.id = d.snapshot_id
    ORDER BY s.database_alias, d.dbid, d.userid, d.queryid, d.snapshot_id DESC
) AS latest
WHERE k.database_alias = latest.database_alias
  AND k.dbid = latest.dbid AND k.userid = latest.userid AND k.queryid = latest.queryid
"""  # noqa: S608 -- column names are constants
SNAPSHOT_TOTALS = """
UPDATE schemaadmin_query_snapshot AS s
SET total_ms = stored.total_ms
FROM (
    SELECT snapshot_id, sum(total_ms) AS total_ms
    FROM schemaadmin_query_stat_delta
    GROUP BY snapshot_id
) AS stored
WHERE s.id = stored.snapshot_id
"""


class Migration(migrations.Migration):
    # Non-atomic: each backfill commits on its own and locks only the rows it updates, never a table.
    atomic = False

    dependencies = [
        ("schemaadmin", "0016_query_stats_series_index"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name="querystatkey",
                name=f"cum_{name}",
                field=models.FloatField(db_default=0) if name == "total_ms" else models.BigIntegerField(db_default=0),
            )
            for name in COUNTERS
        ),
        migrations.AddField(
            model_name="querysnapshot",
            name="total_ms",
            field=models.FloatField(db_default=0),
        ),
        migrations.RunSQL(KEY_TOTALS, migrations.RunSQL.noop),
        migrations.RunSQL(SNAPSHOT_TOTALS, migrations.RunSQL.noop),
        # Up to QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT keys are rewritten at every snapshot: room for HOT updates.
        migrations.RunSQL(
            "ALTER TABLE schemaadmin_query_stat_key SET (fillfactor = 50)",
            "ALTER TABLE schemaadmin_query_stat_key RESET (fillfactor)",
        ),
    ]
