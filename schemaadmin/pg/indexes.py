"""Indexes: what each one is and how it is used.

Each function is one statement, whatever the number of indexes: nothing here queries per index. The foreign keys
indexes should serve are in pg/constraints.py, exact btree bloat in pg/bloat.py; bloat estimates and the facts
about an index's key columns come from pg_stats, through pg/row_statistics.py. "An index" is
one statement and one dataclass: index() and indexes() share INDEX_SELECT and fill IndexInfo; the recall check's
target, the rebuild's index state and the live schema's index list are read from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemaadmin.pg.connection import fetch_row, fetch_rows, server_version
from schemaadmin.pg.ddl import create_over_partitions
from schemaadmin.pg.locked import LOCKED_CTE, LOCKED_OIDS, partitions_below_sql, table_locked_sql
from schemaadmin.pg.names import partition_parent_sql, qualify, qualify_array

__all__ = [
    "IndexInfo",
    "index",
    "indexes",
    "indexes_below",
    "records_last_scan",
]

# Schemas that belong to PostgreSQL, never to the application. No % in it: statements with parameters use it too.
SYSTEM_SCHEMAS_SQL = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND NOT starts_with(n.nspname, 'pg_temp_')
    AND NOT starts_with(n.nspname, 'pg_toast_temp_')
"""

VECTOR_METHODS = frozenset({"hnsw", "ivfflat"})

# Keeps one table's rows (n its schema, t the table) when the parameters name one, every row when they are NULL.
ONE_TABLE_SQL = "(%(schema)s::text IS NULL OR (n.nspname = %(schema)s AND t.relname = %(table)s))"


def table_params(table: tuple[str, str] | None) -> dict[str, str | None]:
    """Return ONE_TABLE_SQL's parameters: table is (schema, name), or None for every table."""
    schema, name = table or (None, None)
    return {"schema": schema, "table": name}


def fillfactor_sql(relation: str, default: int) -> str:
    """Return SQL for the fillfactor storage option of the pg_class row aliased relation, default where unset."""
    option = "SELECT o.option_value::int FROM pg_options_to_table({}.reloptions) AS o WHERE o.option_name = {}"
    return f"COALESCE(({option.format(relation, "'fillfactor'")}), {default:d})"


def _options(reloptions: Sequence[str] | None) -> dict[str, str]:
    """Turn pg_class.reloptions ({m=16,ef_construction=64}) into a dict."""
    pairs = (option.split("=", 1) for option in reloptions or ())
    return {name: value for name, value in pairs}


