"""Query statistics over time: pg_stat_statements snapshots kept as deltas, their roll-ups, and statement texts.

The snapshot task (services/workload/snapshots.py) reads the counters every few minutes and stores, per snapshot,
what each statement did since the previous one. A window's figures are sums of deltas, read from running totals;
hour and day roll-ups hold the series. The SQL that writes these tables is in pg/query_history.py, the SQL that reads
them in pg/query_windows.py; both name them by their db_table.
"""

from __future__ import annotations

from django.db import models

__all__ = ["QuerySnapshot", "QueryStatBaseline", "QueryStatDelta", "QueryStatKey", "QueryStatRollup", "QueryText"]


class _Statement(models.Model):
    """One pg_stat_statements entry's key: a statement (queryid) as one role (userid) ran it in one database (dbid)."""

    dbid = models.BigIntegerField()
    userid = models.BigIntegerField()
    queryid = models.BigIntegerField()

    class Meta:
        abstract = True


class _Counters(_Statement):
    """What a statement did: the pg_stat_statements counters SchemaAdmin keeps."""

    calls = models.BigIntegerField()
    # total_exec_time + total_plan_time (plan time is 0 unless pg_stat_statements.track_planning is on).
    total_ms = models.FloatField()
    rows = models.BigIntegerField()
    shared_blks_hit = models.BigIntegerField()
    shared_blks_read = models.BigIntegerField()
    temp_blks_written = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"statement {self.queryid}: {self.calls} calls, {self.total_ms:.1f} ms"


class _RunningTotals(models.Model):
    """A statement's counters summed over its stored deltas up to one of them."""

    cum_calls = models.BigIntegerField(db_default=0)
    cum_total_ms = models.FloatField(db_default=0)
    cum_rows = models.BigIntegerField(db_default=0)
    cum_shared_blks_hit = models.BigIntegerField(db_default=0)
    cum_shared_blks_read = models.BigIntegerField(db_default=0)
    cum_temp_blks_written = models.BigIntegerField(db_default=0)

    class Meta:
        abstract = True


class QuerySnapshot(models.Model):
    """One reading of pg_stat_statements on a database alias's server."""

    id = models.BigAutoField(primary_key=True)
    database_alias = models.TextField(default="default")
    taken_at = models.DateTimeField()
    # The snapshot before this one; None for the first of a series, which only sets the baseline (no deltas).
    previous_taken_at = models.DateTimeField(null=True, blank=True)
    # pg_stat_statements_info: when every entry was last reset, and how many entries were evicted since.
    stats_reset = models.DateTimeField()
    dealloc = models.BigIntegerField()
    # Everything was reset since the previous snapshot: the deltas are the counters since that reset.
    reset = models.BooleanField(default=False)
    # Entries evicted since the previous snapshot (pg_stat_statements.max reached).
    evicted = models.BigIntegerField(default=0)
    # Statements whose counters moved since the previous snapshot, and how many of them have a stored delta
    # (the costliest QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT by time).
    statements_changed = models.BigIntegerField(default=0)
    statements_kept = models.BigIntegerField(default=0)
    # The time of the stored deltas together: a statement's share of a window without summing every statement.
    total_ms = models.FloatField(db_default=0)

    class Meta:
        db_table = "schemaadmin_query_snapshot"
        indexes = [models.Index(fields=["database_alias", "taken_at"], name="query_snapshot_alias_taken")]

    def __str__(self) -> str:
        return f"query snapshot {self.pk} of {self.database_alias} at {self.taken_at:%Y-%m-%d %H:%M}"


class QueryStatDelta(_Counters, _RunningTotals):
    """What one statement (database, role, queryid) did between a snapshot and the one before it.

    The cum_ columns are the statement's running totals over its stored deltas up to this one, so that a window's
    sum is two index probes per statement (the last running total in the window less the one before its first
    delta), however long the window.
    """

    pk = models.CompositePrimaryKey("snapshot_id", "dbid", "userid", "queryid")
    # Deleted with its snapshot by the database (pruning deletes whole days of rows: never through Python).
    # The primary key leads with the snapshot: no index of its own.
    snapshot = models.ForeignKey(QuerySnapshot, on_delete=models.DB_CASCADE, related_name="+", db_index=False)

    class Meta:
        db_table = "schemaadmin_query_stat_delta"
        indexes = [
            # A window's sums: per statement, the first and last delta of the window, read from the index alone;
            # and one statement's series, snapshot by snapshot.
            models.Index(
                fields=["dbid", "userid", "queryid", "snapshot"],
                name="query_stat_delta_running",
                include=[
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
                ],
            ),
        ]


class QueryStatKey(_Statement, _RunningTotals):
    """A statement that has stored deltas, when its first and latest were taken, and its running totals now.

    The candidates of a window; the cum_ columns are those of its latest delta, so a window that ends after it
    (every window that ends now) reads them here instead of probing the deltas.
    """

    pk = models.CompositePrimaryKey("database_alias", "dbid", "userid", "queryid")
    database_alias = models.TextField()
    first_taken_at = models.DateTimeField()
    last_taken_at = models.DateTimeField()

    class Meta:
        db_table = "schemaadmin_query_stat_key"

    def __str__(self) -> str:
        return f"statement {self.queryid} of {self.dbid}/{self.userid}"


class QueryStatRollup(_Counters):
    """The sum of one statement's deltas over an hour or a day (UTC) of snapshots."""

    class Span(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    pk = models.CompositePrimaryKey("database_alias", "span", "bucket", "dbid", "userid", "queryid")
    database_alias = models.TextField()
    span = models.TextField(choices=Span.choices)
    # The start of the hour or day the snapshots were taken in.
    bucket = models.DateTimeField()

    class Meta:
        db_table = "schemaadmin_query_stat_rollup"
        # The series of a page's statements, read from the index alone.
        indexes = [
            models.Index(
                fields=["queryid", "span", "bucket"],
                name="query_stat_rollup_series",
                include=["database_alias", "dbid", "userid", "calls", "total_ms"],
            )
        ]


class QueryStatBaseline(_Counters):
    """The counters of every statement at the latest snapshot: what the next snapshot subtracts."""

    pk = models.CompositePrimaryKey("database_alias", "dbid", "userid", "queryid")
    database_alias = models.TextField()
    # When the entry started counting (PostgreSQL 17+): a change means it was evicted or reset and came back.
    stats_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "schemaadmin_query_stat_baseline"


class QueryText(models.Model):
    """A statement's normalized text (constants replaced by $n), stored once per queryid."""

    queryid = models.BigIntegerField(primary_key=True)
    query = models.TextField()
    first_seen = models.DateTimeField()

    class Meta:
        db_table = "schemaadmin_query_text"

    def __str__(self) -> str:
        return f"{self.queryid}: {self.query[:60]}"
