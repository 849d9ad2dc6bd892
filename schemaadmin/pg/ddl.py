"""DDL as statement objects: each renders as the very text it runs, so what a user is shown is what runs.

One vocabulary for every statement SchemaAdmin runs or proposes: a rebuild's script (run by the job, shown by
its review and log), the fixes of index health and drift findings (shown to copy). Names are quoted by one
function, pg/identifiers.quote_identifier(), which follows PostgreSQL's quote_ident(): bare when the name reads back
the same, double-quoted otherwise (so `public.users` stays readable and `"Child Table"` stays right). An index is
recreated from its catalog parts (pg_get_indexdef(oid, k) per key, pg_index's operator classes, collations and ordering,
pg_get_expr of its predicate: see pg/indexes.py), never from a regex over its whole definition.

Statements are composed with psycopg.sql and render without a connection; run() sends them on the connection it
is given (the rebuild's autocommit build connection: CONCURRENTLY cannot run inside a transaction block).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from schemaadmin.pg.identifiers import Name, quote_identifier

if TYPE_CHECKING:  # both import this module's neighbours; the types are only for the checker
    from schemaadmin.pg.indexes import IndexInfo
    from schemaadmin.pg.schema import SchemaIndex

__all__ = [
    "IndexDefinition",
    "IndexKey",
    "Statement",
    "cluster_on",
    "comment",
    "comment_on_index",
    "create_index",
    "create_over_partitions",
    "drop_index",
    "index_definition_of",
    "reindex_index",
    "rename_index",
    "script",
    "set_index_column_statistics",
    "set_index_options",
    "setting",
    "setting_reset",
]

# pg_index.indoption bits
_DESC = 1
_NULLS_FIRST = 2


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement: run() sends it on a connection, text is exactly what run() sends.

    retried marks a statement that takes a brief strong lock (a swap's DROP or RENAME): the rebuild runs it
    under a short lock_timeout and tries again (pg/index_builds.run_with_lock_retries).
    """

    query: sql.Composed | sql.SQL
    retried: bool = False

    @property
    def text(self) -> str:
        return self.query.as_string(None)

    def render(self, conn: psycopg.Connection | None = None) -> str:
        """Return the text run() sends (conn only decides the literal escaping rules; nothing is sent)."""
        return self.query.as_string(conn)

    def run(self, conn: psycopg.Connection) -> None:
        """Send the statement on conn."""
        conn.execute(self.query)

    def __str__(self) -> str:
        return self.text


def script(*statements: Statement | str) -> str:
    """Return statements as a script to copy, one per line, each ending in a semicolon (str items are comments)."""
    return "\n".join(item if isinstance(item, str) else f"{item.text};" for item in statements)


def _concurrently(concurrently: bool) -> sql.SQL:
    return sql.SQL(" CONCURRENTLY" if concurrently else "")


def setting(name: str, value: str) -> Statement:
    """Return the statement that sets a setting for the rest of the session."""
    return Statement(sql.SQL("SELECT set_config({}, {}, false)").format(sql.Literal(name), sql.Literal(value)))


def setting_reset(name: str) -> Statement:
    """Return the statement that puts a setting back to the session's default."""
    return Statement(sql.SQL("RESET {}").format(Name(name)))


def reindex_index(schema: str, name: str, *, concurrently: bool = True) -> Statement:
    """Return REINDEX INDEX [CONCURRENTLY] schema.name."""
    return Statement(sql.SQL("REINDEX INDEX{} {}").format(_concurrently(concurrently), Name(schema, name)))


def drop_index(schema: str, name: str, *, concurrently: bool = True, if_exists: bool = False) -> Statement:
    """Return DROP INDEX [CONCURRENTLY] [IF EXISTS] schema.name; retried on lock timeouts when a swap runs it."""
    return Statement(
        sql.SQL("DROP INDEX{}{} {}").format(
            _concurrently(concurrently), sql.SQL(" IF EXISTS" if if_exists else ""), Name(schema, name)
        ),
        retried=True,
    )


PARTITIONED_DROP_NOTE = (
    "-- A partitioned index cannot be dropped CONCURRENTLY: this holds an ACCESS EXCLUSIVE lock on every partition "
    "while it runs"
)
PARTITIONED_CREATE_NOTE = (
    "-- CONCURRENTLY cannot build on a partitioned table: this blocks writes to every partition while it builds. "
    "Without that: CREATE INDEX … ON ONLY the table, CREATE INDEX CONCURRENTLY on each partition, then "
    "ALTER INDEX … ATTACH PARTITION each"
)


def drop_index_fix(index: IndexInfo) -> tuple[Statement | str, ...]:
    """Return the fix text's DROP INDEX: CONCURRENTLY, or plain with what it locks for a partitioned index."""
    if index.is_partitioned:
        return (PARTITIONED_DROP_NOTE, drop_index(index.schema, index.name, concurrently=False))
    return (drop_index(index.schema, index.name),)


