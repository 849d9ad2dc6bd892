"""Reach a configured database by alias; every catalog function goes through here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import postgres

__all__ = [
    "RowMismatch",
    "UnknownDatabase",
    "connection_params",
    "fetch_only_row",
    "cursor",
    "fetch_all",
    "fetch_one",
    "fetch_row",
    "fetch_rows",
    "fetch_tuples",
    "own_connection",
    "refusing_writes",
    "server_version",
]


class UnknownDatabase(ValueError):
    """A database alias that is not in settings.DATABASES."""


class RowMismatch(TypeError):
    """A statement's output columns are not the fields of the dataclass its rows fill, name for name."""


def validated_alias(using: str) -> str:
    """Return using if it names a configured database, else raise UnknownDatabase."""
    if using not in connections.settings:
        raise UnknownDatabase(f"No database is configured under the alias {using!r}.")
    return using


def connection_params(using: str) -> dict[str, Any]:
    """Return psycopg.connect() arguments for a new connection like the alias's own."""
    params = connections[validated_alias(using)].get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return params


def own_connection(using: str = "default", *, autocommit: bool = True, **overrides: Any) -> psycopg.Connection:
    """Open a connection of its own to the alias's database, outside Django's and its transaction."""
    return psycopg.connect(**{**connection_params(using), **overrides}, autocommit=autocommit)


@contextmanager
def cursor(using: str = "default") -> Iterator[CursorWrapper]:
    """Yield a cursor on the database named by using."""
    with connections[validated_alias(using)].cursor() as cur:
        yield cur


