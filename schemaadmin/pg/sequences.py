"""Sequences: how far each one has counted towards the most it, or the column it feeds, can hold."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.names import qualify

__all__ = ["SequenceUsage", "sequences"]


@dataclass(frozen=True, slots=True)
class SequenceUsage:
    schema: str
    name: str
    data_type: str  # the sequence's own type: smallint, integer or bigint
    last_value: int | None  # None: never used, or this role may not read it
    increment: int
    limit: int  # the value it cannot pass: its max (min when descending), or the column's type bound if nearer
    start: int  # where counting towards that limit began: its min (max when descending)
    cycles: bool
    owned_table: str | None  # the table (same schema) of the column it is OWNED BY, or whose identity it is
    owned_column: str | None
    column_type: str | None  # that column's type, when it limits the sequence

    @property
    def used_share(self) -> float | None:
        """Return how much of the range from start to limit is used up, or None before the first nextval()."""
        if self.last_value is None or self.limit == self.start:
            return None
        return (self.last_value - self.start) / (self.limit - self.start)

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)


def sequences(*, using: str = "default") -> list[SequenceUsage]:
    """Return every sequence in user schemas with its last value and the limit it counts towards, in one query.

    A sequence feeding a column of a smaller type (a bigint sequence behind an integer column) runs out at the
    column type's bound, so that bound is its limit.
    """
    return fetch_rows(
        SequenceUsage,
        """
        WITH owned AS (
            SELECT d.objid AS sequence_oid,
                   t.relname::text AS owned_table,
                   a.attname::text AS owned_column,
                   a.atttypid AS column_type_oid,
                   format_type(a.atttypid, a.atttypmod) AS column_type
            FROM pg_depend AS d
            JOIN pg_class AS t ON t.oid = d.refobjid
            JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.classid = 'pg_class'::regclass
              AND d.refclassid = 'pg_class'::regclass
              AND d.deptype IN ('a', 'i')
              AND d.refobjsubid > 0
        ),
        bounds AS (
            SELECT s.schemaname AS schema,
                   s.sequencename AS name,
                   s.data_type::text AS data_type,
                   s.last_value AS last_value,
                   s.increment_by AS increment,
                   s.min_value AS min_value,
                   s.max_value AS max_value,
                   s.cycle AS cycles,
                   o.owned_table AS owned_table,
                   o.owned_column AS owned_column,
                   o.column_type AS column_type,
                   CASE o.column_type_oid
                       WHEN 'int2'::regtype THEN 32767
                       WHEN 'int4'::regtype THEN 2147483647
                   END AS column_max
            FROM pg_sequences AS s
            JOIN pg_namespace AS n ON n.nspname = s.schemaname
            JOIN pg_class AS c ON c.relname = s.sequencename AND c.relnamespace = n.oid
            LEFT JOIN owned AS o ON o.sequence_oid = c.oid
            WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')
        )
        SELECT schema,
               name,
               data_type,
               last_value,
               increment,
               CASE WHEN increment > 0 THEN LEAST(max_value, COALESCE(column_max, max_value))
                    ELSE GREATEST(min_value, COALESCE(-column_max - 1, min_value)) END AS limit,
               CASE WHEN increment > 0 THEN min_value ELSE max_value END AS start,
               cycles,
               owned_table,
               owned_column,
               CASE WHEN column_max IS NOT NULL
                         AND (CASE WHEN increment > 0 THEN column_max < max_value ELSE -column_max - 1 > min_value END)
                    THEN column_type END AS column_type
        FROM bounds
        ORDER BY schema, name
        """,
        using=using,
    )