@dataclass(frozen=True, slots=True)
class IndexInfo:
    schema: str
    name: str
    oid: int  # pg_class oid: a rebuild's swap, or REINDEX CONCURRENTLY, gives the name a new one
    table: str
    method: str
    size_bytes: int
    scans: int
    last_scan: datetime | None  # PostgreSQL 16+; None before, or when never scanned since the stats reset
    tuples_read: int
    tuples_fetched: int
    is_valid: bool
    is_ready: bool
    is_unique: bool
    is_primary: bool
    # It enforces an exclusion constraint (EXCLUDE, or PostgreSQL 18's WITHOUT OVERLAPS key): PostgreSQL builds none
    # CONCURRENTLY, REINDEX CONCURRENTLY included.
    is_exclusion: bool
    constraint: str | None  # the primary key, unique or exclusion constraint the index enforces
    # A foreign key that references the table through this unique index (pg_constraint.conindid): PostgreSQL refuses
    # to drop the index while the key needs it.
    referenced_by: str | None
    # The table's REPLICA IDENTITY USING INDEX: logical replication identifies updated and deleted rows by its keys.
    is_replica_identity: bool
    columns: tuple[str, ...]  # key columns and expressions, as pg_get_indexdef(oid, n) writes them
    included: tuple[str, ...]  # INCLUDE columns
    key_attnums: tuple[int, ...]  # table column numbers of the keys; 0 for an expression
    key_flags: tuple[int, ...]  # pg_index.indoption per key: 1 DESC, 2 NULLS FIRST
    key_collations: tuple[str | None, ...]  # per key, quoted schema.collation when not its column's or type's own
    referenced_attnums: tuple[int, ...]  # every table column the keys, expressions and predicate use
    opclasses: tuple[str, ...]
    opclass_defaults: tuple[bool, ...]  # per key: the method's default operator class for the key's type
    # per key: the operator class as CREATE INDEX writes it (schema-qualified outside pg_catalog, with its options)
    opclasses_written: tuple[str, ...]
    key_types: tuple[str, ...]  # the type each key is stored as, e.g. halfvec(3072) for a cast expression
    key_typmods: tuple[int, ...]
    key_statistics: tuple[int | None, ...]  # per key, its statistics target (SET STATISTICS); None: the default
    predicate: str | None
    # What the index enforces beyond its keys, which two indexes on the same keys may differ in: NULLS NOT DISTINCT,
    # DEFERRABLE (a constraint checked at commit), and an exclusion constraint's operators ("" for a plain index).
    enforces: str
    # A partitioned table's index (relkind I): it stores nothing; each partition's index, attached to it, does.
    # PostgreSQL refuses CONCURRENTLY for it, and DROP of an attached partition's index.
    is_partitioned: bool
    partition_of: str | None  # schema.name of the partitioned index this one is attached to
    options: dict[str, str] = field(hash=False)
    tablespace: str | None  # None: the database's default tablespace
    may_create_in_tablespace: bool  # whether this role may build an index there (CREATE on it; the default: always)
    comment: str | None  # COMMENT ON INDEX
    is_clustered: bool  # ALTER TABLE … CLUSTER ON this index: the one a bare CLUSTER of the table orders by
    build_running: bool
    definition: str
    shape: str  # the definition without the index's name: equal shapes are the same index
    index_rows: int | None  # the planner's estimate of the index's entries (pg_class.reltuples); None: not yet known
    table_rows: int | None  # the planner's estimate for the table; None before the first ANALYZE
    # schema.name, made once per row: the health rules and pages look indexes up by it ~5 times each per request,
    # and the kept rows (pg/index_cache.py) outlive requests.
    qualified_name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "qualified_name", qualify(self.schema, self.name))

    @property
    def qualified_table(self) -> str:
        return qualify(self.schema, self.table)

    @property
    def creating_definition(self) -> str:
        """Return the statement that makes the index as it is: pg_get_indexdef()'s, but for a valid partitioned index
        without the ONLY it writes for every one (ON ONLY makes it on the parent alone, invalid until attached)."""
        if not self.is_partitioned or not self.is_valid:
            return self.definition
        made = create_over_partitions(self.name, unique=self.is_unique, server_definition=self.definition)
        return made.text if made is not None else self.definition

    @property
    def is_vector(self) -> bool:
        return self.method in VECTOR_METHODS

    @property
    def backs_constraint(self) -> bool:
        """Whether the index enforces uniqueness: a constraint's, or its own as a unique index."""
        return self.is_unique or self.is_primary or self.constraint is not None

    @property
    def nulls_not_distinct(self) -> bool:
        return "NULLS NOT DISTINCT" in self.enforces

    @property
    def dimensions(self) -> int | None:
        """Return the dimensions of a vector index's first key (its stored type's typmod)."""
        if not self.is_vector or not self.key_typmods or self.key_typmods[0] <= 0:
            return None
        return self.key_typmods[0]

    def option(self, name: str) -> int | None:
        """Return a numeric storage option (m, ef_construction, lists) if it was set explicitly."""
        value = self.options.get(name)
        return int(value) if value is not None and value.isdigit() else None


