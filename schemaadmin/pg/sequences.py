"""Sequences: how far each one has counted towards the most it, or the column it feeds, can hold."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.locked import SEQUENCES_LOCKED
from schemaadmin.pg.names import qualify

__all__ = ["SequenceUsage", "sequences"]


@dataclass(frozen=True, slots=True)
class SequenceUsage:
    schema: str
    name: str
    data_type: str  # the sequence's own type: smallint, integer or bigint
    # None: never used, this role may not read it (readable), or another session holds it ACCESS EXCLUSIVE now
    last_value: int | None
    increment: int
    limit: int  # the value it cannot pass: its max (min when descending), or the column's type bound if nearer
    start: int  # where counting towards that limit began: its min (max when descending)
    type_bound: int  # the most its type holds in its direction: limit is its own MAXVALUE (MINVALUE) when nearer
    cycles: bool
    owned_table: str | None  # the table (same schema) of the column it is OWNED BY, or whose identity it is
    owned_column: str | None
    column_type: str | None  # that column's type when smallint or integer: it needs bigint as much as the sequence
    column_limits: bool  # that column's type bound is the limit (nearer than the sequence's, or the same)
    identity: bool  # the sequence of an identity column (its type follows the column's)
    # Columns of foreign keys of one column referencing that column, of smallint or integer: their schema, table,
    # column, type each
    referencing: tuple[tuple[str, str, str, str], ...]
    readable: bool  # this role may read its last value (SELECT or USAGE on it)
    reader: str  # this role (current_user), which a GRANT for an unreadable sequence names

    @property
    def used_share(self) -> float | None:
        """Return how much of the range from start to limit is used up, or None before the first nextval()."""
        if self.last_value is None or self.limit == self.start:
            return None
        return (self.last_value - self.start) / (self.limit - self.start)

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)


def sequences(*, using: str = "default") -> list[SequenceUsage]:
    """Return every sequence in user schemas with its last value and the limit it counts towards, in one query.

    A sequence feeding a column of a smaller type (a bigint sequence behind an integer column) runs out at the
    column type's bound, so that bound is its limit.
    """
    return fetch_rows(
        SequenceUsage,
        f"""
        -- The sequences first (few), then what owns each one through pg_depend's index on objid: read the other
        -- way, every dependency of every table is read (a tenth of a second at 10,000 tables).
        -- pg_sequences' columns from pg_sequence, but its last value: pg_sequence_last_value() opens the sequence
        -- and waits behind another session's ACCESS EXCLUSIVE on it (TRUNCATE … RESTART IDENTITY, ALTER SEQUENCE,
        -- an identity column's ALTER TYPE, left open in a transaction): until lock_timeout on a page, for ever in
        -- index_health. A sequence so locked has no last value here (pg.locked).
        WITH locked AS MATERIALIZED (SELECT ARRAY({SEQUENCES_LOCKED}) AS oids),
        sequence AS MATERIALIZED (
            SELECT c.oid,
                   n.nspname AS schemaname,
                   c.relname AS sequencename,
                   format_type(q.seqtypid, NULL) AS data_type,
                   CASE WHEN c.oid = ANY ((SELECT locked.oids FROM locked)::oid[]) THEN NULL
                        WHEN has_sequence_privilege(c.oid, 'SELECT, USAGE') THEN pg_sequence_last_value(c.oid)
                   END AS last_value,
                   q.*
            FROM pg_sequence AS q
            JOIN pg_class AS c ON c.oid = q.seqrelid
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND NOT pg_is_other_temp_schema(n.oid)
        ),
        owned AS MATERIALIZED (
            SELECT d.objid AS sequence_oid,
                   t.oid AS table_oid,
                   a.attnum AS column_number,
                   t.relname::text AS owned_table,
                   a.attname::text AS owned_column,
                   a.atttypid AS column_type_oid,
                   format_type(a.atttypid, a.atttypmod) AS column_type,
                   d.deptype = 'i' AS identity
            FROM sequence
            JOIN pg_depend AS d
              ON d.classid = 'pg_class'::regclass
             AND d.objid = sequence.oid
             AND d.objsubid = 0
             AND d.refclassid = 'pg_class'::regclass
             AND d.deptype IN ('a', 'i')
             AND d.refobjsubid > 0
            JOIN pg_class AS t ON t.oid = d.refobjid
            JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        ),
        -- The columns of foreign keys that hold a smallint or integer owned column's values: a key of several columns
        -- too (its column at the same place as the owned one), once per table that declares the column.
        -- pg_constraint has no index on confrelid: read once, joined by hash
        -- (not at all when no such column is owned).
        refs AS (
            SELECT o.table_oid,
                   o.column_number,
                   array_agg(DISTINCT ARRAY[tn.nspname, tt.relname, ra.attname,
                                            format_type(ra.atttypid, ra.atttypmod)]::text[]) AS referencing
            FROM owned AS o
            JOIN pg_constraint AS f
              ON f.confrelid = o.table_oid
             AND o.column_number = ANY (f.confkey)
             AND f.contype = 'f'
             AND f.conparentid = 0
            JOIN pg_attribute AS ra
              ON ra.attrelid = f.conrelid
             AND ra.attnum = f.conkey[array_position(f.confkey, o.column_number)]
            -- An inherited column (a partition's, or a child's of plain INHERITS) is altered where it is declared:
            -- PostgreSQL refuses the ALTER on the table that inherits it, and the declaring table's recurses.
            CROSS JOIN LATERAL (
                WITH RECURSIVE up (relid, inherited) AS (
                    SELECT f.conrelid, ra.attinhcount > 0
                    UNION ALL
                    SELECT i.inhparent, pa.attinhcount > 0
                    FROM up
                    JOIN pg_inherits AS i ON i.inhrelid = up.relid
                    JOIN pg_attribute AS pa
                      ON pa.attrelid = i.inhparent AND pa.attname = ra.attname AND NOT pa.attisdropped
                    WHERE up.inherited
                )
                SELECT relid FROM up WHERE NOT inherited LIMIT 1
            ) AS declared
            JOIN pg_class AS tt ON tt.oid = declared.relid
            JOIN pg_namespace AS tn ON tn.oid = tt.relnamespace
            WHERE o.column_type_oid IN ('int2'::regtype, 'int4'::regtype)
              AND ra.atttypid IN ('int2'::regtype, 'int4'::regtype)
            GROUP BY o.table_oid, o.column_number
        ),
        bounds AS (
            SELECT s.schemaname AS schema,
                   s.sequencename AS name,
                   s.data_type AS data_type,
                   s.last_value AS last_value,
                   s.seqincrement AS increment,
                   s.seqmin AS min_value,
                   s.seqmax AS max_value,
                   CASE s.data_type WHEN 'smallint' THEN 32767 WHEN 'integer' THEN 2147483647
                        ELSE 9223372036854775807 END AS type_max,
                   s.seqcycle AS cycles,
                   o.owned_table AS owned_table,
                   o.owned_column AS owned_column,
                   o.column_type AS column_type,
                   COALESCE(o.identity, false) AS identity,
                   CASE o.column_type_oid
                       WHEN 'int2'::regtype THEN 32767
                       WHEN 'int4'::regtype THEN 2147483647
                   END AS column_max,
                   COALESCE(r.referencing, '{{}}'::text[]) AS referencing,
                   has_sequence_privilege(s.oid, 'SELECT, USAGE') AS readable
            FROM sequence AS s
            LEFT JOIN owned AS o ON o.sequence_oid = s.oid
            LEFT JOIN refs AS r ON r.table_oid = o.table_oid AND r.column_number = o.column_number
        )
        SELECT schema,
               name,
               data_type,
               last_value,
               increment,
               CASE WHEN increment > 0 THEN LEAST(max_value, COALESCE(column_max, max_value))
                    ELSE GREATEST(min_value, COALESCE(-column_max - 1, min_value)) END AS limit,
               CASE WHEN increment > 0 THEN min_value ELSE max_value END AS start,
               CASE WHEN increment > 0 THEN type_max ELSE -type_max - 1 END AS type_bound,
               cycles,
               owned_table,
               owned_column,
               CASE WHEN column_max IS NOT NULL THEN column_type END AS column_type,
               column_max IS NOT NULL
                   AND (CASE WHEN increment > 0 THEN column_max <= max_value ELSE -column_max - 1 >= min_value END)
                   AS column_limits,
               identity,
               referencing,
               readable,
               current_user::text AS reader
        FROM bounds
        ORDER BY schema, name
        """,  # noqa: S608 -- constants, no input
        using=using,
        convert={"referencing": lambda rows: tuple(tuple(row) for row in rows)},
    )
