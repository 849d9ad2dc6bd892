"""Tables: sizes, row estimates, vacuum and analyze state, scans; and relation names (the database-wide figures:
pg/databases.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.locked import LOCKED_CTE, LOCKED_OIDS, partitions_below_sql, table_locked_sql
from schemaadmin.pg.names import db_table_parts, name_pair, partition_parent_sql, qualify

__all__ = [
    "TOTAL_BYTES_SQL",
    "RelationName",
    "TableEstimate",
    "TableHealth",
    "other_relation_names_ending",
    "relation_names_starting",
    "table_estimates",
    "tables",
]


# What pg_class last counted of a table c (VACUUM, ANALYZE, CREATE INDEX set relpages): its heap, its TOAST table
# and their indexes, in bytes. The size of a table that cannot be opened now (pg/locked.py).
_HEAP_BYTES_SQL = "c.relpages::bigint * current_setting('block_size')::bigint"
_COUNTED_INDEX_BYTES_SQL = (
    "COALESCE((SELECT sum(x.relpages)::bigint FROM pg_index AS xi JOIN pg_class AS x ON x.oid = xi.indexrelid "
    "WHERE xi.indrelid = c.oid), 0) * current_setting('block_size')::bigint"
)
_COUNTED_TOAST_BYTES_SQL = (
    "COALESCE((SELECT sum(x.relpages)::bigint FROM pg_class AS x WHERE x.oid = c.reltoastrelid "
    "OR x.oid IN (SELECT xi.indexrelid FROM pg_index AS xi WHERE xi.indrelid = c.reltoastrelid)), 0) "
    "* current_setting('block_size')::bigint"
)
_COUNTED_BYTES_SQL = f"({_HEAP_BYTES_SQL} + {_COUNTED_TOAST_BYTES_SQL} + {_COUNTED_INDEX_BYTES_SQL})"
# The total size of table c (pg_total_relation_size), or what pg_class counted of it when a lock of another session
# touches it, which pg_total_relation_size() would wait for. Needs LOCKED_CTE in the statement's WITH.
TOTAL_BYTES_SQL = (
    f"CASE WHEN {table_locked_sql('c', LOCKED_OIDS)} THEN {_COUNTED_BYTES_SQL} "
    "ELSE COALESCE(pg_total_relation_size(c.oid), 0) END"
)


@dataclass(frozen=True, slots=True)
class TableEstimate:
    table: str
    estimated_rows: int | None  # None: never vacuumed or analyzed, so the planner has no estimate yet
    total_bytes: int
    partitioned: bool = False  # a partitioned table: its rows are its partitions' (the sum of those analyzed)


def table_estimates(
    tables: Sequence[str], *, schema: str | None = "public", using: str = "default"
) -> list[TableEstimate]:
    """Return the planner's row estimate (reltuples) and total size of each named table, in the order given.

    With schema=None each name is a model's db_table (names.db_table_parts): one naming its schema is that
    schema's table, any other resolves through the search_path, as Django's unqualified table names do. A table
    that a lock of another session touches (pg/locked.py) is not opened: its size is its pages as pg_class last
    counted them, with its indexes' and TOAST table's. A partitioned table's rows are its leaf partitions'
    (autovacuum never analyzes the partitioned table itself), None until one of them is analyzed.
    """
    parts = [db_table_parts(name) if schema is None else (schema, name) for name in tables]
    return fetch_rows(
        TableEstimate,
        f"""
        WITH {LOCKED_CTE}
        SELECT wanted.name AS table,
               CASE WHEN c.relkind = 'p'
                    THEN (SELECT sum(leaf.reltuples) FILTER (WHERE leaf.reltuples >= 0)::bigint
                          FROM {partitions_below_sql("c.oid")} AS tree
                          JOIN pg_class AS leaf ON leaf.oid = tree.relid
                          WHERE tree.is_leaf)
                    WHEN c.reltuples < 0 THEN NULL
                    ELSE c.reltuples::bigint END AS estimated_rows,
               {TOTAL_BYTES_SQL} AS total_bytes,
               c.relkind = 'p' AS partitioned
        FROM unnest(%(tables)s::text[], %(schemas)s::text[], %(names)s::text[])
             WITH ORDINALITY AS wanted(name, schema, table_name, position)
        JOIN pg_class AS c
          ON c.oid = to_regclass(concat_ws('.', quote_ident(wanted.schema), quote_ident(wanted.table_name)))
         AND c.relkind IN ('r', 'p')
        ORDER BY wanted.position
        """,  # noqa: S608 -- constants and parameters
        {
            "tables": list(tables),
            "schemas": [part_schema for part_schema, _ in parts],
            "names": [name for _, name in parts],
        },
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
    kind: str  # pg_class.relkind: r table, p partitioned table, m materialized view
    is_partition: bool
    # The partitioned table it is a partition of (schema, name): a partitioned table stores nothing itself, and its
    # sizes are its partitions' (services/index_health/partitions.py adds them up)
    partition_of: tuple[str, str] | None
    has_primary_key: bool
    has_id_column: bool  # without a primary key: a column named id is there already (False when it has a key)
    # A partitioned table's key columns, then its sub-partitioned tables' (a column may repeat; None: an expression);
    # () for other tables
    partition_key: tuple[str | None, ...]
    xid_age: int  # age(relfrozenxid) of the table or its TOAST table, whichever is older
    xid_age_in_toast: bool  # the TOAST table holds the older relfrozenxid
    multixact_age: int  # mxid_age(relminmxid), likewise over the table and its TOAST table
    autovacuum_off: bool  # its own storage parameter says autovacuum_enabled = off
    toast_autovacuum_off: bool  # toast.autovacuum_enabled = off
    columns_full: bool  # it has PostgreSQL's 1,600 columns (dropped ones count): no column can be added
    # A lock of another session touches it, its TOAST table or an index of theirs (pg/locked.py): its sizes are what
    # pg_class last counted, not measured (measuring would wait for the lock).
    locked: bool = False

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)

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
    def full_sequential_reads(self) -> float:
        """Return how many times sequential scans read the whole table: rows read over rows, at most the scans.

        Counting rows rather than scans leaves out index builds that sample the table: an IVFFlat build starts
        over a hundred sequential scans that together read a few times the table, not a hundred.
        """
        return min(float(self.sequential_scans), self.sequential_rows_read / max(self.rows, self.live_tuples, 1))

    @property
    def rows(self) -> int:
        """Return the best row count at hand: the planner's estimate, else the live tuples counted by stats."""
        return self.estimated_rows if self.estimated_rows is not None else self.live_tuples