# Every index the WHERE clause keeps, one row each. {where} is a constant condition over n (the schema), t (the
# table) and ic (the index); values in it are parameters. Set-based: the kept indexes' keys are unnested once and
# joined to the catalogs once (no per-index subquery), and an index is deparsed once (pg_get_indexdef is the costly
# part: tens of microseconds each); a key is deparsed only when it is an expression.
# The indexes being built and the tables being reindexed concurrently now, by anyone: build_running is
# `(i.indexrelid = ANY (b.index_oids) OR i.indrelid = ANY (b.reindexed_tables))`. Statements put it in {builds}.
BUILDS_CTE = """
    builds AS MATERIALIZED (
        SELECT COALESCE(array_agg(p.index_relid), '{}') AS index_oids,
               COALESCE(array_agg(p.relid) FILTER (WHERE p.command = 'REINDEX CONCURRENTLY'), '{}')
                   AS reindexed_tables
        FROM pg_stat_progress_create_index AS p
    )"""

INDEX_SELECT = """
    WITH {builds},
    {locked},
    listed AS MATERIALIZED (
        SELECT i.indexrelid, i.indrelid, i.indnkeyatts, i.indkey, i.indclass, i.indcollation, i.indoption,
               i.indexprs IS NOT NULL OR i.indpred IS NOT NULL AS has_expressions,
               n.nspname, t.relname AS table_name, ic.relname AS index_name
        FROM pg_index AS i
        JOIN pg_class AS ic ON ic.oid = i.indexrelid
        JOIN pg_class AS t ON t.oid = i.indrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        WHERE {where}
    ),
    -- Each key and INCLUDE column of every listed index: its text (a column's quoted name, an expression as
    -- pg_get_indexdef(oid, k, true) writes it), table column number, ordering flags, operator class, collation
    -- and stored type.
    key_parts AS (
        SELECT x.indexrelid,
               k.position,
               k.position <= x.indnkeyatts AS is_key,
               CASE WHEN k.attnum = 0 THEN pg_get_indexdef(x.indexrelid, k.position::int, true)
                    ELSE quote_ident(col.attname) END AS expression,
               k.attnum::int AS attnum,
               x.indoption[k.position - 1]::int AS flags,
               opc.opcname::text AS opclass,
               -- as CREATE INDEX must write it wherever it runs: its schema unless pg_catalog (an extension's own
               -- schema is often not on the search_path), and its options (siglen, values_per_range)
               CASE WHEN opcn.nspname = 'pg_catalog' THEN quote_ident(opc.opcname)
                    ELSE quote_ident(opcn.nspname) || '.' || quote_ident(opc.opcname) END
               || COALESCE(' (' || (
                   SELECT string_agg(quote_ident(split_part(o, '=', 1)) || ' = '
                                     || quote_literal(substr(o, strpos(o, '=') + 1)), ', ')
                   FROM unnest(a.attoptions) AS o
               ) || ')', '') AS opclass_written,
               -- as pg_get_indexdef() decides to leave it out: the default for the key's type, or for a type it is
               -- binary-coercible to (varchar to text) or a polymorphic family it belongs to
               COALESCE(
                   opc.opcdefault AND (
                       opc.opcintype = a.atttypid
                       OR EXISTS (
                           SELECT 1 FROM pg_cast AS bc
                           WHERE bc.castsource = a.atttypid AND bc.casttarget = opc.opcintype AND bc.castmethod = 'b'
                       )
                       OR (opc.opcintype = 'anyarray'::regtype AND ty.typcategory = 'A')
                       OR (opc.opcintype = 'anyenum'::regtype AND ty.typtype = 'e')
                       OR (opc.opcintype = 'anyrange'::regtype AND ty.typtype = 'r')
                       OR (opc.opcintype = 'anymultirange'::regtype AND ty.typtype = 'm')
                   ),
                   false
               ) AS opclass_default,
               CASE WHEN coll.oid <> COALESCE(NULLIF(col.attcollation, 0), ty.typcollation)
                    THEN quote_ident(colln.nspname) || '.' || quote_ident(coll.collname)
               END AS collation,
               format_type(a.atttypid, a.atttypmod) AS key_type,
               a.atttypmod AS typmod,
               -- ALTER INDEX … ALTER COLUMN n SET STATISTICS: NULL before PostgreSQL 17 said -1, the default
               NULLIF(a.attstattarget, -1)::int AS stattarget
        FROM listed AS x
        CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
        JOIN pg_attribute AS a ON a.attrelid = x.indexrelid AND a.attnum = k.position
        LEFT JOIN pg_attribute AS col ON col.attrelid = x.indrelid AND col.attnum = k.attnum AND k.attnum > 0
        LEFT JOIN pg_type AS ty ON ty.oid = a.atttypid
        LEFT JOIN pg_opclass AS opc ON opc.oid = x.indclass[k.position - 1]
        LEFT JOIN pg_namespace AS opcn ON opcn.oid = opc.opcnamespace
        LEFT JOIN pg_collation AS coll ON coll.oid = x.indcollation[k.position - 1]
        LEFT JOIN pg_namespace AS colln ON colln.oid = coll.collnamespace
    ),
    parts AS (
        SELECT c.indexrelid,
               array_agg(c.expression ORDER BY c.position) FILTER (WHERE c.is_key) AS columns,
               COALESCE(array_agg(c.expression ORDER BY c.position) FILTER (WHERE NOT c.is_key), '{{}}') AS included,
               array_agg(c.attnum ORDER BY c.position) FILTER (WHERE c.is_key) AS key_attnums,
               array_agg(c.flags ORDER BY c.position) FILTER (WHERE c.is_key) AS key_flags,
               array_agg(c.collation ORDER BY c.position) FILTER (WHERE c.is_key) AS key_collations,
               array_agg(c.opclass ORDER BY c.position) FILTER (WHERE c.is_key) AS opclasses,
               array_agg(c.opclass_default ORDER BY c.position) FILTER (WHERE c.is_key) AS opclass_defaults,
               array_agg(c.opclass_written ORDER BY c.position) FILTER (WHERE c.is_key) AS opclasses_written,
               array_agg(c.key_type ORDER BY c.position) FILTER (WHERE c.is_key) AS key_types,
               array_agg(c.typmod ORDER BY c.position) FILTER (WHERE c.is_key) AS key_typmods,
               array_agg(c.stattarget ORDER BY c.position) FILTER (WHERE c.is_key) AS key_statistics
        FROM key_parts AS c
        GROUP BY c.indexrelid
    )
    SELECT x.nspname AS schema,
           x.index_name AS name,
           x.indexrelid::bigint AS oid,
           x.table_name AS table,
           am.amname AS method,
           {activity},
           i.indisunique AS is_unique,
           i.indisprimary AS is_primary,
           i.indisexclusion AS is_exclusion,
           con.conname AS constraint,
           fk.conname AS referenced_by,
           i.indisreplident AS is_replica_identity,
           parts.columns AS columns,
           parts.included AS included,
           parts.key_attnums AS key_attnums,
           parts.key_flags AS key_flags,
           parts.key_collations AS key_collations,
           -- Plain columns are what the keys name; expressions and predicates are read from the dependencies.
           CASE WHEN NOT x.has_expressions THEN ARRAY(
               SELECT DISTINCT k.attnum::int FROM unnest(x.indkey::int2[]) AS k(attnum) WHERE k.attnum > 0 ORDER BY 1
           ) ELSE ARRAY(
               SELECT DISTINCT d.refobjsubid::int
               FROM pg_depend AS d
               WHERE d.classid = 'pg_class'::regclass
                 AND d.objid = x.indexrelid
                 AND d.refclassid = 'pg_class'::regclass
                 AND d.refobjid = x.indrelid
                 AND d.refobjsubid > 0
               ORDER BY 1
           ) END AS referenced_attnums,
           parts.opclasses AS opclasses,
           parts.opclass_defaults AS opclass_defaults,
           parts.opclasses_written AS opclasses_written,
           parts.key_types AS key_types,
           parts.key_typmods AS key_typmods,
           parts.key_statistics AS key_statistics,
           pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
           concat_ws(' ',
               CASE WHEN i.indnullsnotdistinct THEN 'NULLS NOT DISTINCT' END,
               CASE WHEN NOT i.indimmediate THEN 'DEFERRABLE' END,
               CASE WHEN con.contype = 'x'
                    THEN 'EXCLUDE WITH ' || array_to_string(con.conexclop::regoperator[]::text[], ', ') END
           ) AS enforces,
           ic.relkind = 'I' AS is_partitioned,
           {partition_of} AS partition_of,
           ic.reloptions AS options,
           ts.spcname AS tablespace,
           ic.reltablespace = 0 OR has_tablespace_privilege(ic.reltablespace, 'CREATE') AS may_create_in_tablespace,
           descr.description AS comment,
           i.indisclustered AS is_clustered,
           def.definition AS definition,
           replace(def.definition, ' INDEX ' || quote_ident(x.index_name) || ' ON ', ' INDEX ON ') AS shape
    FROM listed AS x
    JOIN parts ON parts.indexrelid = x.indexrelid
    JOIN pg_index AS i ON i.indexrelid = x.indexrelid
    JOIN pg_class AS ic ON ic.oid = x.indexrelid
    JOIN pg_class AS t ON t.oid = x.indrelid
    JOIN pg_am AS am ON am.oid = ic.relam
    CROSS JOIN builds AS b
    -- OFFSET 0 keeps the subquery apart, so the definition is deparsed once for both columns that use it.
    CROSS JOIN LATERAL (SELECT pg_get_indexdef(x.indexrelid) AS definition OFFSET 0) AS def
    LEFT JOIN pg_constraint AS con
           ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x')
    -- One foreign key of those that reference the table through the index, if any: read once for all indexes.
    LEFT JOIN (
        SELECT f.conindid, min(f.conname) AS conname FROM pg_constraint AS f WHERE f.contype = 'f' GROUP BY f.conindid
    ) AS fk ON fk.conindid = x.indexrelid
    LEFT JOIN pg_tablespace AS ts ON ts.oid = ic.reltablespace
    LEFT JOIN pg_description AS descr
           ON descr.objoid = x.indexrelid AND descr.classoid = 'pg_class'::regclass AND descr.objsubid = 0
    ORDER BY x.nspname, x.table_name, x.index_name
"""


