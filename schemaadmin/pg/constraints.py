"""Constraints: the ones added NOT VALID and never validated."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.indexes import SYSTEM_SCHEMAS_SQL

__all__ = ["UnvalidatedConstraint", "unvalidated_constraints"]


@dataclass(frozen=True, slots=True)
class UnvalidatedConstraint:
    schema: str
    table: str
    name: str
    kind: str  # "check" or "foreign key"
    definition: str  # pg_get_constraintdef(), e.g. CHECK ((amount > 0)) NOT VALID


def unvalidated_constraints(*, using: str = "default") -> list[UnvalidatedConstraint]:
    """Return every CHECK and foreign key in user schemas still marked NOT VALID (old rows never checked)."""
    return fetch_rows(
        UnvalidatedConstraint,
        f"""
        SELECT n.nspname AS schema,
               t.relname AS table,
               c.conname AS name,
               CASE c.contype WHEN 'c' THEN 'check' ELSE 'foreign key' END AS kind,
               pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint AS c
        JOIN pg_class AS t ON t.oid = c.conrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        WHERE NOT c.convalidated
          AND c.contype IN ('c', 'f')
          AND {SYSTEM_SCHEMAS_SQL}
        ORDER BY n.nspname, t.relname, c.conname
        """,  # noqa: S608 -- a constant, no input
        using=using,
    )
