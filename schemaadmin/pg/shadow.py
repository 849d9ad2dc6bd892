"""Throwaway databases on the same server as an alias's: where the drift check replays the applied migrations."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from schemaadmin.pg import table_ddl
from schemaadmin.pg.connection import fetch_all, fetch_one, own_connection
from schemaadmin.pg.schema import ConstraintInfo

__all__ = [
    "create_database",
    "create_schemas",
    "databases_starting_with",
    "drop_database",
    "existing_schemas",
    "may_create_databases",
    "reparsed_checks",
]


def may_create_databases(*, using: str = "default") -> bool:
    """Return whether the alias's role may CREATE DATABASE (a superuser or a role with CREATEDB)."""
    row = fetch_one(
        """
        SELECT r.rolsuper OR r.rolcreatedb AS may_create
        FROM pg_roles AS r
        WHERE r.rolname = current_user
        """,
        using=using,
    )
    return bool(row and row[0])


def create_database(name: str, *, using: str = "default") -> None:
    """Create a database called name from template1 on the alias's server."""
    # template1 holds the extensions an administrator installed for every new database (the embedded server puts
    # vector there): the application's role is no superuser and may not create untrusted extensions itself.
    # CREATE DATABASE refuses to run in a transaction, and the alias's own connection may be inside one.
    with own_connection(using) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template1").format(sql.Identifier(name)))


def drop_database(name: str, *, using: str = "default") -> None:
    """Drop the database called name on the alias's server, ending any session still connected to it."""
    with own_connection(using) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def databases_starting_with(prefix: str, *, using: str = "default") -> list[str]:
    """Return the names of the databases on the alias's server whose name starts with prefix."""
    rows = fetch_all(
        """
        SELECT d.datname AS name
        FROM pg_database AS d
        WHERE starts_with(d.datname, %(prefix)s)
        ORDER BY d.datname
        """,
        {"prefix": prefix},
        using=using,
    )
    return [name for (name,) in rows]


def existing_schemas(names: list[str], *, using: str = "default") -> list[str]:
    """Return those of the schema names the alias's database has, sorted."""
    rows = fetch_all(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%(names)s) ORDER BY nspname",
        {"names": names},
        using=using,
    )
    return [row[0] for row in rows]


def create_schemas(names: list[str], *, using: str = "default") -> None:
    """Create each named schema the alias's database lacks (a shadow copying the live database's)."""
    with own_connection(using) as connection:
        for name in names:
            connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name)))


# The name of the copy reparsed_checks adds and drops; no migration names a constraint so.
_REPARSED = "schemaadmin_reparsed_check"


def reparsed_checks(
    constraints: Iterable[ConstraintInfo], *, using: str = "default"
) -> tuple[tuple[str, str, str, str], ...]:
    """Return (schema, table, name, text) of each CHECK constraint that PostgreSQL writes otherwise once its written
    text is parsed again, as a pg_dump restore or a drift fix adds it: a column compared with an IN list of Django's
    writes (ARRAY['a'::varchar, 'b'::varchar])::text[], and ARRAY[('a'::varchar)::text, …] when read again.

    For a throwaway database only: it adds a NOT VALID copy of each check to its table, reads it, and drops it.
    """
    found = []
    with own_connection(using) as conn:
        for constraint in constraints:
            if constraint.type != "check":
                continue
            text = constraint.definition.removesuffix(" NOT VALID")
            try:
                table_ddl.add_constraint(constraint.schema, constraint.table, _REPARSED, f"{text} NOT VALID").run(conn)
                row = conn.execute(
                    """
                    SELECT pg_get_constraintdef(con.oid)
                    FROM pg_constraint AS con
                    JOIN pg_class AS t ON t.oid = con.conrelid
                    JOIN pg_namespace AS n ON n.oid = t.relnamespace
                    WHERE n.nspname = %s AND t.relname = %s AND con.conname = %s
                    """,
                    [constraint.schema, constraint.table, _REPARSED],
                ).fetchone()
                table_ddl.drop_constraint(constraint.schema, constraint.table, _REPARSED).run(conn)
            except psycopg.Error:  # not a text it takes back as is: compared as written
                continue
            again = row[0].removesuffix(" NOT VALID") if row else text
            if again != text:
                found.append((constraint.schema, constraint.table, constraint.name, again))
    return tuple(found)
