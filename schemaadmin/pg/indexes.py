"""Indexes: what each one is and how it is used.

Each function is one statement, whatever the number of indexes: nothing here queries per index. The foreign keys
indexes should serve are in pg/constraints.py, exact btree bloat in pg/bloat.py; bloat estimates and the facts
about an index's key columns come from pg_stats, through pg/row_statistics.py. "An index" is
one statement and one dataclass: index() and indexes() share INDEX_SELECT (pg/index_select.py) and fill IndexInfo;
the recall check's target, the rebuild's index state and the live schema's index list are read from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemaadmin.pg.connection import fetch_row, fetch_rows
from schemaadmin.pg.ddl import create_over_partitions
from schemaadmin.pg.index_select import index_select
from schemaadmin.pg.locked import LOCKED_OIDS, partitions_below_sql, table_locked_sql
from schemaadmin.pg.names import qualify, qualify_array

__all__ = [
    "IndexInfo",
    "index",
    "indexes",
    "indexes_below",
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


def _indexes_where(where: str, params: dict[str, object] | None = None, *, using: str) -> list[IndexInfo]:
    return fetch_rows(IndexInfo, index_select(where, using=using), params, using=using, convert=INDEX_CONVERT)


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
        index_select(f"{SYSTEM_SCHEMAS_SQL} AND n.nspname = %(schema)s AND ic.relname = %(name)s", using=using),
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
