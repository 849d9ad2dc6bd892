"""Constraints: foreign keys with their columns and types, and the constraints added NOT VALID and never validated."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows, server_version
from schemaadmin.pg.indexes import SYSTEM_SCHEMAS_SQL
from schemaadmin.pg.names import db_table_parts, qualify, qualify_array

__all__ = [
    "ForeignKey",
    "UnvalidatedConstraint",
    "foreign_keys",
    "not_null_checked_columns",
    "unvalidated_constraints",
]


@dataclass(frozen=True, slots=True)
class UnvalidatedConstraint:
    schema: str
    table: str
    name: str
    kind: str  # "check" or "foreign key"
    definition: str  # pg_get_constraintdef(), e.g. CHECK ((amount > 0)) NOT VALID


def _enforced(using: str) -> str:
    """Return SQL of pg_constraint c's enforcement: PostgreSQL 18's conenforced (NOT ENFORCED: never checked, and
    marked not validated too, which VALIDATE CONSTRAINT refuses), true before it."""
    return "c.conenforced" if server_version(using) >= 180000 else "true"


def unvalidated_constraints(*, using: str = "default") -> list[UnvalidatedConstraint]:
    """Return every CHECK and foreign key in user schemas still marked NOT VALID (old rows never checked); not those
    NOT ENFORCED, which no row is checked against and no VALIDATE applies to."""
    return fetch_rows(
        UnvalidatedConstraint,
        f"""
        SELECT n.nspname AS schema,
               t.relname AS table,
               c.conname AS name,
               CASE c.contype WHEN 'c' THEN 'check' ELSE 'foreign key' END AS kind,
               pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint AS c
        JOIN pg_class AS t ON t.oid = c.conrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        WHERE NOT c.convalidated
          AND {_enforced(using)}
          AND c.contype IN ('c', 'f')
          AND {SYSTEM_SCHEMAS_SQL}
        ORDER BY n.nspname, t.relname, c.conname
        """,  # noqa: S608 -- a constant, no input
        using=using,
    )


@dataclass(frozen=True, slots=True)
class ForeignKey:
    schema: str
    table: str
    name: str
    column_attnums: tuple[int, ...]
    columns: tuple[str, ...]
    referenced_table: str  # schema-qualified
    referenced_columns: tuple[str, ...]  # in the order of columns
    column_types: tuple[str, ...]  # each referencing column's type, as format_type() writes it (with its length)
    referenced_types: tuple[str, ...]
    is_validated: bool  # false: added NOT VALID and never validated
    # false: NOT ENFORCED (PostgreSQL 18): no trigger checks it or acts on deletes; it documents the relation only
    is_enforced: bool
    inherited: bool  # a partition's copy of its partitioned table's foreign key (the parent's is the one to act on)
    # An inherited key's: the partitioned table (schema.name) and name of the key it copies; None for the others.
    parent_table: str | None
    parent_name: str | None
    # What it does besides checking: its ON UPDATE and ON DELETE actions (with SET NULL's columns), its MATCH type and
    # when it is checked (DEFERRABLE, INITIALLY DEFERRED), as one comparable text; two keys on the same columns
    # that differ here do different things.
    behaviour: str
    table_is_partitioned: bool  # on a partitioned table: an index for it is built on every partition

    @property
    def qualified_table(self) -> str:
        return qualify(self.schema, self.table)


def foreign_keys(*, table: tuple[str, str] | None = None, using: str = "default") -> list[ForeignKey]:
    """Return every foreign key in user schemas with its columns and theirs it references, in constraint order;
    with table (schema, name), only that table's."""
    return fetch_rows(
        ForeignKey,
        f"""
        SELECT n.nspname AS schema,
               t.relname AS table,
               c.conname AS name,
               c.conkey::int[] AS column_attnums,
               pairs.columns AS columns,
               ARRAY[rn.nspname, rt.relname]::text[] AS referenced_table,
               pairs.referenced_columns AS referenced_columns,
               pairs.column_types AS column_types,
               pairs.referenced_types AS referenced_types,
               c.convalidated AS is_validated,
               {_enforced(using)} AS is_enforced,
               c.conparentid <> 0 AS inherited,
               parent.qualified_table AS parent_table,
               parent.name AS parent_name,
               concat_ws(' ', 'update:' || c.confupdtype::text, 'delete:' || c.confdeltype::text,
                         'columns:' || c.confdelsetcols::text, 'match:' || c.confmatchtype::text,
                         CASE WHEN c.condeferrable THEN 'deferrable' END,
                         CASE WHEN c.condeferred THEN 'deferred' END) AS behaviour,
               t.relkind = 'p' AS table_is_partitioned
        FROM pg_constraint AS c
        CROSS JOIN LATERAL (
            SELECT array_agg(a.attname::text ORDER BY k.position) AS columns,
                   array_agg(ra.attname::text ORDER BY k.position) AS referenced_columns,
                   array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.position) AS column_types,
                   array_agg(format_type(ra.atttypid, ra.atttypmod) ORDER BY k.position) AS referenced_types
            FROM unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(attnum, referenced_attnum, position)
            JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
            JOIN pg_attribute AS ra ON ra.attrelid = c.confrelid AND ra.attnum = k.referenced_attnum
        ) AS pairs
        JOIN pg_class AS t ON t.oid = c.conrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        LEFT JOIN LATERAL (
            SELECT ARRAY[pn.nspname, pt.relname]::text[] AS qualified_table, pc.conname::text AS name
            FROM pg_constraint AS pc
            JOIN pg_class AS pt ON pt.oid = pc.conrelid
            JOIN pg_namespace AS pn ON pn.oid = pt.relnamespace
            WHERE pc.oid = c.conparentid
        ) AS parent ON true
        JOIN pg_class AS rt ON rt.oid = c.confrelid
        JOIN pg_namespace AS rn ON rn.oid = rt.relnamespace
        WHERE c.contype = 'f'
          AND {SYSTEM_SCHEMAS_SQL}
          AND (%(schema)s::text IS NULL OR (n.nspname = %(schema)s AND t.relname = %(table)s))
        ORDER BY n.nspname, t.relname, c.conname
        """,  # noqa: S608 -- a constant, no input
        {"schema": table[0] if table else None, "table": table[1] if table else None},
        using=using,
        convert={"referenced_table": qualify_array, "parent_table": qualify_array},
    )