def create_index_fix(definition: IndexDefinition, *, partitioned: bool) -> tuple[Statement | str, ...]:
    """Return the fix text's CREATE INDEX: CONCURRENTLY, or plain with what it blocks on a partitioned table."""
    if partitioned:
        return (PARTITIONED_CREATE_NOTE, create_index(definition, concurrently=False))
    return (create_index(definition),)


def rename_index(schema: str, name: str, new_name: str) -> Statement:
    """Return the renaming of index schema.name to new_name, retried on lock timeouts."""
    return Statement(sql.SQL("ALTER INDEX {} RENAME TO {}").format(Name(schema, name), Name(new_name)), retried=True)


def set_index_options(schema: str, name: str, options: Mapping[str, int | str]) -> Statement:
    """Return ALTER INDEX schema.name SET (option = value, ...)."""
    return Statement(sql.SQL("ALTER INDEX {} SET ({})").format(Name(schema, name), _options(options)))


def _options(options: Mapping[str, int | str]) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(Name(key), sql.Literal(value)) for key, value in options.items()
    )


@dataclass(frozen=True, slots=True)
class IndexKey:
    """One key of an index: a column name, or an expression as the server writes it (pg_get_indexdef(oid, k))."""

    column: str | None = None  # a table column, quoted here
    expression: str | None = None  # server-rendered text, used as is: "(embedding::halfvec(3072))", "lower(f)"
    collation: str | None = None  # server-rendered, already quoted (e.g. pg_catalog."C"); None: the default
    opclass: str | None = None  # None: the method's default for the type
    # The operator class as the server writes it (schema-qualified, with options), used as is instead of opclass.
    opclass_text: str | None = None
    descending: bool = False
    nulls_first: bool | None = None  # None: the default for the direction

    def composed(self) -> sql.Composable:
        if (self.column is None) == (self.expression is None):
            raise ValueError("An index key is a column or an expression.")
        parts: list[sql.Composable] = [Name(self.column) if self.column is not None else sql.SQL(self.expression)]  # type: ignore[arg-type]
        if self.collation:
            parts.append(sql.SQL("COLLATE " + self.collation))  # type: ignore[arg-type]
        if self.opclass_text:
            parts.append(sql.SQL(self.opclass_text))  # type: ignore[arg-type]
        elif self.opclass:
            parts.append(Name(self.opclass))
        if (order := self.order()) != "ASC":  # ASC is the default: written only when NULLS is not
            parts.append(sql.SQL(order.removeprefix("ASC ")))  # type: ignore[arg-type]
        return sql.SQL(" ").join(parts)

    def order(self) -> str:
        """Return the key's order as CREATE INDEX writes it: ASC or DESC, then NULLS FIRST or LAST only where it is
        not the direction's default (LAST for ASC, FIRST for DESC)."""
        direction = "DESC" if self.descending else "ASC"
        if self.nulls_first is None or self.nulls_first == self.descending:
            return direction
        return f"{direction} NULLS {'FIRST' if self.nulls_first else 'LAST'}"


def key_order(flags: int) -> str:
    """Return a btree key's order (IndexKey.order) from its pg_index.indoption flags (1 DESC, 2 NULLS FIRST)."""
    return IndexKey(descending=bool(flags & _DESC), nulls_first=bool(flags & _NULLS_FIRST)).order()


@dataclass(frozen=True, slots=True)
class IndexDefinition:
    """What CREATE INDEX needs, from the catalog or from a proposal."""

    schema: str
    table: str
    name: str
    keys: tuple[IndexKey, ...]
    method: str = "btree"
    unique: bool = False
    include: tuple[IndexKey, ...] = ()  # INCLUDE columns (name and column or expression text only)
    nulls_not_distinct: bool = False  # a unique index's NULLS NOT DISTINCT (PostgreSQL 15+)
    options: Mapping[str, int | str] | None = None
    predicate: str | None = None  # server-rendered (pg_get_expr) or written by SchemaAdmin, used as is
    tablespace: str | None = None  # None: the database's default


def create_over_partitions(name: str, *, unique: bool, server_definition: str) -> Statement | None:
    """Return the CREATE INDEX that makes a partitioned index again over every partition, from pg_get_indexdef()'s
    text of it, which reads CREATE [UNIQUE] INDEX name ON ONLY table ...: the same without ONLY, so nothing it was
    is lost (NULLS NOT DISTINCT, an operator class's schema and options, storage options, its predicate). None when
    the text does not begin as that (then build it from its catalog parts: create_index(index_definition_of())).
    """
    head = f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote_identifier(name)} ON "
    if not server_definition.startswith(head + "ONLY "):
        return None
    return Statement(sql.SQL(head + server_definition[len(head) + len("ONLY ") :]))


