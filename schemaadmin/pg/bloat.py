"""Bloat measured exactly with pgstattuple: btrees by leaf density (pgstatindex), heaps by live tuple length
(pgstattuple_approx). Both need the extension and its privilege (DatabaseStatistics.pgstatindex_usable,
pgstattuple_approx_usable); pg/row_statistics.py estimates the same from pg_stats where they are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.indexes import INDEX_LOCKED_SQL, ONE_TABLE_SQL, SYSTEM_SCHEMAS_SQL, fillfactor_sql, table_params
from schemaadmin.pg.locked import LOCKED_CTE, LOCKED_OIDS, table_locked_sql

__all__ = ["BtreeBloat", "TableBloat", "WastedSpace", "btree_bloat_exact", "table_bloat_exact"]


class WastedSpace:
    """What a bloat measurement (real_bytes on disk, expected_bytes packed) says is wasted."""

    __slots__ = ()
    real_bytes: int
    expected_bytes: int

    @property
    def wasted_bytes(self) -> int:
        return max(self.real_bytes - self.expected_bytes, 0)

    @property
    def wasted_ratio(self) -> float:
        return self.wasted_bytes / self.real_bytes if self.real_bytes else 0.0


@dataclass(frozen=True, slots=True)
class BtreeBloat(WastedSpace):
    schema: str
    name: str
    real_bytes: int
    expected_bytes: int
    exact: bool  # measured with pgstattuple's pgstatindex() rather than estimated from statistics


def btree_bloat_exact(
    *, table: tuple[str, str] | None = None, min_bytes: int = 0, using: str = "default"
) -> list[BtreeBloat]:
    """Measure the leaf density of each valid btree of at least min_bytes with pgstattuple's pgstatindex().

    Needs the extension and its privilege (DatabaseStatistics.pgstatindex_usable).

    This reads every index in full: slower than btree_bloat(), exact where that one estimates.
    """
    return fetch_rows(
        BtreeBloat,
        f"""
        WITH {LOCKED_CTE},
        -- Measured: the valid btrees (a partitioned index, relkind I, stores nothing: pgstatindex() refuses it) big
        -- enough, but none that a lock of another session touches, which pg_relation_size() would wait for. Fenced
        -- (MATERIALIZED) so that pgstatindex() runs on these rows only, whatever order the planner joins in.
        measured AS MATERIALIZED (
            SELECT n.nspname, ic.relname, ic.oid, ic.reloptions
            FROM pg_index AS i
            JOIN pg_class AS ic ON ic.oid = i.indexrelid
            JOIN pg_class AS t ON t.oid = i.indrelid
            JOIN pg_namespace AS n ON n.oid = t.relnamespace
            JOIN pg_am AS am ON am.oid = ic.relam AND am.amname = 'btree'
            WHERE i.indisvalid
              AND ic.relkind = 'i'
              AND {SYSTEM_SCHEMAS_SQL}
              AND {ONE_TABLE_SQL}
              AND CASE WHEN {INDEX_LOCKED_SQL} THEN false ELSE pg_relation_size(ic.oid) >= %(min_bytes)s END
        )
        SELECT m.nspname AS schema,
               m.relname AS name,
               pg_relation_size(m.oid) AS real_bytes,
               (
                   pg_relation_size(m.oid) * COALESCE(NULLIF(stat.avg_leaf_density, 'NaN'), 90)
                   / {fillfactor_sql("m", 90)}
               )::bigint AS expected_bytes,
               true AS exact
        FROM measured AS m
        CROSS JOIN LATERAL pgstatindex(m.oid::regclass) AS stat
        ORDER BY m.nspname, m.relname
        """,  # noqa: S608 -- constants, no input
        {**table_params(table), "min_bytes": min_bytes},
        using=using,
    )


@dataclass(frozen=True, slots=True)
class TableBloat(WastedSpace):
    schema: str
    name: str
    real_bytes: int  # the heap (main fork) on disk
    expected_bytes: int  # what its live rows would take packed at the table's fillfactor
    exact: bool  # measured with pgstattuple_approx() rather than estimated from statistics


# The heaps measured: user tables big enough, but none a lock of another session touches (pgstattuple_approx()
# would wait for it). The statement names LOCKED_CTE in its WITH.
_USER_TABLES_SQL = f"""
    c.relkind IN ('r', 'm')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND NOT starts_with(n.nspname, 'pg_temp_')
    AND NOT starts_with(n.nspname, 'pg_toast_temp_')
    AND CASE WHEN {table_locked_sql("c", LOCKED_OIDS)} THEN false ELSE pg_relation_size(c.oid) >= %(min_bytes)s END
"""


def table_bloat_exact(*, min_bytes: int = 0, using: str = "default") -> list[TableBloat]:
    """Measure each heap of at least min_bytes with pgstattuple_approx(); needs the extension and its privilege.

    It reads the pages the visibility map does not mark all-visible: slower than table_bloat(), exact where that
    one estimates.
    """
    return fetch_rows(
        TableBloat,
        f"""
        WITH {LOCKED_CTE}
        SELECT n.nspname AS schema,
               c.relname AS name,
               stat.table_len AS real_bytes,
               (
                   ceil(
                       stat.approx_tuple_len
                       / ((current_setting('block_size')::int - 24)
                          * {fillfactor_sql("c", 100)} / 100.0)
                   ) * current_setting('block_size')::int
               )::bigint AS expected_bytes,
               true AS exact
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL pgstattuple_approx(c.oid::regclass) AS stat
        WHERE {_USER_TABLES_SQL}
        ORDER BY n.nspname, c.relname
        """,  # noqa: S608 -- constants, no input
        {"min_bytes": min_bytes},
        using=using,
    )
