"""pgvector columns: their type, dimensions and whether they hold data."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.locked import LOCKED_CTE, LOCKED_OIDS
from schemaadmin.pg.names import partition_parent_sql, qualify, qualify_array

__all__ = ["VectorColumn", "vector_columns"]

# pgvector's limits for HNSW and IVFFlat: `vector` up to 2,000 dimensions, `halfvec` up to 4,000.
INDEXABLE_DIMENSIONS = {"vector": 2000, "halfvec": 4000, "sparsevec": 1000}


@dataclass(frozen=True, slots=True)
class VectorColumn:
    schema: str
    table: str
    column: str
    attnum: int
    type: str  # vector, halfvec or sparsevec
    dimensions: int | None  # None: declared without dimensions
    estimated_rows: int | None  # None: the table was never analyzed
    has_data: bool  # the table's heap is not empty (always False for a partitioned table: its partitions hold the rows)
    null_fraction: float | None  # from pg_stats; None before the first ANALYZE
    is_partitioned: bool  # the table is partitioned: it stores nothing, its partitions do
    partition_of: str | None  # a partition's parent table (schema.table); None for a table that is no partition

    @property
    def qualified_table(self) -> str:
        return qualify(self.schema, self.table)

    @property
    def populated(self) -> bool:
        """Return whether the column likely holds values: the table has rows and not all of them are NULL."""
        has_rows = bool(self.estimated_rows) or (self.estimated_rows is None and self.has_data)
        return has_rows and (self.null_fraction is None or self.null_fraction < 1.0)

    @property
    def indexable_dimensions(self) -> int:
        return INDEXABLE_DIMENSIONS.get(self.type, 2000)

    @property
    def too_wide_to_index(self) -> bool:
        return self.dimensions is not None and self.dimensions > self.indexable_dimensions

    @property
    def bytes_per_value(self) -> int | None:
        """Return the stored size of one dense value (header and elements), or None if unknown."""
        if self.dimensions is None or self.type == "sparsevec":
            return None
        return 8 + self.dimensions * (2 if self.type == "halfvec" else 4)


def vector_columns(*, using: str = "default") -> list[VectorColumn]:
    """Return every vector, halfvec and sparsevec column of user tables with its dimensions and fill."""
    return fetch_rows(
        VectorColumn,
        f"""
        -- The few vector columns first, then each one's pg_stats row (OFFSET 0 keeps the lookup per column: joined
        -- in one step, the planner reads pg_stats, a view checking privileges row by row, for every column of every
        -- table).
        WITH {LOCKED_CTE},
        vector_column AS MATERIALIZED (
            SELECT n.nspname, c.relname, c.oid, c.reltuples, c.relpages, c.relkind, c.relispartition, a.attname,
                   a.attnum, a.atttypmod, t.typname
            FROM pg_attribute AS a
            JOIN pg_class AS c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p', 'm')
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            JOIN pg_type AS t ON t.oid = a.atttypid
            JOIN pg_depend AS ext_dep
              ON ext_dep.classid = 'pg_type'::regclass
             AND ext_dep.objid = t.oid
             AND ext_dep.deptype = 'e'
            JOIN pg_extension AS e ON e.oid = ext_dep.refobjid AND e.extname = 'vector'
            WHERE a.attnum > 0
              AND NOT a.attisdropped
              AND t.typname IN ('vector', 'halfvec', 'sparsevec')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
        )
        SELECT v.nspname AS schema,
               v.relname AS table,
               v.attname AS column,
               v.attnum::int AS attnum,
               v.typname AS type,
               CASE WHEN v.atttypmod > 0 THEN v.atttypmod END AS dimensions,
               CASE WHEN v.reltuples < 0 THEN NULL ELSE v.reltuples::bigint END AS estimated_rows,
               -- pg_class's count for a table another session holds ACCESS EXCLUSIVE (pg/locked.py)
               CASE WHEN v.oid = ANY ({LOCKED_OIDS}) THEN v.relpages > 0 ELSE pg_relation_size(v.oid) > 0 END
                   AS has_data,
               st.null_frac::float8 AS null_fraction,
               v.relkind = 'p' AS is_partitioned,
               {partition_parent_sql("v", "v.oid")} AS partition_of
        FROM vector_column AS v
        -- A partitioned table's statistics are its partitions' together (ANALYZE of the parent: inherited rows).
        LEFT JOIN LATERAL (
            SELECT s.null_frac
            FROM pg_stats AS s
            WHERE s.schemaname = v.nspname AND s.tablename = v.relname AND s.attname = v.attname
              AND s.inherited = (v.relkind = 'p')
            OFFSET 0
        ) AS st ON true
        ORDER BY v.nspname, v.relname, v.attnum
        """,  # noqa: S608 -- constants, no input
        using=using,
        convert={"partition_of": qualify_array},
    )
