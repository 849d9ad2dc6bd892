"""The live schema of the application's database schemas: tables, columns, indexes, constraints, extensions, and
the triggers, functions and views (pg/schema_code.py).

Each function is one statement over the whole schema list, never one per table. Only the schemas asked for are
read (the application's own, `public` by default): PostgreSQL's schemas and the tests' planting schemas stay out
unless a caller names them.

A table another session holds ACCESS EXCLUSIVE (pg/locked.py) is read around, not waited for: deparsing its
defaults, generated columns, constraints or indexes would wait for the lock. The snapshot lists it with its columns'
names and types and names it in `locked`; whoever compares (drift) leaves it out. A lock taken after the snapshot's
list of locks was read is still waited for (the web's lock_timeout ends that wait with a page saying so), except by
the indexes' read (pg.index_cache leaves out what is locked when it runs), in that narrow window.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields

from schemaadmin.pg import index_cache
from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.locked import LockedRelation, locked_relations
from schemaadmin.pg.names import Qualified, name_pair, partition_parent_sql, qualify
from schemaadmin.pg.schema_code import (
    FunctionInfo,
    TriggerInfo,
    ViewInfo,
    schema_functions,
    schema_triggers,
    schema_views,
)
from schemaadmin.pg.schema_reads import AROUND_SQL, in_schemas

__all__ = [
    "ColumnInfo",
    "ConstraintInfo",
    "ExtensionInfo",
    "ForeignKeyInfo",
    "SchemaIndex",
    "SchemaSnapshot",
    "TableInfo",
    "schema_columns",
    "schema_constraints",
    "schema_extensions",
    "schema_foreign_keys",
    "schema_indexes",
    "schema_snapshot",
    "schema_tables",
]

DEFAULT_SCHEMAS: tuple[str, ...] = ("public",)

CONSTRAINT_TYPES = {
    "p": "primary key",
    "u": "unique",
    "f": "foreign key",
    "c": "check",
    "x": "exclusion",
    "t": "trigger",
}

DELETE_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass(frozen=True, slots=True)
class TableInfo(Qualified):
    schema: str
    name: str
    partitioned: bool
    estimated_rows: int | None  # the planner's estimate; None before the first ANALYZE
    comment: str | None
    partition_of: tuple[str, str] | None = None  # (schema, name) of the partitioned table it is a partition of

    @property
    def qualified_parent(self) -> str:
        """Return the partitioned table it is a partition of as qualify() writes it, or "" when it is none's."""
        return qualify(*self.partition_of) if self.partition_of else ""


@dataclass(frozen=True, slots=True)
class ColumnInfo(Qualified):
    schema: str
    table: str
    name: str
    position: int
    type: str  # format_type(): varchar(100), vector(3072), timestamp with time zone
    not_null: bool
    default: str | None  # the default expression as pg_get_expr writes it
    identity: str | None  # "always" or "by default" for identity columns
    generated: str | None  # the generation expression of a generated column
    comment: str | None
    # Its collation where it is not its type's (schema-qualified and quoted: pg_catalog."C"); None: the type's.
    # A default, for replays stored before it was read.
    collation: str | None = None


@dataclass(frozen=True, slots=True)
class SchemaIndex(Qualified):
    schema: str
    table: str
    name: str
    definition: str  # pg_get_indexdef()
    shape: str  # the definition without the index's name: equal shapes are the same index
    method: str
    is_unique: bool
    is_primary: bool
    is_valid: bool
    constraint: str | None  # the primary key, unique or exclusion constraint this index enforces
    # Its catalog parts, as IndexInfo has them, so a fix can recreate it with pg/ddl (never from definition text)
    columns: tuple[str, ...]
    included: tuple[str, ...]
    key_flags: tuple[int, ...]
    key_collations: tuple[str | None, ...]
    opclasses: tuple[str, ...]
    opclass_defaults: tuple[bool, ...]
    opclasses_written: tuple[str, ...]
    predicate: str | None
    options: dict[str, str] = field(hash=False)

    @classmethod
    def of(cls, index: IndexInfo) -> SchemaIndex:
        """Return the part of an index the live schema shows and compares (no sizes, no usage): its fields by name."""
        return cls(*_INDEX_PARTS(index))


# SchemaIndex's fields read from an IndexInfo in one call (30,000 indexes: 0.4 s by name with fields() each time).
_INDEX_PARTS = operator.attrgetter(*(f.name for f in fields(SchemaIndex)))


@dataclass(frozen=True, slots=True)
class ConstraintInfo(Qualified):
    schema: str
    table: str
    name: str
    type: str  # primary key, unique, foreign key, check, exclusion, trigger
    definition: str  # pg_get_constraintdef(): everything after ADD CONSTRAINT name
    validated: bool
    columns: tuple[str, ...]  # the table columns it is declared on, in order (none for some checks)


