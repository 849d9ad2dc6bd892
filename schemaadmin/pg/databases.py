"""The database's and the cluster's own figures: cache hit rate, statistics reset, build memory, autovacuum
settings, the extensions health reads with; and every database's transaction ID ages (wraparound is cluster-wide)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemaadmin.pg.connection import fetch_only_row, fetch_rows

__all__ = ["DatabaseAge", "DatabaseStatistics", "database_ages", "database_statistics"]


@dataclass(frozen=True, slots=True)
class DatabaseStatistics:
    database: str
    cache_hit_rate: float | None  # share of block reads served from shared buffers; None before any read
    stats_reset: datetime | None  # None: never reset (counting since the cluster was created)
    server_started: datetime
    now: datetime
    maintenance_work_mem_bytes: int
    pgstattuple_installed: bool
    pgstattuple_approx_usable: bool  # installed, and this role may run pgstattuple_approx() (pg_stat_scan_tables)
    pgstatindex_usable: bool  # installed, and this role may run pgstatindex() (pg_stat_scan_tables)
    freeze_max_age: int  # autovacuum_freeze_max_age: past it autovacuum must freeze the table
    multixact_freeze_max_age: int  # autovacuum_multixact_freeze_max_age
    autovacuum_on: bool  # the server's autovacuum setting
    track_counts: bool  # without it autovacuum has no counts to act on, whatever its own setting

    @property
    def stats_since(self) -> datetime:
        """Return since when the usage counters count, at the latest (the reset, else the server start)."""
        return self.stats_reset or self.server_started


def database_statistics(*, using: str = "default") -> DatabaseStatistics:
    """Return database-wide figures: cache hit rate, when statistics were reset, build memory, autovacuum settings.

    Not the database's size: pg_database_size() stats every file of the database (0.1-0.3 s at 30,000 indexes);
    the overview reads it once, through pg/server.server_info().
    """
    return fetch_only_row(
        DatabaseStatistics,
        """
        SELECT d.datname AS database,
               d.blks_hit::float8 / NULLIF(d.blks_hit + d.blks_read, 0) AS cache_hit_rate,
               d.stats_reset AS stats_reset,
               pg_postmaster_start_time() AS server_started,
               now() AS now,
               pg_size_bytes(current_setting('maintenance_work_mem')) AS maintenance_work_mem_bytes,
               EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple') AS pgstattuple_installed,
               COALESCE(
                   has_function_privilege(to_regprocedure('pgstattuple_approx(regclass)'), 'EXECUTE'), false
               ) AS pgstattuple_approx_usable,
               COALESCE(has_function_privilege(to_regprocedure('pgstatindex(regclass)'), 'EXECUTE'), false)
                   AS pgstatindex_usable,
               current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
               current_setting('autovacuum_multixact_freeze_max_age')::bigint AS multixact_freeze_max_age,
               current_setting('autovacuum')::bool AS autovacuum_on,
               current_setting('track_counts')::bool AS track_counts
        FROM pg_stat_database AS d
        WHERE d.datname = current_database()
        """,
        using=using,
    )


@dataclass(frozen=True, slots=True)
class DatabaseAge:
    name: str
    xid_age: int  # age(datfrozenxid): transactions since the oldest unfrozen one in this database
    multixact_age: int  # mxid_age(datminmxid)
    allows_connections: bool  # datallowconn: false for template0, which VACUUM cannot reach without a change


def database_ages(*, using: str = "default") -> list[DatabaseAge]:
    """Return every database of the cluster with its transaction and multixact ID ages (wraparound is cluster-wide)."""
    return fetch_rows(
        DatabaseAge,
        """
        SELECT d.datname AS name,
               age(d.datfrozenxid) AS xid_age,
               mxid_age(d.datminmxid) AS multixact_age,
               d.datallowconn AS allows_connections
        FROM pg_database AS d
        ORDER BY d.datname
        """,
        using=using,
    )