def tables(*, measure_indexes: bool = True, using: str = "default") -> list[TableHealth]:
    """Return every table in user schemas with size, rows, dead tuples, vacuum and analyze times, and scans.

    measure_indexes=False leaves index_bytes and index_scans 0 (total_bytes the table's own) for a caller that has
    just read every index's size and scans and adds them itself: pg_indexes_size() opens each index again, and the
    scans are a second pg_stat lookup per index (~50 ms at 30,000 indexes). A table that a lock of another session
    touches (pg/locked.py) is not opened: its sizes, its indexes' too, are what pg_class last counted (locked).
    """
    # A locked table's indexes are counted here either way: the index reads leave them out (pg/indexes.py).
    index_bytes = (
        f"CASE WHEN lock.locked THEN {_COUNTED_INDEX_BYTES_SQL} ELSE "
        + ("pg_indexes_size(c.oid)" if measure_indexes else "0::bigint")
        + " END"
    )
    index_scans = (
        "COALESCE((SELECT sum(pg_stat_get_numscans(x.indexrelid)) FROM pg_index AS x WHERE x.indrelid = c.oid), 0)"
        if measure_indexes
        else "0"
    )
    return fetch_rows(
        TableHealth,
        f"""
        WITH {LOCKED_CTE}
        SELECT n.nspname AS schema,
               c.relname AS name,
               size.table_bytes + size.index_bytes AS total_bytes,
               size.heap_bytes AS table_bytes,
               size.index_bytes AS index_bytes,
               CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS estimated_rows,
               -- Counters from pg_stat_get_*() directly: the pg_stat_user_tables view groups every table's
               -- indexes to sum their scans, for all tables, a third pass over pg_class and pg_index.
               pg_stat_get_live_tuples(c.oid) AS live_tuples,
               pg_stat_get_dead_tuples(c.oid) AS dead_tuples,
               pg_stat_get_mod_since_analyze(c.oid) AS changes_since_analyze,
               pg_stat_get_ins_since_vacuum(c.oid) AS inserts_since_vacuum,
               pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum,
               pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
               pg_stat_get_last_analyze_time(c.oid) AS last_analyze,
               pg_stat_get_last_autoanalyze_time(c.oid) AS last_autoanalyze,
               pg_stat_get_numscans(c.oid) AS sequential_scans,
               pg_stat_get_tuples_returned(c.oid) AS sequential_rows_read,
               ({index_scans})::bigint AS index_scans,
               COALESCE(o.vacuum_base, current_setting('autovacuum_vacuum_threshold')::float8)
                   + COALESCE(o.vacuum_scale, current_setting('autovacuum_vacuum_scale_factor')::float8)
                     * GREATEST(c.reltuples, 0) AS vacuum_threshold,
               COALESCE(o.analyze_base, current_setting('autovacuum_analyze_threshold')::float8)
                   + COALESCE(o.analyze_scale, current_setting('autovacuum_analyze_scale_factor')::float8)
                     * GREATEST(c.reltuples, 0) AS analyze_threshold,
               c.relkind::text AS kind,
               c.relispartition AS is_partition,
               {partition_parent_sql("c", "c.oid")} AS partition_of,
               key.has_primary_key AS has_primary_key,
               -- What a fix for a missing key builds on: an id column already there (an inherited one too).
               NOT key.has_primary_key AND EXISTS (
                   SELECT 1 FROM pg_attribute AS a
                   WHERE a.attrelid = c.oid AND a.attname = 'id' AND a.attnum > 0 AND NOT a.attisdropped
               ) AS has_id_column,
               -- A partitioned table's key columns, in order, then those of the partitioned tables below it, level
               -- by level: its primary key must hold all of them (PostgreSQL builds it on the sub-partitioned ones
               -- too); NULL for an expression (no primary key can hold it). Walked through pg_inherits, which
               -- locks nothing (partitions_below_sql: pg_partition_tree() waits behind a locked partition).
               CASE WHEN c.relkind = 'p' THEN ARRAY(
                   SELECT a.attname
                   FROM (SELECT c.oid AS relid, 0 AS level
                         UNION ALL
                         SELECT below.relid, below.level FROM {partitions_below_sql("c.oid")} AS below) AS tree
                   JOIN pg_partitioned_table AS pt ON pt.partrelid = tree.relid
                   CROSS JOIN LATERAL unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, position)
                   LEFT JOIN pg_attribute AS a ON a.attrelid = pt.partrelid AND a.attnum = k.attnum
                   ORDER BY tree.level, k.position
               ) ELSE ARRAY[]::name[] END AS partition_key,
               -- A partitioned table stores nothing, so its relfrozenxid is 0 and has no age.
               CASE WHEN c.relkind = 'p' THEN 0
                    ELSE GREATEST(age(c.relfrozenxid), COALESCE(age(toast.relfrozenxid), 0)) END AS xid_age,
               COALESCE(c.relkind <> 'p' AND age(toast.relfrozenxid) > age(c.relfrozenxid), false)
                   AS xid_age_in_toast,
               CASE WHEN c.relkind = 'p' THEN 0
                    ELSE GREATEST(mxid_age(c.relminmxid), COALESCE(mxid_age(toast.relminmxid), 0)) END
                   AS multixact_age,
               COALESCE(o.autovacuum_enabled IN ('false', 'off', 'no', 'f', 'n', '0'), false) AS autovacuum_off,
               COALESCE(
                   (SELECT lower(t.option_value) IN ('false', 'off', 'no', 'f', 'n', '0')
                    FROM pg_options_to_table(toast.reloptions) AS t
                    WHERE t.option_name = 'autovacuum_enabled'),
                   false
               ) AS toast_autovacuum_off,
               c.relnatts >= 1600 AS columns_full,
               lock.locked AS locked
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        LEFT JOIN pg_class AS toast ON toast.oid = c.reltoastrelid
        CROSS JOIN LATERAL (
            SELECT EXISTS (SELECT 1 FROM pg_index AS pk WHERE pk.indrelid = c.oid AND pk.indisprimary)
                       AS has_primary_key
            OFFSET 0
        ) AS key
        CROSS JOIN LATERAL (SELECT {table_locked_sql("c", LOCKED_OIDS)} AS locked OFFSET 0) AS lock
        -- pg_total_relation_size() would measure the indexes a second time. table_bytes is what pg_table_size()
        -- gives (every fork, and the TOAST table with its index), from the heap's size measured once: pg_table_size()
        -- beside pg_relation_size() measured the heap twice (0.6 s -> 0.5 s at 10,000 tables).
        CROSS JOIN LATERAL (
            SELECT heap.bytes AS heap_bytes,
                   CASE WHEN lock.locked THEN heap.bytes + {_COUNTED_TOAST_BYTES_SQL}
                        ELSE heap.bytes
                             + pg_relation_size(c.oid, 'fsm')
                             + pg_relation_size(c.oid, 'vm')
                             + CASE WHEN c.relpersistence = 'u' THEN pg_relation_size(c.oid, 'init') ELSE 0 END
                             + CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END
                   END AS table_bytes,
                   {index_bytes} AS index_bytes
            FROM (
                SELECT CASE WHEN lock.locked THEN {_HEAP_BYTES_SQL} ELSE pg_relation_size(c.oid) END AS bytes OFFSET 0
            ) AS heap
        ) AS size
        LEFT JOIN LATERAL (
            SELECT max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold')::float8
                       AS vacuum_base,
                   max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor')::float8
                       AS vacuum_scale,
                   max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_threshold')::float8
                       AS analyze_base,
                   max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_scale_factor')::float8
                       AS analyze_scale,
                   lower(max(option_value) FILTER (WHERE option_name = 'autovacuum_enabled')) AS autovacuum_enabled
            FROM pg_options_to_table(c.reloptions)
        ) AS o ON true
        WHERE c.relkind IN ('r', 'p', 'm')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND n.nspname NOT LIKE 'pg\\_temp\\_%'
          AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
        ORDER BY n.nspname, c.relname
        """,  # noqa: S608 -- constants, no input
        using=using,
        convert={"partition_of": name_pair},
    )


