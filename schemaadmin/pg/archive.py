"""The archive schema: copies of what a destructive migration drops, made just before the drop, and their list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections, transaction
from psycopg import sql
from psycopg.errors import DependentObjectsStillExist

from schemaadmin.pg.connection import cursor, fetch_row, fetch_rows, validated_alias
from schemaadmin.pg.locked import LOCKED_CTE
from schemaadmin.pg.relations import TOTAL_BYTES_SQL

__all__ = [
    "ArchiveInUse",
    "ArchiveTable",
    "archive_columns",
    "archive_tables",
    "drop_archive",
    "primary_key",
    "table_exists",
]


class ArchiveInUse(Exception):
    """Other objects depend on the archive table (a view over it, a foreign key to it): nothing was dropped."""


@dataclass(frozen=True, slots=True)
class ArchiveTable:
    name: str
    comment: str  # what it holds, as the worker wrote it (JSON)
    total_bytes: int
    estimated_rows: int | None


@dataclass(frozen=True, slots=True)
class _Key:
    columns: list[str]


@dataclass(frozen=True, slots=True)
class _Exists:
    found: bool


# schema.table, or the table through the search_path (as Django's names are) when schema is "".
_REGCLASS = "to_regclass(concat_ws('.', quote_ident(NULLIF(%(schema)s, '')), quote_ident(%(table)s)))"


def table_exists(table: str, *, schema: str = "", using: str = "default") -> bool:
    """Say whether the table (in schema, or resolved through the search_path when schema is "") exists."""
    row = fetch_row(
        _Exists, f"SELECT {_REGCLASS} IS NOT NULL AS found", {"schema": schema, "table": table}, using=using
    )
    return bool(row and row.found)


def primary_key(table: str, *, schema: str = "", using: str = "default") -> list[str]:
    """Return the table's primary key columns in key order (none when it has no primary key)."""
    row = fetch_row(
        _Key,
        f"""
        SELECT COALESCE(array_agg(a.attname ORDER BY k.position), '{{}}') AS columns
        FROM pg_index AS i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
        JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = {_REGCLASS}
          AND i.indisprimary
        """,  # noqa: S608 -- a constant; the names are parameters
        {"schema": schema, "table": table},
        using=using,
    )
    return list(row.columns) if row else []


def archive_columns(
    table: str,
    columns: Sequence[str] | None,
    *,
    source_schema: str = "",
    schema: str,
    name: str,
    about: dict[str, Any],
    using: str = "default",
) -> int:
    """Copy the table's rows (only these columns, or all when None) into schema.name; return how many.

    One transaction: the schema if missing, the copy, and its comment: `about` and the rows copied, as JSON.
    A failure leaves nothing behind.
    """
    using = validated_alias(using)
    source = sql.Identifier(source_schema, table) if source_schema else sql.Identifier(table)
    target = sql.Identifier(schema, name)
    selected = sql.SQL("*") if columns is None else sql.SQL(", ").join(map(sql.Identifier, columns))
    connection = connections[using]
    with transaction.atomic(using=using), cursor(using) as cur:
        raw = connection.connection
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)).as_string(raw))
        cur.execute(
            sql.SQL("CREATE TABLE {target} AS SELECT {selected} FROM {source}")
            .format(target=target, selected=selected, source=source)
            .as_string(raw)
        )
        copied = cur.rowcount
        comment = json.dumps({**about, "rows": max(copied, 0)})
        cur.execute(sql.SQL("COMMENT ON TABLE {} IS %s").format(target).as_string(raw), [comment])
    return max(copied, 0)


def archive_tables(*, schema: str, using: str = "default") -> list[ArchiveTable]:
    """Return the tables of the archive schema, newest first, with their size and comment (one being dropped or
    otherwise locked by another session is not opened: its size is what pg_class counted)."""
    return fetch_rows(
        ArchiveTable,
        f"""
        WITH {LOCKED_CTE}
        SELECT c.relname AS name,
               COALESCE(obj_description(c.oid, 'pg_class'), '') AS comment,
               {TOTAL_BYTES_SQL} AS total_bytes,
               CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS estimated_rows
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = %s
          AND c.relkind = 'r'
        ORDER BY c.oid DESC
        """,  # noqa: S608 -- constants and parameters
        [schema],
        using=using,
    )


def drop_archive(*, schema: str, name: str, using: str = "default") -> bool:
    """Drop one table of the archive schema; False when there is no such table."""
    using = validated_alias(using)
    if not any(table.name == name for table in archive_tables(schema=schema, using=using)):
        return False
    try:
        with transaction.atomic(using=using), cursor(using) as cur:
            cur.execute(
                sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)).as_string(connections[using].connection)
            )
    except DatabaseError as exc:
        if not isinstance(exc.__cause__, DependentObjectsStillExist):
            raise
        # Never CASCADE: what depends on the copy (a view someone made to read it) is not the archive's to drop.
        detail = (exc.__cause__.diag.message_detail or "").replace("\n", "; ")
        raise ArchiveInUse(
            f"{schema}.{name} was not dropped: other objects depend on it ({detail}). Drop or change those first."
        ) from exc
    return True
