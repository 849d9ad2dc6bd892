"""How a catalog row names itself for people and URLs: schema.name and schema.table (pg/ddl.py quotes for SQL).

A part is written as it is, unless it holds a dot or a double quote, begins or ends with white space, or holds a
control character: then it is double-quoted as PostgreSQL quotes (a quote inside doubled), so that the text splits
back into the same names ("dot.sch".x and dot."sch.x" are two tables) and a trailing space survives a form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

__all__ = [
    "name_pair",
    "partition_parent_sql",
    "QUALIFIED_MAX_LENGTH",
    "Named",
    "NamedOnTable",
    "OnTable",
    "Qualified",
    "db_table_parts",
    "qualify",
    "qualify_array",
    "split_qualified",
]

# How long a schema.name as qualify() writes it may be in a form: two 63-byte names, each quoted, and the dot (a
# longer one names nothing; the catalog is asked only within this).
QUALIFIED_MAX_LENGTH = 260

_NEEDS_QUOTES = re.compile(r'[."\x00-\x1f\x7f]|^\s|\s$')
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')


class InSchema(Protocol):
    @property
    def schema(self) -> str: ...


class Named(InSchema, Protocol):
    """A row with a schema and a name: a table, an index, a sequence, a constraint."""

    @property
    def name(self) -> str: ...


class OnTable(InSchema, Protocol):
    """A row that lives on a table: a column, an index, a constraint."""

    @property
    def table(self) -> str: ...


class NamedOnTable(Named, OnTable, Protocol):
    """A named row on a table: an index, a constraint."""


class Qualified:
    """A mixin for frozen row dataclasses: the qualified names their fields allow (it adds no fields)."""

    __slots__ = ()

    @property
    def qualified_name(self: Named) -> str:
        return qualify(self.schema, self.name)

    @property
    def qualified_table(self: OnTable) -> str:
        return qualify(self.schema, self.table)


# Pages look names up many times a request (40,000 at 30,000 indexes, each several times): a cached call costs
# ~0.07 µs, the checks ~1.3 µs. Bounded, so a server whose names churn does not grow it for ever.
@lru_cache(maxsize=1 << 17)
def qualify(*names: str) -> str:
    """Return schema.name (or schema.table.column): each part as it is, or double-quoted where it must be."""
    return ".".join('"' + name.replace('"', '""') + '"' if _NEEDS_QUOTES.search(name) else name for name in names)


def partition_parent_sql(relation: str, oid: str) -> str:
    """Return SQL for ARRAY[schema, name] of the partitioned table or index the pg_class row aliased relation is a
    partition of (oid: the SQL of its oid), NULL when it is none (what qualify_array reads)."""
    return (
        f"CASE WHEN {relation}.relispartition THEN ("  # noqa: S608 -- aliases, no input
        "SELECT ARRAY[pn.nspname, pc.relname]::text[] "
        "FROM pg_inherits AS inh "
        "JOIN pg_class AS pc ON pc.oid = inh.inhparent "
        "JOIN pg_namespace AS pn ON pn.oid = pc.relnamespace "
        f"WHERE inh.inhrelid = {oid}) END"
    )


def name_pair(parts: Sequence[str] | None) -> tuple[str, str] | None:
    """Return partition_parent_sql()'s ARRAY[schema, name] as a (schema, name) pair, or None."""
    return (parts[0], parts[1]) if parts else None


def qualify_array(parts: Sequence[str] | None) -> str | None:
    """Turn a text[] column of [schema, name] (SQL builds no key: it cannot quote as qualify() does) into qualify()'s
    schema.name, the key the row it names is looked up by; None for NULL."""
    return qualify(*parts) if parts else None


def split_qualified(text: str) -> tuple[str, str] | None:
    """Return the schema and the name of qualify()'s "schema.name", or None when either is missing (or the text
    holds a NUL, which no PostgreSQL name can).

    An unquoted schema ends at the first dot, and an unquoted name is the rest as typed: "public.a.b" is the name
    "a.b" in public, as before names were quoted.
    """
    if "\x00" in text:
        return None
    quoted = _QUOTED.match(text)
    if quoted and text[quoted.end() : quoted.end() + 1] == ".":
        schema, name = quoted[1].replace('""', '"'), text[quoted.end() + 1 :]
    else:
        schema, dot, name = text.partition(".")
        if not dot:
            return None
    whole = _QUOTED.fullmatch(name)
    if whole:
        name = whole[1].replace('""', '"')
    return (schema, name) if schema and name else None


_QUALIFIED_DB_TABLE = re.compile(r'^"((?:[^"]|"")+)"\."((?:[^"]|"")+)"$')


def db_table_parts(db_table: str) -> tuple[str | None, str]:
    """Split a Django model's db_table into its schema (None: the search_path's) and table. '"schema"."table"'
    names a schema, and so does 'schema"."table', which Django quotes into the same (and gives the join tables of
    a model so named); any other text is one table name."""
    quoted = _QUALIFIED_DB_TABLE.match(db_table) or _QUALIFIED_DB_TABLE.match(f'"{db_table}"')
    if quoted:
        return quoted.group(1).replace('""', '"'), quoted.group(2).replace('""', '"')
    return None, db_table
