"""What pg_stats says about the rows of each table and index, read in one statement and kept until it can change.

The estimates of btree and table bloat need each relation's average row width (from pg_stats' avg_width and
null_frac), and some index rules the share of NULLs in an index's leading column or the NOT NULL columns a partial
index's predicate names. pg_stats is a view that checks privileges row by row: reading it is most of what those
estimates cost (a second at 30,000 indexes). What it holds changes only when a table is analyzed (ANALYZE, or
autovacuum's) or when DDL changes the catalogs; so relation_statistics() reads it once, for every relation, and
kept_statistics() keeps the rows per process and database alias under a fingerprint: the catalog fingerprint of
pg/index_cache.py (DDL) and the sum of every table's analyze counts (pg_stat_get_analyze_count and
pg_stat_get_autoanalyze_count, which ANALYZE raises when it writes new statistics). Sizes and row counts, which move
with every write and VACUUM, are never kept here: the bloat estimates combine the kept widths with the live figures
(pg/indexes.btree_bloat_estimate, pg/relations.table_bloat_estimate).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from schemaadmin.pg.bloat import BtreeBloat, TableBloat
from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.index_cache import forget_kept
from schemaadmin.pg.indexes import (
    ONE_TABLE_SQL,
    SYSTEM_SCHEMAS_SQL,
    IndexInfo,
    fillfactor_sql,
    indexes,
    indexes_of_table,
    table_params,
)
from schemaadmin.pg.names import qualify
from schemaadmin.pg.relations import TableHealth, tables

__all__ = [
    "RelationStatistics",
    "btree_bloat",
    "btree_bloat_estimates",
    "by_relation",
    "forget",
    "kept_statistics",
    "relation_statistics",
    "table_bloat",
    "table_bloat_estimates",
]

# (is_index, schema-qualified name) -> that relation's statistics
type StatisticsByRelation = Mapping[tuple[bool, str], "RelationStatistics"]


@dataclass(frozen=True, slots=True)
class RelationStatistics:
    """One table's or index's row width and NULL facts, as pg_stats and the catalog have them."""

    schema: str
    name: str
    is_index: bool
    is_btree: bool  # an index of method btree (the tables: false)
    # Indexes: the sum of their columns' avg_width; tables: of their columns' (1 - null_frac) * avg_width.
    data_width: float | None
    column_count: int  # the table's columns (dropped ones left out), the index's keys and INCLUDE columns
    has_nulls: bool  # some column holds a NULL (tables)
    has_stats: bool  # every one of those columns has a pg_stats row (else no estimate is made)
    fillfactor: int  # the relation's fillfactor, or its method's default (btree 90, heap 100)
    block_size: int
    leading_null_fraction: float | None  # a btree index's first key's null_frac, when that key is a plain column
    not_null_columns: tuple[str, ...]  # the NOT NULL table columns a partial index's predicate names

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)


# pg_stats is read once into one jsonb lookup: joined per relation, the view is evaluated once per row (seconds at
# 3,000 indexes), and a join to a materialized CTE of it was planned as a nested loop (minutes at 30,000). The lookup
# is used through a scalar subquery (one InitPlan value), never joined: as a joined column the whole object rode
# along every row of the hash joins (5 s at 3,000 indexes). Keys are schema, table and column joined by the unit
# separator (chr(31)), which names do not hold; values [null_frac, avg_width].
_STATISTICS_SQL = f"""
    WITH column_stats AS MATERIALIZED (
        SELECT COALESCE(
                   jsonb_object_agg(
                       concat_ws(chr(31), st.schemaname, st.tablename, st.attname),
                       jsonb_build_array(st.null_frac, st.avg_width)
                   ),
                   '{{}}'
               ) AS lookup
        FROM pg_stats AS st
        WHERE NOT st.inherited
          AND st.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          -- One table's: its own rows and its indexes' (an expression's statistics are kept under the index).
          -- The names as one array (an InitPlan, worked out once) let pg_stats find their relations by name;
          -- as two ORed conditions it checked every statistics row of the database (0.2 s at 30,000 indexes).
          AND (
              %(schema)s::text IS NULL
              OR (st.schemaname = %(schema)s AND st.tablename = ANY (ARRAY(
                  SELECT %(table)s::name
                  UNION ALL
                  SELECT xc.relname
                  FROM pg_index AS xi
                  JOIN pg_class AS xc ON xc.oid = xi.indexrelid
                  JOIN pg_class AS xt ON xt.oid = xi.indrelid
                  JOIN pg_namespace AS xn ON xn.oid = xt.relnamespace
                  WHERE xn.nspname = %(schema)s AND xt.relname = %(table)s
              )))
          )
    ),
    index_columns AS (
        -- Each column of each index, with its pg_stats row: a table column's, or the index's own for an expression.
        SELECT i.indexrelid,
               (SELECT cs.lookup FROM column_stats AS cs) -> concat_ws(
                   chr(31), n.nspname,
                   CASE WHEN ta.attnum IS NULL THEN ic.relname ELSE t.relname END,
                   COALESCE(ta.attname, ia.attname)
               ) AS stat
        FROM pg_index AS i
        JOIN pg_class AS ic ON ic.oid = i.indexrelid
        JOIN pg_class AS t ON t.oid = i.indrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        JOIN pg_attribute AS ia ON ia.attrelid = i.indexrelid AND ia.attnum > 0
        LEFT JOIN pg_attribute AS ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[ia.attnum - 1]
        WHERE {SYSTEM_SCHEMAS_SQL}
          AND {ONE_TABLE_SQL}
    ),
    index_widths AS (
        SELECT c.indexrelid,
               sum((c.stat ->> 1)::float8) AS data_width,
               count(*) AS column_count,
               count(c.stat) = count(*) AS has_stats
        FROM index_columns AS c
        GROUP BY c.indexrelid
    ),
    table_columns AS (
        SELECT c.oid,
               (SELECT cs.lookup FROM column_stats AS cs) -> concat_ws(chr(31), n.nspname, c.relname, a.attname) AS stat
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        JOIN pg_class AS t ON t.oid = c.oid
        JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'm')
          AND {SYSTEM_SCHEMAS_SQL}
          AND {ONE_TABLE_SQL}
    ),
    table_widths AS (
        SELECT c.oid,
               sum((1 - (c.stat ->> 0)::float8) * (c.stat ->> 1)::float8) AS data_width,
               count(*) AS column_count,
               COALESCE(bool_or((c.stat ->> 0)::float8 > 0), false) AS has_nulls,
               count(c.stat) = count(*) AS has_stats
        FROM table_columns AS c
        GROUP BY c.oid
    )
    SELECT n.nspname AS schema,
           ic.relname AS name,
           true AS is_index,
           am.amname = 'btree' AS is_btree,
           w.data_width AS data_width,
           w.column_count AS column_count,
           false AS has_nulls,
           w.has_stats AS has_stats,
           {fillfactor_sql("ic", 90)} AS fillfactor,
           current_setting('block_size')::int AS block_size,
           CASE WHEN am.amname = 'btree' AND i.indkey[0] > 0 THEN
               (
                   (SELECT cs.lookup FROM column_stats AS cs)
                   -> concat_ws(chr(31), n.nspname, t.relname, lead.attname) ->> 0
               )::float8
           END AS leading_null_fraction,
           CASE WHEN i.indpred IS NULL THEN '{{}}'::text[] ELSE ARRAY(
               SELECT a.attname::text
               FROM pg_depend AS d
               JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = d.refobjsubid
               WHERE d.classid = 'pg_class'::regclass
                 AND d.objid = i.indexrelid
                 AND d.refclassid = 'pg_class'::regclass
                 AND d.refobjid = i.indrelid
                 AND d.refobjsubid > 0
                 AND a.attnotnull
               ORDER BY a.attnum
           ) END AS not_null_columns
    FROM index_widths AS w
    JOIN pg_index AS i ON i.indexrelid = w.indexrelid
    JOIN pg_class AS ic ON ic.oid = i.indexrelid
    JOIN pg_class AS t ON t.oid = i.indrelid
    JOIN pg_namespace AS n ON n.oid = t.relnamespace
    JOIN pg_am AS am ON am.oid = ic.relam
    LEFT JOIN pg_attribute AS lead ON lead.attrelid = i.indrelid AND lead.attnum = i.indkey[0] AND i.indkey[0] > 0
    UNION ALL
    SELECT n.nspname AS schema,
           c.relname AS name,
           false AS is_index,
           false AS is_btree,
           w.data_width AS data_width,
           w.column_count AS column_count,
           w.has_nulls AS has_nulls,
           w.has_stats AS has_stats,
           {fillfactor_sql("c", 100)} AS fillfactor,
           current_setting('block_size')::int AS block_size,
           NULL::float8 AS leading_null_fraction,
           '{{}}'::text[] AS not_null_columns
    FROM table_widths AS w
    JOIN pg_class AS c ON c.oid = w.oid
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
"""  # noqa: S608 -- constants, no input


def relation_statistics(*, table: tuple[str, str] | None = None, using: str = "default") -> list[RelationStatistics]:
    """Return the row statistics of every index and table (materialized views too) in user schemas, or of table's.

    One statement, reading pg_stats once, whatever the number of relations.
    """
    return fetch_rows(RelationStatistics, _STATISTICS_SQL, table_params(table), using=using)


def by_relation(rows: Iterable[RelationStatistics]) -> dict[tuple[bool, str], RelationStatistics]:
    """Return rows keyed by (is_index, qualified name): an index and a table may share a name only across kinds."""
    return {(row.is_index, row.qualified_name): row for row in rows}


def btree_bloat_estimate(index: IndexInfo, statistics: RelationStatistics | None) -> BtreeBloat | None:
    """Estimate a btree packed at its fillfactor from its entries and its columns' average widths.

    None (no estimate) for an invalid index or another method, when a column has no statistics (never analyzed), or
    when neither the index nor its table has a row estimate yet. real_bytes is the index's size as read.
    """
    if statistics is None or not statistics.is_btree or not statistics.has_stats or not index.is_valid:
        return None
    entries = index.index_rows if index.index_rows is not None else index.table_rows
    if entries is None:
        return None
    block_size = statistics.block_size
    # index tuple header and heap pointer (8), the data MAXALIGNed, and its line pointer (4)
    tuple_bytes = 8 + math.ceil((statistics.data_width or 0) / 8) * 8 + 4
    # leaf pages at fillfactor (page header 24 and btree special space 16 left out), plus the metapage
    leaf_pages = math.ceil(max(entries, 0) * tuple_bytes / ((block_size - 40) * statistics.fillfactor / 100))
    return BtreeBloat(
        schema=index.schema,
        name=index.name,
        real_bytes=index.size_bytes,
        expected_bytes=(leaf_pages + 1) * block_size,
        exact=False,
    )


def btree_bloat_estimates(
    index_list: Iterable[IndexInfo], statistics: StatisticsByRelation, *, min_bytes: int = 0
) -> list[BtreeBloat]:
    """Return the estimates of the btrees of at least min_bytes (smaller ones cannot waste enough to matter)."""
    estimates = (
        btree_bloat_estimate(index, statistics.get((True, index.qualified_name)))
        for index in index_list
        if index.size_bytes >= min_bytes
    )
    return [estimate for estimate in estimates if estimate is not None]


def btree_bloat(
    *, table: tuple[str, str] | None = None, min_bytes: int = 0, using: str = "default"
) -> list[BtreeBloat]:
    """Estimate each valid btree (of table, if given) of at least min_bytes packed at its fillfactor (two statements).

    Indexes whose columns have no statistics yet (never analyzed) are left out rather than guessed.
    """
    index_list = indexes(using=using) if table is None else indexes_of_table(*table, using=using)
    return btree_bloat_estimates(
        index_list, by_relation(relation_statistics(table=table, using=using)), min_bytes=min_bytes
    )


def table_bloat_estimate(table: TableHealth, statistics: RelationStatistics | None) -> TableBloat | None:
    """Estimate a heap packed at its fillfactor from its row estimate and its columns' average widths.

    None when a column has no statistics or the table has no row estimate yet (never analyzed or vacuumed).
    real_bytes is the heap's size as read (TableHealth.table_bytes).
    """
    if statistics is None or statistics.is_index or not statistics.has_stats or table.estimated_rows is None:
        return None
    block_size = statistics.block_size
    null_bitmap = math.ceil(statistics.column_count / 8) if statistics.has_nulls else 0
    # tuple header (23) and null bitmap MAXALIGNed, the data MAXALIGNed, and its line pointer (4)
    tuple_bytes = math.ceil((23 + null_bitmap) / 8) * 8 + math.ceil((statistics.data_width or 0) / 8) * 8 + 4
    # pages at fillfactor (the 24-byte page header left out)
    pages = math.ceil(table.estimated_rows * tuple_bytes / ((block_size - 24) * statistics.fillfactor / 100))
    return TableBloat(
        schema=table.schema,
        name=table.name,
        real_bytes=table.table_bytes,
        expected_bytes=pages * block_size,
        exact=False,
    )


def table_bloat_estimates(
    table_list: Iterable[TableHealth], statistics: StatisticsByRelation, *, min_bytes: int = 0
) -> list[TableBloat]:
    """Return the estimates of the heaps (tables and materialized views) of at least min_bytes."""
    estimates = (
        table_bloat_estimate(table, statistics.get((False, table.qualified_name)))
        for table in table_list
        if table.kind in ("r", "m") and table.table_bytes >= min_bytes
    )
    return [estimate for estimate in estimates if estimate is not None]


def table_bloat(*, min_bytes: int = 0, using: str = "default") -> list[TableBloat]:
    """Estimate each heap of at least min_bytes packed at its fillfactor (two statements).

    Tables whose columns have no statistics yet (never analyzed) are left out rather than guessed.
    """
    statistics = by_relation(relation_statistics(using=using))
    return table_bloat_estimates(tables(measure_indexes=False, using=using), statistics, min_bytes=min_bytes)


@dataclass(frozen=True, slots=True)
class _Kept:
    fingerprint: tuple[int, int]
    rows: dict[tuple[bool, str], RelationStatistics]  # (is_index, qualified name) -> row


_kept: dict[str, _Kept] = {}
_lock = threading.Lock()


def kept_statistics(
    fingerprint: tuple[int, int],
    *,
    using: str = "default",
    read: Callable[..., list[RelationStatistics]] = relation_statistics,
) -> dict[tuple[bool, str], RelationStatistics]:
    """Return every relation's statistics keyed by (is_index, qualified name), read again only when fingerprint moved.

    fingerprint is (the catalog fingerprint, the sum of the tables' analyze counts) read in the same statement as the
    indexes (pg/index_cache.py): the rows kept for using under the same fingerprint are returned without a query.
    """
    kept = _kept.get(using)
    if kept is not None and kept.fingerprint == fingerprint:
        return kept.rows
    # Read after the fingerprint: an ANALYZE committing in between makes the rows newer than it, and the next call,
    # seeing another fingerprint, reads again. Kept rows are never older than their fingerprint says.
    rows = by_relation(read(using=using))
    with _lock:
        _kept[using] = _Kept(fingerprint, rows)
    return rows


def forget(using: str | None = None) -> None:
    """Drop the kept statistics of one alias (None: of every alias); the next call reads them again."""
    forget_kept(_kept, _lock, using)