# What IndexInfo holds that changes without DDL, over pg_index i, its class ic, its table t and the builds CTE b: what
# pg/index_cache.py reads on every call.
ACTIVITY_COLUMNS = """
           pg_relation_size(i.indexrelid) AS size_bytes,
           pg_stat_get_numscans(i.indexrelid) AS scans,
           {last_scan} AS last_scan,
           pg_stat_get_tuples_returned(i.indexrelid) AS tuples_read,
           pg_stat_get_tuples_fetched(i.indexrelid) AS tuples_fetched,
           i.indisvalid AS is_valid,
           i.indisready AS is_ready,
           (i.indexrelid = ANY (b.index_oids) OR i.indrelid = ANY (b.reindexed_tables)) AS build_running,
           CASE WHEN ic.reltuples < 0 THEN NULL ELSE ic.reltuples::bigint END AS index_rows,
           CASE WHEN t.reltuples < 0 THEN NULL ELSE t.reltuples::bigint END AS table_rows"""


# The server version from which PostgreSQL records each index's last scan (last_idx_scan).
LAST_SCAN_FROM = 160000


def records_last_scan(using: str = "default") -> bool:
    """Return whether this server records each index's last scan (known to the driver, no query needed)."""
    return server_version(using) >= LAST_SCAN_FROM


