"""How a catalog row names itself for people: schema.name and schema.table, unquoted (pg/ddl.py quotes for SQL)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Named", "NamedOnTable", "OnTable", "Qualified", "split_qualified"]


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
        return f"{self.schema}.{self.name}"

    @property
    def qualified_table(self: OnTable) -> str:
        return f"{self.schema}.{self.table}"


def split_qualified(qualified: str) -> tuple[str, str] | None:
    """Return the schema and the name of "schema.name" (split at the first dot), or None when either is missing."""
    schema, dot, name = qualified.partition(".")
    return (schema, name) if dot and schema and name else None
