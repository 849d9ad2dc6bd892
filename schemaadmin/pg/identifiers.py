"""Names in SQL: quoted as PostgreSQL's quote_ident() writes them (one function for every statement SchemaAdmin runs
or shows), as literals, and cut to PostgreSQL's 63 bytes as it cuts them (pg/ddl.py composes statements of them)."""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from psycopg import sql

__all__ = ["NAME_BYTES", "Name", "first_bytes", "index_name_for", "literal", "qualified", "quote_identifier"]

_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")
# quote_ident() quotes every keyword that is not unreserved: they cannot stand as a bare name everywhere.
_NOT_BARE = frozenset(RESERVED_KEYWORDS) | frozenset(COL_NAME_KEYWORDS) | frozenset(TYPE_FUNC_NAME_KEYWORDS)

NAME_BYTES = 63  # PostgreSQL keeps the first 63 bytes of a name


def quote_identifier(name: str) -> str:
    """Return name as PostgreSQL's quote_ident() writes it: bare when that reads back the same, else quoted."""
    if _PLAIN.fullmatch(name) and name not in _NOT_BARE:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """Return schema.name as text, each part quoted by quote_identifier()."""
    return Name(schema, name).as_string(None)


def literal(value: str) -> str:
    """Return value as a SQL string literal (for text shown to copy; statements compose sql.Literal)."""
    return sql.Literal(value).as_string(None)


def index_name_for(table: str, *parts: str, suffix: str = "idx", taken: Container[str] = frozenset()) -> str:
    """Return a new index name from the table and column names, cut to PostgreSQL's 63-byte limit.

    A name in taken (the schema's relations) gets a number after it, as PostgreSQL names its own (t_a_idx1).
    """
    words = [table, *(re.sub(r"\W+", "_", part).strip("_") for part in parts), suffix]
    base = "_".join(word for word in words if word)
    name, number = _cut_to_name(base, ""), 0
    while name in taken:
        number += 1
        name = _cut_to_name(base, str(number))
    return name


def _cut_to_name(base: str, tail: str) -> str:
    return first_bytes(base, NAME_BYTES - len(tail.encode())) + tail


def first_bytes(text: str, size: int) -> str:
    """Return the longest start of text of at most size bytes in UTF-8, as PostgreSQL cuts a name."""
    return text.encode()[:size].decode(errors="ignore")


class Name(sql.Composable):
    """A possibly qualified name (schema, name) in a composed statement, quoted by quote_identifier()."""

    def __init__(self, *parts: str) -> None:
        if not parts or not all(isinstance(part, str) and part for part in parts):
            raise ValueError("A name needs one or more non-empty parts.")
        if any("\x00" in part for part in parts):
            raise ValueError("A name cannot contain NUL.")
        super().__init__(parts)
        self.parts = parts

    def as_bytes(self, context: Any = None) -> bytes:
        return self.as_string(context).encode()

    def as_string(self, context: Any = None) -> str:
        return ".".join(quote_identifier(part) for part in self.parts)