@dataclass(frozen=True, slots=True)
class RelationName:
    schema: str
    name: str


def other_relation_names_ending(endings: Sequence[str], *, using: str = "default") -> list[RelationName]:
    """Return the relations of user schemas other than indexes (tables, views, sequences, types' own...) whose name
    ends with one of endings, a number after it allowed, or is cut near the 63-byte limit.

    What a new index name from index_name_for() could collide with besides the indexes a snapshot holds
    (~17 ms at 10,000 tables: every relation's name is matched; indexes, three in four there, are left out first).
    """
    return fetch_rows(
        RelationName,
        """
        SELECT n.nspname AS schema, c.relname AS name
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind NOT IN ('i', 'I')
          -- Bytes as index_name_for() counts them, in UTF-8 whatever the database's encoding.
          AND (c.relname ~ %(pattern)s OR octet_length(convert_to(c.relname::text, 'UTF8')) >= 60)
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
        """,
        {"pattern": "(^|_)(" + "|".join(re.escape(ending) for ending in endings) + ")[0-9]*$"},
        using=using,
    )


def relation_names_starting(schema: str, prefix: str, *, using: str = "default") -> list[RelationName]:
    """Return the relations of schema (of any kind) whose name starts with prefix: a range scan of pg_class's name
    index, for what a new index name on one table could collide with."""
    return fetch_rows(
        RelationName,
        """
        SELECT n.nspname AS schema, c.relname AS name
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relname LIKE %(pattern)s
          AND n.nspname = %(schema)s
        """,
        {"schema": schema, "pattern": re.sub(r"([\\%_])", r"\\\1", prefix) + "%"},
        using=using,
    )
