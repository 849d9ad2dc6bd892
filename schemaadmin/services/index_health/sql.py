"""Fix SQL: identifiers quoted the way PostgreSQL's quote_ident() does, statements one per line."""

from __future__ import annotations

import re

__all__ = ["index_name_for", "literal", "quote_identifier", "qualified"]

_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
# Reserved and type/function-name keywords: they cannot stand as bare column or table names.
_KEYWORDS = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation
    column concurrently constraint create cross current_catalog current_date current_role current_schema current_time
    current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign
    freeze from full grant group having ilike in initially inner intersect into is isnull join lateral leading left
    like limit localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing
    primary references returning right select session_user similar some symmetric system_user table tablesample
    then to trailing true union unique user using variadic verbose when where window with
    """.split()
)
MAX_IDENTIFIER_BYTES = 63


def quote_identifier(name: str) -> str:
    """Return name as SQL writes it: bare when that reads back the same, else double-quoted."""
    if _PLAIN.match(name) and name not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """Return schema.name, each part quoted as needed."""
    return f"{quote_identifier(schema)}.{quote_identifier(name)}"


def literal(value: str) -> str:
    """Return value as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def index_name_for(table: str, *parts: str, suffix: str = "idx") -> str:
    """Return a new index name from the table and column names, cut to PostgreSQL's 63-byte limit."""
    words = [table, *(re.sub(r"\W+", "_", p).strip("_") for p in parts), suffix]
    name = "_".join(w for w in words if w)
    while len(name.encode()) > MAX_IDENTIFIER_BYTES:
        name = name[:-1]
    return name