@dataclass(frozen=True, slots=True)
class ForeignKeyInfo(Qualified):
    schema: str
    table: str
    name: str
    columns: tuple[str, ...]
    target_schema: str
    target_table: str
    target_columns: tuple[str, ...]
    on_delete: str

    @property
    def qualified_target(self) -> str:
        return qualify(self.target_schema, self.target_table)


@dataclass(frozen=True, slots=True)
class ExtensionInfo:
    name: str
    version: str
    schema: str


@dataclass(frozen=True, slots=True)
class SchemaSnapshot:
    schemas: tuple[str, ...]
    tables: tuple[TableInfo, ...]
    columns: tuple[ColumnInfo, ...]
    indexes: tuple[SchemaIndex, ...]
    constraints: tuple[ConstraintInfo, ...]
    foreign_keys: tuple[ForeignKeyInfo, ...]
    extensions: tuple[ExtensionInfo, ...]
    # What another session held ACCESS EXCLUSIVE in these schemas: its tables' defaults, generated columns,
    # constraints and indexes were not read (see above).
    locked: tuple[LockedRelation, ...] = ()
    # Read when asked (drift all three, the live schema page its triggers); the defaults serve replays stored before.
    triggers: tuple[TriggerInfo, ...] = ()
    functions: tuple[FunctionInfo, ...] = ()
    views: tuple[ViewInfo, ...] = ()
    # A replay's checks that PostgreSQL writes otherwise when their text is parsed again (pg/shadow.reparsed_checks):
    # (schema, table, name, text), as a restore from pg_dump or a drift fix leaves them in the live database.
    checks_reparsed: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def locked_tables(self) -> frozenset[tuple[str, str]]:
        """Return the (schema, name) of the tables read around a lock: their columns only."""
        return frozenset((relation.table_schema, relation.table_name) for relation in self.locked)


def _key_names(keys: str, relation: str) -> str:
    """Return SQL for the names of a constraint's key columns in key order: conkey/conrelid or confkey/confrelid."""
    ordered = "WITH ORDINALITY AS k(attnum, ord)"
    name = f"JOIN pg_attribute AS a ON a.attrelid = con.{relation} AND a.attnum = k.attnum"
    return f"ARRAY(SELECT a.attname FROM unnest(con.{keys}) {ordered} {name} ORDER BY k.ord)"  # noqa: S608 -- constants


def schema_tables(*, schemas: Sequence[str] = DEFAULT_SCHEMAS, using: str = "default") -> list[TableInfo]:
    """Return the ordinary and partitioned tables of the given schemas."""
    return in_schemas(
        TableInfo,
        f"""
        SELECT n.nspname AS schema,
               c.relname AS name,
               c.relkind = 'p' AS partitioned,
               CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS estimated_rows,
               obj_description(c.oid, 'pg_class') AS comment,
               {partition_parent_sql("c", "c.oid")} AS partition_of
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname = ANY(%(schemas)s)
        ORDER BY n.nspname, c.relname
        """,  # noqa: S608 -- constants, no input
        schemas,
        using,
        convert={"partition_of": name_pair},
    )


def schema_columns(
    *, schemas: Sequence[str] = DEFAULT_SCHEMAS, using: str = "default", around: Collection[tuple[str, str]] = ()
) -> list[ColumnInfo]:
    """Return every column of the tables in the given schemas, in table order; those of the tables in around
    without their default or generation expression (deparsing them would wait for a lock)."""
    return in_schemas(
        ColumnInfo,
        f"""
        SELECT n.nspname AS schema,
               c.relname AS table,
               a.attname AS name,
               a.attnum AS position,
               format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull AS not_null,
               CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,
               CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
               CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,
               col_description(c.oid, a.attnum) AS comment,
               CASE WHEN a.attcollation <> ty.typcollation THEN
                   (SELECT format('%%I.%%I', cn.nspname, co.collname)
                    FROM pg_collation AS co JOIN pg_namespace AS cn ON cn.oid = co.collnamespace
                    WHERE co.oid = a.attcollation)
               END AS collation
        FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        JOIN pg_type AS ty ON ty.oid = a.atttypid
        LEFT JOIN pg_attrdef AS d
          ON d.adrelid = a.attrelid AND d.adnum = a.attnum AND NOT {AROUND_SQL.format(namespace="n", table="c")}
        WHERE c.relkind IN ('r', 'p')
          AND a.attnum > 0
          AND NOT a.attisdropped
          AND n.nspname = ANY(%(schemas)s)
        ORDER BY n.nspname, c.relname, a.attnum
        """,  # noqa: S608 -- constants, no input
        schemas,
        using,
        around=around,
    )


def schema_indexes(
    *,
    schemas: Sequence[str] = DEFAULT_SCHEMAS,
    using: str = "default",
    tables: Collection[tuple[str, str]] | None = None,
) -> list[SchemaIndex]:
    """Return every index on the tables of the given schemas, with its definition and the constraint it backs.

    Read through pg.index_cache, which deparses definitions again only after DDL: at 30,000 indexes a full read
    cost 2–3 s of SQL and 1.6 s of Python on every view. tables: the (schema, name) of those tables, when known.
    """
    if tables is None:
        tables = {(table.schema, table.name) for table in schema_tables(schemas=schemas, using=using)}
    return [SchemaIndex.of(i) for i in index_cache.indexes(using=using) if (i.schema, i.table) in tables]


