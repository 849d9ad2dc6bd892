"""Tables: sizes, row estimates, vacuum and analyze state, scans; and the database-wide statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemaadmin.pg.connection import fetch_row, fetch_rows

__all__ = [
    "DatabaseStatistics",
    "TableEstimate",
    "TableHealth",
    "database_statistics",
    "table_estimates",
    "tables",
]


@dataclass(frozen=True, slots=True)
class TableEstimate:
    table: str
    estimated_rows: int | None  # None: never vacuumed or analyzed, so the planner has no estimate yet
    total_bytes: int


def table_estimates(
    tables: Sequence[str], *, schema: str | None = "public", using: str = "default"
) -> list[TableEstimate]:
    """Return the planner's row estimate (reltuples) and total size of each named table, in the order given.

    With schema=None each name resolves through the search_path, as Django's unqualified table names do.
    """
    return fetch_rows(
        TableEstimate,
        """
        SELECT wanted.name AS table,
               CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS estimated_rows,
               COALESCE(pg_total_relation_size(c.oid), 0) AS total_bytes
        FROM unnest(%(tables)s::text[]) WITH ORDINALITY AS wanted(name, position)
        JOIN pg_class AS c
          ON c.oid = to_regclass(concat_ws('.', quote_ident(%(schema)s), quote_ident(wanted.name)))
         AND c.relkind IN ('r', 'p')
        ORDER BY wanted.position
        """,
        {"tables": list(tables), "schema": schema},
        using=using,
    )


@dataclass(frozen=True, slots=True)
class TableHealth:
    schema: str
    name: str
    total_bytes: int
    table_bytes: int
    index_bytes: int
    estimated_rows: int | None  # None: never vacuumed or analyzed
    live_tuples: int
    dead_tuples: int
    changes_since_analyze: int
    inserts_since_vacuum: int
    last_vacuum: datetime | None
    last_autovacuum: datetime | None
    last_analyze: datetime | None
    last_autoanalyze: datetime | None
    sequential_scans: int
    sequential_rows_read: int
    index_scans: int
    vacuum_threshold: float  # dead tuples at which autovacuum would vacuum, with the table's own settings
    analyze_threshold: float  # changes at which autovacuum would analyze

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def last_vacuumed(self) -> datetime | None:
        return max((t for t in (self.last_vacuum, self.last_autovacuum) if t is not None), default=None)

    @property
    def last_analyzed(self) -> datetime | None:
        return max((t for t in (self.last_analyze, self.last_autoanalyze) if t is not None), default=None)

    @property
    def sequential_share(self) -> float | None:
        """Return the share of scans that were sequential, or None when the table was never scanned."""
        scans = self.sequential_scans + self.index_scans
        return self.sequential_scans / scans if scans else None

    @property
    def rows(self) -> int:
        """Return the best row count at hand: the planner's estimate, else the live tuples counted by stats."""
        return self.estimated_rows if self.estimated_rows is not None else self.live_tuples


def tables(*, using: str = "default") -> list[TableHealth]:
    """Return every table in user schemas with size, rows, dead tuples, vacuum and analyze times, and scans."""
    return fetch_rows(
        TableHealth,
        """
        SELECT n.nspname AS schema,
               c.relname AS name,
               size.table_bytes + size.index_bytes AS total_bytes,
               size.heap_bytes AS table_bytes,
               size.index_bytes AS index_bytes,
               CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS estimated_rows,
               COALESCE(s.n_live_tup, 0) AS live_tuples,
               COALESCE(s.n_dead_tup, 0) AS dead_tuples,
               COALESCE(s.n_mod_since_analyze, 0) AS changes_since_analyze,
               COALESCE(s.n_ins_since_vacuum, 0) AS inserts_since_vacuum,
               s.last_vacuum AS last_vacuum,
               s.last_autovacuum AS last_autovacuum,
               s.last_analyze AS last_analyze,
               s.last_autoanalyze AS last_autoanalyze,
               COALESCE(s.seq_scan, 0) AS sequential_scans,
               COALESCE(s.seq_tup_read, 0) AS sequential_rows_read,
               COALESCE(s.idx_scan, 0) AS index_scans,
               COALESCE(o.vacuum_base, current_setting('autovacuum_vacuum_threshold')::float8)
                   + COALESCE(o.vacuum_scale, current_setting('autovacuum_vacuum_scale_factor')::float8)
                     * GREATEST(c.reltuples, 0) AS vacuum_threshold,
               COALESCE(o.analyze_base, current_setting('autovacuum_analyze_threshold')::float8)
                   + COALESCE(o.analyze_scale, current_setting('autovacuum_analyze_scale_factor')::float8)
                     * GREATEST(c.reltuples, 0) AS analyze_threshold
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
        -- pg_total_relation_size() would measure the indexes a second time.
        CROSS JOIN LATERAL (
            SELECT pg_relation_size(c.oid) AS heap_bytes,
                   pg_table_size(c.oid) AS table_bytes,
                   pg_indexes_size(c.oid) AS index_bytes
        ) AS size
        LEFT JOIN LATERAL (
            SELECT max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold')::float8
                       AS vacuum_base,
                   max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor')::float8
                       AS vacuum_scale,
                   max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_threshold')::float8
                       AS analyze_base,
                   max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_scale_factor')::float8
                       AS analyze_scale
            FROM pg_options_to_table(c.reloptions)
        ) AS o ON true
        WHERE c.relkind IN ('r', 'p', 'm')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND n.nspname NOT LIKE 'pg\\_temp\\_%'
          AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
        ORDER BY n.nspname, c.relname
        """,
        using=using,
    )


@dataclass(frozen=True, slots=True)
class DatabaseStatistics:
    database: str
    database_bytes: int
    cache_hit_rate: float | None  # share of block reads served from shared buffers; None before any read
    stats_reset: datetime | None  # None: never reset (counting since the cluster was created)
    server_started: datetime
    now: datetime
    maintenance_work_mem_bytes: int
    pgstattuple_installed: bool

    @property
    def stats_since(self) -> datetime:
        """Return since when the usage counters count, at the latest (the reset, else the server start)."""
        return self.stats_reset or self.server_started


def database_statistics(*, using: str = "default") -> DatabaseStatistics:
    """Return database-wide figures: size, cache hit rate, when statistics were reset, build memory."""
    statistics = fetch_row(
        DatabaseStatistics,
        """
        SELECT d.datname AS database,
               pg_database_size(d.datid) AS database_bytes,
               d.blks_hit::float8 / NULLIF(d.blks_hit + d.blks_read, 0) AS cache_hit_rate,
               d.stats_reset AS stats_reset,
               pg_postmaster_start_time() AS server_started,
               now() AS now,
               pg_size_bytes(current_setting('maintenance_work_mem')) AS maintenance_work_mem_bytes,
               EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple') AS pgstattuple_installed
        FROM pg_stat_database AS d
        WHERE d.datname = current_database()
        """,
        using=using,
    )
    assert statistics is not None
    return statistics
