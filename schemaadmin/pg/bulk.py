"""Bulk loading: COPY rows in, number them after what is there, reset identity sequences, refresh statistics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections
from psycopg import sql

from schemaadmin.pg.connection import cursor, validated_alias
from schemaadmin.pg.indexes import index

__all__ = [
    "analyze_tables",
    "check_constraints_per_statement",
    "copy_rows",
    "create_index",
    "drop_index",
    "has_rows",
    "index_definition",
    "lock_out_maintenance",
    "max_id",
    "raise_maintenance_work_mem",
    "reset_identity",
]


def _raw_connection(using: str) -> Any:
    wrapper = connections[validated_alias(using)]
    wrapper.ensure_connection()
    return wrapper.connection


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, using: str = "default") -> int:
    """COPY rows into table's columns in one statement and return how many were written."""
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
    )
    written = 0
    with _raw_connection(using).cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def has_rows(table: str, *, using: str = "default") -> bool:
    """Return whether table holds at least one row."""
    statement = sql.SQL(
        """
        SELECT EXISTS (SELECT 1 FROM {table}) AS has_rows
        """
    ).format(table=sql.Identifier(table))
    with cursor(using) as cur:
        cur.execute(statement)
        return bool(cur.fetchone()[0])


def max_id(table: str, *, column: str = "id", using: str = "default") -> int:
    """Return the largest value of table's integer key column, or 0 when the table is empty."""
    statement = sql.SQL(
        """
        SELECT COALESCE(max({column}), 0) AS max_id
        FROM {table}
        """
    ).format(column=sql.Identifier(column), table=sql.Identifier(table))
    with cursor(using) as cur:
        cur.execute(statement)
        return int(cur.fetchone()[0])


def reset_identity(table: str, *, column: str = "id", using: str = "default") -> None:
    """Set the sequence behind table's identity column so the next default value follows the largest key."""
    statement = sql.SQL(
        """
        SELECT setval(
                   pg_get_serial_sequence(%(table)s, %(column)s),
                   COALESCE(max({column}), 1),
                   max({column}) IS NOT NULL
               ) AS last_value
        FROM {table}
        """
    ).format(column=sql.Identifier(column), table=sql.Identifier(table))
    with cursor(using) as cur:
        quoted = sql.Identifier(table).as_string(cur.connection)
        cur.execute(statement, {"table": quoted, "column": column})


def check_constraints_per_statement(*, using: str = "default") -> None:
    """Check deferred constraints (Django's foreign keys) at the end of each statement of this transaction.

    Deferred to commit, the checks of a multi-million-row load queue up in the server's memory; checked per
    COPY statement they stay bounded. Parents must then be loaded before their children.
    """
    with cursor(using) as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def raise_maintenance_work_mem(size_bytes: int, *, using: str = "default") -> None:
    """Raise maintenance_work_mem to at least size_bytes until the end of this transaction; never lower it."""
    with cursor(using) as cur:
        cur.execute(
            """
            SELECT set_config(
                       'maintenance_work_mem',
                       greatest(pg_size_bytes(current_setting('maintenance_work_mem')), %(size)s) / 1024 || 'kB',
                       true
                   ) AS maintenance_work_mem
            """,
            {"size": size_bytes},
        )


def lock_out_maintenance(tables: Sequence[str], *, using: str = "default") -> None:
    """Keep VACUUM and ANALYZE, autovacuum's included, off tables until this transaction ends.

    A bulk load's rows are invisible to other sessions until commit. An ANALYZE from elsewhere in the middle of
    the load records the tables' pages with no rows in them; plans made from that (the foreign-key checks, the
    triggers' statements) then expect empty tables and scan them whole for every batch. Reads and writes by
    others are not blocked: SHARE UPDATE EXCLUSIVE conflicts only with maintenance and DDL.
    """
    statement = sql.SQL("LOCK TABLE {tables} IN SHARE UPDATE EXCLUSIVE MODE").format(
        tables=sql.SQL(", ").join(map(sql.Identifier, tables))
    )
    with cursor(using) as cur:
        cur.execute(statement)


def analyze_tables(tables: Sequence[str], *, using: str = "default") -> None:
    """Refresh the planner's statistics for tables."""
    statement = sql.SQL("ANALYZE {tables}").format(tables=sql.SQL(", ").join(map(sql.Identifier, tables)))
    with cursor(using) as cur:
        cur.execute(statement)


def vacuum_analyze_tables(tables: Sequence[str], *, using: str = "default") -> None:
    """VACUUM (ANALYZE) tables: statistics, the visibility map, hint bits and GIN pending lists, as after a load
    autovacuum would have left them by the time anyone reads. Not inside a transaction (VACUUM refuses)."""
    statement = sql.SQL("VACUUM (ANALYZE) {tables}").format(tables=sql.SQL(", ").join(map(sql.Identifier, tables)))
    with cursor(using) as cur:
        cur.execute(statement)


def index_definition(name: str, *, schema: str = "public", using: str = "default") -> str | None:
    """Return the CREATE INDEX statement that rebuilds index name exactly, or None if there is no such index."""
    found = index(schema, name, using=using)
    return None if found is None else found.definition


def drop_index(name: str, *, schema: str = "public", using: str = "default") -> None:
    """Drop index name."""
    statement = sql.SQL("DROP INDEX {index}").format(index=sql.Identifier(schema, name))
    with cursor(using) as cur:
        cur.execute(statement)


def create_index(definition: str, *, using: str = "default") -> None:
    """Run a CREATE INDEX statement as returned by index_definition()."""
    if not definition.startswith(("CREATE INDEX ", "CREATE UNIQUE INDEX ")):
        raise ValueError("Expected a CREATE INDEX statement from pg_get_indexdef().")
    with cursor(using) as cur:
        cur.execute(definition)