def create_index(definition: IndexDefinition, *, concurrently: bool = True) -> Statement:
    """Return CREATE [UNIQUE] INDEX [CONCURRENTLY] name ON schema.table USING method (keys) [INCLUDE]
    [NULLS NOT DISTINCT] [WITH] [TABLESPACE] [WHERE]."""
    if not definition.keys:
        raise ValueError("An index needs at least one key.")
    query = sql.SQL("CREATE {unique}INDEX{concurrently} {name} ON {table} USING {method} ({keys})").format(
        unique=sql.SQL("UNIQUE " if definition.unique else ""),
        concurrently=_concurrently(concurrently),
        name=Name(definition.name),
        table=Name(definition.schema, definition.table),
        method=Name(definition.method),
        keys=sql.SQL(", ").join(key.composed() for key in definition.keys),
    )
    if definition.include:
        query += sql.SQL(" INCLUDE ({})").format(sql.SQL(", ").join(key.composed() for key in definition.include))
    if definition.nulls_not_distinct:
        query += sql.SQL(" NULLS NOT DISTINCT")
    if definition.options:
        query += sql.SQL(" WITH ({})").format(_options(definition.options))
    if definition.tablespace:
        query += sql.SQL(" TABLESPACE {}").format(Name(definition.tablespace))
    if definition.predicate:
        query += sql.SQL(" WHERE ({})").format(sql.SQL(definition.predicate))  # type: ignore[arg-type]
    return Statement(query)


def index_definition_of(
    index: IndexInfo | SchemaIndex,
    *,
    name: str | None = None,
    method: str | None = None,
    options: Mapping[str, int | str] | None = None,
    tablespace: str | None = None,
) -> IndexDefinition:
    """Return index's definition from its catalog parts, optionally renamed, with a new method or options, in a
    tablespace (pg_get_indexdef() names none: pass IndexInfo.tablespace to keep the index's own).

    A key's operator class is left out, as pg_get_indexdef() leaves it out, when it is the method's default for
    the key's type and the method stays; with a new method every one is written out, because the default of one
    method may not be one of another (HNSW has none for vector). Ordering flags only mean something to a method
    that orders (btree); others store zeros.
    """
    same_method = method is None or method == index.method
    # The catalog's, as the server writes them: another schema's operator class named in it, its options kept.
    written = tuple(
        None if default and same_method and not text.endswith(")") else text
        for text, default in zip(index.opclasses_written, index.opclass_defaults, strict=True)
    )
    if len(written) != len(index.columns):
        raise ValueError("The index's keys do not match its operator classes.")
    keys = tuple(
        IndexKey(
            # pg_get_indexdef(oid, k) already quotes a column's name: it stands as server text like an expression.
            expression=text,
            collation=collation,
            opclass_text=server_text,
            descending=bool(flags & _DESC),
            nulls_first=bool(flags & _NULLS_FIRST),
        )
        for text, collation, server_text, flags in zip(
            index.columns, index.key_collations, written, index.key_flags, strict=True
        )
    )
    return IndexDefinition(
        schema=index.schema,
        table=index.table,
        name=name or index.name,
        keys=keys,
        method=method or index.method,
        unique=index.is_unique,
        include=tuple(IndexKey(expression=text) for text in index.included),
        # An IndexInfo says it (pg_index.indnullsnotdistinct); a shadow's SchemaIndex does not (drift compares its
        # definition's text, which writes it).
        nulls_not_distinct=bool(getattr(index, "nulls_not_distinct", False)),
        options=dict(options) if options is not None else dict(index.options),
        predicate=index.predicate,
        tablespace=tablespace,
    )


_COMMENTED = frozenset({"TABLE", "COLUMN", "INDEX"})


def comment(what: str, name: Name, text: str | None) -> Statement:
    """Return COMMENT ON what name IS 'text' (None: NULL, no comment); what is TABLE, COLUMN or INDEX."""
    if what not in _COMMENTED:
        raise ValueError(f"No comment on {what!r} here.")
    said = sql.Literal(text) if text is not None else sql.SQL("NULL")
    return Statement(sql.SQL("COMMENT ON {} {} IS {}").format(sql.SQL(what), name, said))  # type: ignore[arg-type]


def comment_on_index(schema: str, name: str, text: str | None) -> Statement:
    """Return COMMENT ON INDEX schema.name IS 'text' (None: NULL, no comment)."""
    return comment("INDEX", Name(schema, name), text)


def set_index_column_statistics(schema: str, name: str, column: int, target: int) -> Statement:
    """Return ALTER INDEX schema.name ALTER COLUMN n SET STATISTICS target (n: the key's position, an expression)."""
    return Statement(
        sql.SQL("ALTER INDEX {} ALTER COLUMN {} SET STATISTICS {}").format(
            Name(schema, name), sql.Literal(column), sql.Literal(target)
        )
    )


def cluster_on(schema: str, table: str, index: str) -> Statement:
    """Return ALTER TABLE schema.table CLUSTER ON index; retried on lock timeouts (SHARE UPDATE EXCLUSIVE)."""
    return Statement(sql.SQL("ALTER TABLE {} CLUSTER ON {}").format(Name(schema, table), Name(index)), retried=True)
