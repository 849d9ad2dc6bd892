"""Tables: sizes and row estimates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_all

__all__ = ["TableEstimate", "table_estimates"]


@dataclass(frozen=True, slots=True)
class TableEstimate:
    table: str
    estimated_rows: int | None  # None: never vacuumed or analyzed, so the planner has no estimate yet
    total_bytes: int


def table_estimates(
    tables: Sequence[str], *, schema: str = "public", using: str = "default"
) -> list[TableEstimate]:
    """Return the planner's row estimate (reltuples) and total size of each named table, in the order given."""
    rows = fetch_all(
        """
        SELECT wanted.name AS table,
               CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS estimated_rows,
               COALESCE(pg_total_relation_size(c.oid), 0) AS total_bytes
        FROM unnest(%(tables)s::text[]) WITH ORDINALITY AS wanted(name, position)
        JOIN pg_namespace AS n ON n.nspname = %(schema)s
        JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = wanted.name AND c.relkind IN ('r', 'p')
        ORDER BY wanted.position
        """,
        {"tables": list(tables), "schema": schema},
        using=using,
    )
    return [TableEstimate(*row) for row in rows]