def activity_columns_sql(using: str) -> str:
    """Return ACTIVITY_COLUMNS for this server: last_idx_scan exists from PostgreSQL 16."""
    last_scan = "pg_stat_get_lastscan(i.indexrelid)" if records_last_scan(using) else "NULL::timestamptz"
    return ACTIVITY_COLUMNS.format(last_scan=last_scan)


def _index_select(where: str, *, using: str) -> str:
    """Return INDEX_SELECT for this server, keeping the indexes a constant condition over n, t and ic keeps."""
    return INDEX_SELECT.format(
        builds=BUILDS_CTE,
        locked=LOCKED_CTE,
        activity=activity_columns_sql(using),
        partition_of=partition_parent_sql("ic", "x.indexrelid"),
        where=where,
    )


def _indexes_where(where: str, params: dict[str, object] | None = None, *, using: str) -> list[IndexInfo]:
    return fetch_rows(IndexInfo, _index_select(where, using=using), params, using=using, convert=INDEX_CONVERT)


# What the rows hold that is not a column's value as is: reloptions ({m=16,ef_construction=64}) as a dict, the
# parent's [schema, name] as its qualified name.
INDEX_CONVERT = {"options": _options, "partition_of": qualify_array}


# Indexes that another session holds ACCESS EXCLUSIVE, or whose table, TOAST table or sibling index it does
# (pg/locked.py): deparsing or measuring them would wait for the lock. The lists leave them out (the pages name the
# locked relations); one index's own page says who holds it (views/indexes.index_detail, from index_table()). Statements
# name it with LOCKED_CTE in their WITH.
INDEX_LOCKED_SQL = f"({table_locked_sql('t', LOCKED_OIDS)} OR i.indexrelid = ANY ({LOCKED_OIDS}))"
NOT_LOCKED_SQL = f"NOT {INDEX_LOCKED_SQL}"