def schema_constraints(
    *, schemas: Sequence[str] = DEFAULT_SCHEMAS, using: str = "default", around: Collection[tuple[str, str]] = ()
) -> list[ConstraintInfo]:
    """Return the table constraints of the given schemas (NOT NULL is a column's nullability, not listed here), but
    those of the tables in around (deparsing them would wait for a lock)."""
    # PostgreSQL 18 records NOT NULL as constraints of type 'n'; partitions repeat their parent's constraints.
    return in_schemas(
        ConstraintInfo,
        f"""
        SELECT n.nspname AS schema,
               t.relname AS table,
               con.conname AS name,
               con.contype::text AS type,
               pg_get_constraintdef(con.oid) AS definition,
               con.convalidated AS validated,
               {_key_names("conkey", "conrelid")} AS columns
        FROM pg_constraint AS con
        JOIN pg_class AS t ON t.oid = con.conrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        WHERE con.contype IN ('p', 'u', 'f', 'c', 'x', 't')
          AND con.conparentid = 0
          AND t.relkind IN ('r', 'p')
          AND n.nspname = ANY(%(schemas)s)
          AND NOT {AROUND_SQL.format(namespace="n", table="t")}
        ORDER BY n.nspname, t.relname, con.conname
        """,  # noqa: S608 -- constants, no input
        schemas,
        using,
        convert={"type": CONSTRAINT_TYPES.__getitem__},
        around=around,
    )


def schema_foreign_keys(*, schemas: Sequence[str] = DEFAULT_SCHEMAS, using: str = "default") -> list[ForeignKeyInfo]:
    """Return the foreign keys of tables in the given schemas: columns, the table and columns they reference."""
    return in_schemas(
        ForeignKeyInfo,
        f"""
        SELECT n.nspname AS schema,
               t.relname AS table,
               con.conname AS name,
               {_key_names("conkey", "conrelid")} AS columns,
               rn.nspname AS target_schema,
               rt.relname AS target_table,
               {_key_names("confkey", "confrelid")} AS target_columns,
               con.confdeltype::text AS on_delete
        FROM pg_constraint AS con
        JOIN pg_class AS t ON t.oid = con.conrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        JOIN pg_class AS rt ON rt.oid = con.confrelid
        JOIN pg_namespace AS rn ON rn.oid = rt.relnamespace
        WHERE con.contype = 'f'
          AND con.conparentid = 0
          AND n.nspname = ANY(%(schemas)s)
        ORDER BY n.nspname, t.relname, con.conname
        """,  # noqa: S608 -- constants, no input
        schemas,
        using,
        convert={"on_delete": DELETE_ACTIONS.__getitem__},
    )


def schema_extensions(*, using: str = "default") -> list[ExtensionInfo]:
    """Return the extensions installed in the database with their versions."""
    return fetch_rows(
        ExtensionInfo,
        """
        SELECT e.extname AS name,
               e.extversion AS version,
               n.nspname AS schema
        FROM pg_extension AS e
        JOIN pg_namespace AS n ON n.oid = e.extnamespace
        ORDER BY e.extname
        """,
        using=using,
    )


def schema_snapshot(
    *,
    schemas: Sequence[str] = DEFAULT_SCHEMAS,
    using: str = "default",
    triggers: bool = False,
    functions: bool = False,
    views: bool = False,
) -> SchemaSnapshot:
    """Return the whole live schema of the given schemas: seven statements (eight after DDL), whatever its size,
    and one more for each of its triggers, its functions and its views when asked (drift compares all three, the
    live schema page shows the triggers); a table another session holds ACCESS EXCLUSIVE read around (see above)."""
    locked = tuple(relation for relation in locked_relations(using=using) if relation.table_schema in schemas)
    around = {(relation.table_schema, relation.table_name) for relation in locked}
    tables = tuple(schema_tables(schemas=schemas, using=using))
    keys = {(table.schema, table.name) for table in tables} - around
    return SchemaSnapshot(
        schemas=tuple(schemas),
        tables=tables,
        columns=tuple(schema_columns(schemas=schemas, using=using, around=around)),
        indexes=tuple(schema_indexes(schemas=schemas, using=using, tables=keys)),
        constraints=tuple(schema_constraints(schemas=schemas, using=using, around=around)),
        foreign_keys=tuple(schema_foreign_keys(schemas=schemas, using=using)),
        extensions=tuple(schema_extensions(using=using)),
        locked=locked,
        triggers=tuple(schema_triggers(schemas=schemas, using=using, around=around)) if triggers else (),
        functions=tuple(schema_functions(schemas=schemas, using=using)) if functions else (),
        views=tuple(schema_views(schemas=schemas, using=using)) if views else (),
    )
