"""Functions and operators by name: every overload a query could reach, with what the catalog says it may do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemaadmin.pg.connection import cursor

__all__ = ["Overload", "RoutineName", "overloads"]


@dataclass(frozen=True, slots=True)
class RoutineName:
    """A name as a query writes it: a function, an operator, or a field that may be a function (x.name)."""

    kind: str  # "function", "operator" or "attribute" (attribute notation: one-argument functions only)
    schema: str | None  # None: looked up on the search path
    name: str


@dataclass(frozen=True, slots=True)
class Overload:
    kind: str
    written_schema: str | None  # the schema the query named, None when it named none
    name: str  # the name as written: a function's or an operator's
    schema: str  # where this overload lives
    function: str  # the function that runs: the overload itself, or the operator's underlying function
    signature: str  # the function with its argument types, e.g. pg_catalog.set_config(text,text,boolean)
    volatility: str  # pg_proc.provolatile: "i" immutable, "s" stable, "v" volatile
    security_definer: bool


def overloads(
    names: Sequence[RoutineName], *, search_schemas: Sequence[str] = (), using: str = "default"
) -> list[Overload]:
    """Return every overload of the named functions and the function behind every operator of the named operators.

    A name without a schema is looked up in the connection's search path (pg_catalog included) and in
    search_schemas; a name with one only in that schema. Functions taking an `internal` argument (index access
    methods, TABLESAMPLE handlers) are left out: SQL cannot call them. A name that matches nothing has no row.
    """
    with cursor(using) as cur:
        cur.execute(
            """
            SELECT
                wanted.kind AS kind,
                wanted.schema AS written_schema,
                wanted.name AS name,
                n.nspname AS schema,
                p.proname AS function,
                p.oid::regprocedure::text AS signature,
                p.provolatile AS volatility,
                p.prosecdef AS security_definer
            FROM unnest(%(kinds)s::text[], %(schemas)s::text[], %(names)s::text[]) AS wanted(kind, schema, name)
            JOIN pg_namespace AS n
              ON n.nspname = wanted.schema
              OR (wanted.schema IS NULL AND n.nspname = ANY (current_schemas(true) || %(search)s::text[]))
            JOIN LATERAL (
                SELECT f.oid, f.proname, f.provolatile, f.prosecdef
                FROM pg_proc AS f
                WHERE wanted.kind IN ('function', 'attribute')
                  AND f.pronamespace = n.oid
                  AND f.proname = wanted.name
                  AND (wanted.kind = 'function' OR f.pronargs = 1)
                  AND 'internal'::regtype::oid <> ALL (f.proargtypes::oid[])
                UNION ALL
                SELECT f.oid, f.proname, f.provolatile, f.prosecdef
                FROM pg_operator AS o
                JOIN pg_proc AS f ON f.oid = o.oprcode
                WHERE wanted.kind = 'operator'
                  AND o.oprnamespace = n.oid
                  AND o.oprname = wanted.name
            ) AS p ON true
            ORDER BY wanted.kind, wanted.schema, wanted.name, n.nspname, signature
            """,
            {
                "kinds": [name.kind for name in names],
                "schemas": [name.schema for name in names],
                "names": [name.name for name in names],
                "search": list(search_schemas),
            },
        )
        columns = [column.name for column in cur.description]
        return [Overload(**dict(zip(columns, row, strict=True))) for row in cur.fetchall()]