def indexes(*, using: str = "default") -> list[IndexInfo]:
    """Return every index in user schemas with its table, size, usage, definition parts and options, but those of
    a relation another session holds ACCESS EXCLUSIVE (NOT_LOCKED_SQL)."""
    return _indexes_where(f"{SYSTEM_SCHEMAS_SQL} AND {NOT_LOCKED_SQL}", using=using)


def index(schema: str, name: str, *, using: str = "default") -> IndexInfo | None:
    """Return index schema.name as indexes() has it, or None if no user schema holds an index of that name."""
    return fetch_row(
        IndexInfo,
        _index_select(f"{SYSTEM_SCHEMAS_SQL} AND n.nspname = %(schema)s AND ic.relname = %(name)s", using=using),
        {"schema": schema, "name": name},
        using=using,
        convert=INDEX_CONVERT,
    )


def ann_indexes(*, using: str = "default") -> list[IndexInfo]:
    """Return the valid HNSW and IVFFlat indexes in user schemas, as indexes() has them (deparsing only those)."""
    ann = "ic.relam IN (SELECT oid FROM pg_am WHERE amname = ANY(%(am)s))"
    where = f"{SYSTEM_SCHEMAS_SQL} AND {NOT_LOCKED_SQL} AND i.indisvalid AND {ann}"
    return _indexes_where(where, {"am": ["hnsw", "ivfflat"]}, using=using)


def indexes_below(partitioned: Sequence[IndexInfo], *, using: str = "default") -> list[IndexInfo]:
    """Return the indexes attached below the given partitioned indexes, every level, as indexes() has them (but those
    of a relation another session holds ACCESS EXCLUSIVE): what their sizes and scans add up from."""
    if not partitioned:
        return []
    below = (
        "i.indexrelid IN (SELECT p.relid FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS r(schema, name) "  # noqa: S608
        "JOIN pg_namespace AS rn ON rn.nspname = r.schema "
        "JOIN pg_class AS rc ON rc.relnamespace = rn.oid AND rc.relname = r.name "
        f"CROSS JOIN LATERAL {partitions_below_sql('rc.oid')} AS p)"
    )
    roots: dict[str, object] = {
        "schemas": [index.schema for index in partitioned],
        "names": [index.name for index in partitioned],
    }
    return _indexes_where(f"{NOT_LOCKED_SQL} AND {below}", roots, using=using)


def indexes_of_table(schema: str, table: str, *, using: str = "default") -> list[IndexInfo]:
    """Return the indexes on one table, as indexes() has them."""
    where = f"{SYSTEM_SCHEMAS_SQL} AND n.nspname = %(schema)s AND t.relname = %(table)s"
    return _indexes_where(where, {"schema": schema, "table": table}, using=using)
