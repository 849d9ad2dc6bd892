"""Throwaway databases on the same server as an alias's: where the drift check replays the applied migrations."""

from __future__ import annotations

from psycopg import sql

from schemaadmin.pg.connection import fetch_all, fetch_one, own_connection

__all__ = [
    "create_database",
    "create_schemas",
    "databases_starting_with",
    "drop_database",
    "existing_schemas",
    "may_create_databases",
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