# pg_get_constraintdef() of a CHECK that proves one column NOT NULL: CHECK ((note IS NOT NULL)), quoted as needed.
_NOT_NULL_CHECK = re.compile(r'CHECK \(\((?:"((?:[^"]|"")+)"|([^\s"()]+)) IS NOT NULL\)\)')


@dataclass(frozen=True, slots=True)
class _CheckDefinition:
    table: str
    definition: str


def not_null_checked_columns(tables: Sequence[str], *, using: str = "default") -> set[tuple[str, str]]:
    """Return (table, column) for each column of these tables (models' db_table names, resolved as
    relations.table_estimates resolves them) that a validated CHECK (column IS NOT NULL) proves not null: SET NOT
    NULL then reads no row (PostgreSQL 12+)."""
    parts = [db_table_parts(name) for name in tables]
    found = fetch_rows(
        _CheckDefinition,
        """
        SELECT wanted.name AS table, pg_get_constraintdef(c.oid) AS definition
        FROM unnest(%(tables)s::text[], %(schemas)s::text[], %(names)s::text[]) AS wanted(name, schema, table_name)
        JOIN pg_constraint AS c
          ON c.conrelid = to_regclass(concat_ws('.', quote_ident(wanted.schema), quote_ident(wanted.table_name)))
        WHERE c.contype = 'c' AND c.convalidated AND cardinality(c.conkey) = 1
        """,
        {"tables": list(tables), "schemas": [schema for schema, _ in parts], "names": [name for _, name in parts]},
        using=using,
    )
    checked = set()
    for row in found:
        if match := _NOT_NULL_CHECK.fullmatch(row.definition):
            quoted, plain = match.groups()
            checked.add((row.table, quoted.replace('""', '"') if quoted else plain))
    return checked
