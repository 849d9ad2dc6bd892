"""Findings about tables: statistics the planner lacks, vacuum falling behind, scans that read everything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from schemaadmin.pg import ddl, identifiers, table_ddl
from schemaadmin.services.index_health.findings import Finding, table_finding
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.index_health.thresholds import Thresholds

__all__ = ["table_findings"]


def stale_statistics(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for table in snapshot.tables:
        if max(table.rows, table.live_tuples) < thresholds.stale_statistics_min_rows:
            continue  # a few dozen rows: any plan reads them as fast, whatever the statistics say
        never = table.last_analyzed is None and (table.table_bytes > 0 or bool(table.estimated_rows))
        behind = table.changes_since_analyze > thresholds.stale_statistics_factor * table.analyze_threshold
        if not (never or behind):
            continue
        if never:
            why = f"{table.qualified_name} holds data but was never analyzed, so the planner guesses its row counts."
        else:
            why = (
                f"{table.qualified_name} changed {table.changes_since_analyze:,} rows since its last analyze, "
                f"over {thresholds.stale_statistics_factor:g}× the {table.analyze_threshold:,.0f} at which "
                "autovacuum should have analyzed it."
            )
        fix_sql = ddl.script(table_ddl.analyze(table.schema, table.name))
        yield table_finding("stale_statistics", snapshot.database, table, why, fix_sql)


def vacuum_overdue(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    now = snapshot.statistics.now
    max_age = timedelta(days=thresholds.vacuum_max_age_days)
    for table in snapshot.tables:
        piling_up = table.dead_tuples > thresholds.vacuum_dead_tuples_factor * table.vacuum_threshold
        changing = table.dead_tuples > 0 or table.changes_since_analyze > 0
        last = table.last_vacuumed or snapshot.statistics.stats_since
        neglected = changing and now - last > max_age
        if not (piling_up or neglected):
            continue
        if piling_up:
            why = (
                f"{table.qualified_name} has {table.dead_tuples:,} dead rows, over "
                f"{thresholds.vacuum_dead_tuples_factor:g}× its autovacuum threshold of "
                f"{table.vacuum_threshold:,.0f}: autovacuum is not keeping up, and scans read the dead rows."
            )
        else:
            since = "never" if table.last_vacuumed is None else f"not in {(now - last).days} days"
            why = f"{table.qualified_name} keeps changing but was {since} vacuumed."
        fix_sql = ddl.script(table_ddl.vacuum(table.schema, table.name, analyze=True))
        yield table_finding("vacuum_overdue", snapshot.database, table, why, fix_sql)


def sequential_scan_heavy(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for table in snapshot.tables:
        full_reads = table.full_sequential_reads
        share = full_reads / (full_reads + table.index_scans) if full_reads + table.index_scans else None
        if (
            share is None
            or table.rows < thresholds.sequential_scan_min_rows
            or full_reads < thresholds.sequential_scan_min_scans
            or share < thresholds.sequential_scan_min_share
        ):
            continue
        message = (
            f"{share:.0%} of the scans of {table.qualified_name} (≈{table.rows:,} rows) read the whole table "
            f"({full_reads:,.0f} whole-table reads): some frequent query lacks an index."
        )
        fix_sql = (
            "-- Find the statements that read it (needs pg_stat_statements), then index their WHERE columns:\n"
            "SELECT calls, rows, query\nFROM pg_stat_statements\n"
            f"WHERE query ILIKE {identifiers.literal('%' + table.name + '%')}\nORDER BY calls DESC\nLIMIT 20;"
        )
        yield table_finding("sequential_scan_heavy", snapshot.database, table, message, fix_sql)


def table_findings(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    """Yield every table finding of the snapshot."""
    yield from stale_statistics(snapshot, thresholds)
    yield from vacuum_overdue(snapshot, thresholds)
    yield from sequential_scan_heavy(snapshot, thresholds)