@contextmanager
def refusing_writes(using: str = "default") -> Iterator[None]:
    """Run the block with every write refused (an error), for code that should only read but runs a project's own:
    writing SQL of a migration calls its operations' database_forwards, and a project's operation may execute what
    it should only have written.

    In a transaction, the block is a savepoint made read-only and always rolled back. Outside one, no transaction
    is opened (a concurrent index operation checks that there is none, even to write its SQL): the session's
    default_transaction_read_only is on for the block, so each statement runs in a read-only transaction of its
    own, and is set back after it.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        with transaction.atomic(using=using):
            with connection.cursor() as cur:
                # Allowed at any point of a transaction (only the way back to read-write is not); rolling the
                # savepoint back restores the setting before it.
                cur.execute("SET LOCAL transaction_read_only = on")
            yield
            transaction.set_rollback(True, using=using)
        return
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('default_transaction_read_only')")
        (was,) = cur.fetchone()
        cur.execute("SELECT set_config('default_transaction_read_only', 'on', false)")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT set_config('default_transaction_read_only', %s, false)", [was])


def fetch_all(sql: str, params: Any = None, *, using: str = "default") -> list[tuple[Any, ...]]:
    """Run one statement and return all its rows."""
    with cursor(using) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fetch_one(sql: str, params: Any = None, *, using: str = "default") -> tuple[Any, ...] | None:
    """Run one statement and return its first row."""
    with cursor(using) as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def _checked_names(
    row_class: type, description: Sequence[Any], convert: Mapping[str, Callable[[Any], Any]]
) -> list[str]:
    """Return the statement's column names, after checking they are row_class's fields, each once."""
    names = [column.name for column in description]
    fields = {field.name for field in dataclasses.fields(row_class) if field.init}  # type: ignore[arg-type]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    without_field = sorted(set(names) - fields)
    without_column = sorted(fields - set(names))
    unknown_converters = sorted(set(convert) - fields)
    if duplicates or without_field or without_column or unknown_converters:
        problems = [
            f"{label}: {', '.join(items)}"
            for label, items in (
                ("columns named twice", duplicates),
                ("columns without a field", without_field),
                ("fields without a column", without_column),
                ("converters without a field", unknown_converters),
            )
            if items
        ]
        raise RowMismatch(
            f"{row_class.__name__} cannot be filled from this statement's columns ({'; '.join(problems)})."
        )
    return names


def _row_maker[Row](
    row_class: type[Row], description: Sequence[Any], convert: Mapping[str, Callable[[Any], Any]]
) -> Callable[[Sequence[Any]], Row]:
    """Return a function that turns one row into row_class by column name, after checking names and fields match."""
    names = _checked_names(row_class, description, convert)

    # Built positionally, in the fields' order: thousands of rows per statement make keyword dicts show up.
    init_fields = [field for field in dataclasses.fields(row_class) if field.init]  # type: ignore[arg-type]
    if any(field.kw_only for field in init_fields):
        order = None
    else:
        order = [names.index(field.name) for field in init_fields]
    converters = [(position, convert[name]) for position, name in enumerate(names) if name in convert]
    # Arrays become tuples (rows are frozen, and hashable where their values are): only a column of an array type,
    # or of a type the driver does not know, can hold a list, so only those are looked at.
    arrays = [position for position, column in enumerate(description) if _may_hold_list(column.type_code)]
    if order is not None and not arrays and not converters and order == list(range(len(names))):
        return lambda row: row_class(*row)  # the columns are the fields, in order: nothing to look at

    def make(row: Sequence[Any]) -> Row:
        values = list(row)
        for position in arrays:
            if type(values[position]) is list:
                values[position] = tuple(values[position])
        for position, function in converters:
            values[position] = function(values[position])
        if order is None:
            return row_class(**dict(zip(names, values, strict=True)))
        return row_class(*[values[position] for position in order])

    return make


def _may_hold_list(type_oid: int) -> bool:
    """Return whether a column of this type can come back from psycopg as a list (an array, or a type it lacks)."""
    info = postgres.types.get(type_oid)
    return info is None or info.array_oid == type_oid


def fetch_rows[Row](
    row_class: type[Row],
    sql: Any,
    params: Any = None,
    *,
    using: str = "default",
    convert: Mapping[str, Callable[[Any], Any]] | None = None,
) -> list[Row]:
    """Run one statement and return each row as row_class, filled by column name (convert: field -> function)."""
    with cursor(using) as cur:
        cur.execute(sql, params)
        make = _row_maker(row_class, cur.description, convert or {})
        return [make(row) for row in cur.fetchall()]


def fetch_tuples(row_class: type, sql: Any, params: Any = None, *, using: str = "default") -> list[tuple[Any, ...]]:
    """Run one statement whose columns are row_class's fields, in order and by name, and return its rows as tuples.

    For a hot path that compares rows rather than builds them: the names are checked as fetch_rows checks them, and
    the order too, so row[k] is the k-th field. Columns that can hold arrays are refused (they would be lists).
    """
    with cursor(using) as cur:
        cur.execute(sql, params)
        names = _checked_names(row_class, cur.description, {})
        fields = [field.name for field in dataclasses.fields(row_class)]
        if names != fields or any(_may_hold_list(column.type_code) for column in cur.description):
            raise RowMismatch(f"{row_class.__name__}: fetch_tuples needs its fields in order, none of them an array.")
        return cur.fetchall()


def fetch_only_row[Row](
    row_class: type[Row],
    sql: Any,
    params: Any = None,
    *,
    using: str = "default",
    convert: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Row:
    """Return the only row of a statement that always returns one (an aggregate, settings): fetch_row's, not None."""
    row = fetch_row(row_class, sql, params, using=using, convert=convert)
    if row is None:
        raise RowMismatch(f"Expected one {row_class.__name__} row, the statement returned none.")
    return row


def fetch_row[Row](
    row_class: type[Row],
    sql: Any,
    params: Any = None,
    *,
    using: str = "default",
    convert: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Row | None:
    """Run one statement and return its only row as row_class, filled by column name; None when it has none."""
    with cursor(using) as cur:
        cur.execute(sql, params)
        make = _row_maker(row_class, cur.description, convert or {})
        rows = cur.fetchmany(2)
    if len(rows) > 1:
        raise RowMismatch(f"Expected at most one {row_class.__name__} row, the statement returned more.")
    return make(rows[0]) if rows else None


def server_version(using: str = "default") -> int:
    """Return the server's version number (e.g. 180004), as the driver learned it on connecting: no query."""
    wrapper = connections[validated_alias(using)]
    wrapper.ensure_connection()
    return int(wrapper.connection.info.server_version)
