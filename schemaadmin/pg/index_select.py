"""The one SELECT that reads indexes as IndexInfo holds them, and its columns that change without DDL.

pg/indexes.py keeps the rows it wants with a WHERE of its own (index(), indexes(), the other lists) and fills
IndexInfo from index_select(); pg/index_cache.py reads the live part again with BUILDS_CTE and activity_columns_sql().
"""

from __future__ import annotations

from schemaadmin.pg.connection import server_version
from schemaadmin.pg.locked import LOCKED_CTE
from schemaadmin.pg.names import partition_parent_sql

__all__ = ["BUILDS_CTE", "activity_columns_sql", "index_select", "records_last_scan"]

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


def index_select(where: str, *, using: str) -> str:
    """Return INDEX_SELECT for this server, keeping the indexes a constant condition over n, t and ic keeps."""
    return INDEX_SELECT.format(
        builds=BUILDS_CTE,
        locked=LOCKED_CTE,
        activity=activity_columns_sql(using),
        partition_of=partition_parent_sql("ic", "x.indexrelid"),
        where=where,
    )
