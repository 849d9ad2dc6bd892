"""The database roles SchemaAdmin runs as: an owner role for the application and a read-only login for the console.

The application connects as an owner role that is not a superuser: it owns the product's tables and may create
databases (drift replays), read every session's statistics and signal backends, and nothing more. The EXPLAIN
console logs in as a role of its own that may SELECT the product's tables and nothing else: it is not a member
of any role (least of all the application's), reads no statistics views beyond what PUBLIC may, and carries
role-level limits (read-only transactions, temp_file_limit, timeouts) that a query cannot lift.

Role DDL runs on a psycopg connection of an administrator (the embedded server's superuser at bootstrap, or a
role with CREATEROLE for `manage.py create_explain_role`); the read-only questions take a Django alias.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from schemaadmin.pg.connection import fetch_row

__all__ = [
    "APP_ROLE_MEMBERSHIPS",
    "EXPLAIN_ROLE_SETTINGS",
    "RoleFacts",
    "ensure_explain_login",
    "explain_login_refusal",
    "ensure_owner_role",
    "grant_explain_reads",
    "role_facts",
    "transfer_ownership",
]

# What the application's own role needs beyond owning its tables: pg_monitor (every session's query text and
# statistics, the server's settings such as shared_preload_libraries, pgstattuple's scans) for the health, session
# and query pages, and pg_signal_backend to cancel or terminate non-superuser backends.
APP_ROLE_MEMBERSHIPS = ("pg_monitor", "pg_signal_backend")

# Set on the console's login role, so they hold at login whatever the connection later asks for. temp_file_limit
# can only be changed by a superuser, so a console query can never lift it; the others are a floor under the
# per-run settings the console makes itself.
EXPLAIN_ROLE_SETTINGS: dict[str, str] = {
    "default_transaction_read_only": "on",
    "temp_file_limit": "1GB",
    "statement_timeout": "2min",
    "idle_in_transaction_session_timeout": "2min",
    "work_mem": "64MB",
}


@dataclass(frozen=True, slots=True)
class RoleFacts:
    name: str
    exists: bool
    superuser: bool
    can_login: bool
    create_db: bool
    create_role: bool
    bypass_rls: bool
    replication: bool
    member_of: tuple[str, ...]  # every role it is a member of, directly or through others


def role_facts(role: str | None = None, *, using: str = "default") -> RoleFacts:
    """Return what a role may do (the connection's own role when role is None)."""
    facts = fetch_row(
        RoleFacts,
        """
        SELECT
            r.rolname AS name,
            TRUE AS exists,
            r.rolsuper AS superuser,
            r.rolcanlogin AS can_login,
            r.rolcreatedb AS create_db,
            r.rolcreaterole AS create_role,
            r.rolbypassrls AS bypass_rls,
            r.rolreplication AS replication,
            ARRAY(
                SELECT m.rolname
                FROM pg_roles AS m
                WHERE m.oid <> r.oid AND pg_has_role(r.oid, m.oid, 'MEMBER')
                ORDER BY m.rolname
            ) AS member_of
        FROM pg_roles AS r
        WHERE r.rolname = COALESCE(%(role)s, current_user)
        """,
        {"role": role},
        using=using,
    )
    if facts is None:
        return RoleFacts(role or "", False, False, False, False, False, False, False, ())
    return facts


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None


def ensure_owner_role(conn: psycopg.Connection, role: str) -> None:
    """Create (or narrow) the application's owner role: LOGIN, CREATEDB, statistics and signals, no superuser."""
    name = sql.Identifier(role)
    verb = "ALTER" if _role_exists(conn, role) else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS").format(
            sql.SQL(verb), name
        )
    )
    for membership in APP_ROLE_MEMBERSHIPS:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(membership), name))


# Names PostgreSQL gives a meaning of its own (role specifications) or keeps for its predefined roles (pg_*).
RESERVED_ROLE_NAMES = frozenset({"public", "none", "current_user", "session_user", "current_role"})
MAX_ROLE_BYTES = 63  # NAMEDATALEN - 1: a longer name is cut short, and the role made is not the one named


def explain_login_refusal(conn: psycopg.Connection, role: str, *, protected: Iterable[str]) -> str | None:
    """Return why role may not become (or be narrowed into) the console's login, in a sentence, or None if it may.

    Narrowing rewrites a role's password, attributes, memberships and settings, so only a role that is nothing
    else is narrowed: not one PostgreSQL reserves, not a protected one (the roles SchemaAdmin connects as, and
    conn's own), and not one with powers, members or objects of its own (someone's application or group role).
    """
    if not role.strip() or len(role.encode()) > MAX_ROLE_BYTES or "\x00" in role:
        return f"A role name is 1 to {MAX_ROLE_BYTES} bytes (without NUL), not {role!r}."
    if role.lower() in RESERVED_ROLE_NAMES or role.startswith("pg_"):
        return f"{role!r} is a name PostgreSQL reserves (pg_* and role specifications such as PUBLIC): choose another."
    connected_as = conn.execute("SELECT current_user, session_user").fetchone() or ()
    protected = sorted({*protected, *connected_as} - {""})
    if role in protected:
        return f"{role!r} is a role SchemaAdmin or this command connects as: the console needs a login of its own."
    # Members besides the protected roles: the application's own is one of the console role's members wherever the
    # SET ROLE fallback was granted (bootstrap, docker/initdb.sh, by hand after migration 0005), and that is expected.
    row = conn.execute(
        """
        SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
               EXISTS (
                   SELECT FROM pg_auth_members AS m JOIN pg_roles AS member ON member.oid = m.member
                   WHERE m.roleid = r.oid AND member.rolname <> ALL (%s)
               ),
               EXISTS (SELECT FROM pg_class AS c WHERE c.relowner = r.oid)
               OR EXISTS (SELECT FROM pg_namespace AS n WHERE n.nspowner = r.oid)
               OR EXISTS (SELECT FROM pg_database AS d WHERE d.datdba = r.oid)
        FROM pg_roles AS r
        WHERE r.rolname = %s
        """,
        [protected, role],
    ).fetchone()
    if row is None:
        return None  # created afresh
    superuser, createrole, createdb, replication, bypassrls, has_members, owns = row
    powers = [
        name
        for name, held in (
            ("SUPERUSER", superuser),
            ("CREATEROLE", createrole),
            ("CREATEDB", createdb),
            ("REPLICATION", replication),
            ("BYPASSRLS", bypassrls),
        )
        if held
    ]
    if powers or has_members or owns:
        what = ", ".join(powers) or ("members" if has_members else "objects in this database")
        return (
            f"Role {role!r} exists and has {what}: it is not a console login, and narrowing it would take that away. "
            "Name a new role (or the one this command made before)."
        )
    return None


def ensure_explain_login(
    conn: psycopg.Connection,
    role: str,
    *,
    password: str | None = None,
    settings: Mapping[str, str] = EXPLAIN_ROLE_SETTINGS,
) -> list[str]:
    """Create (or narrow) the console's login role; return what this connection was not allowed to do, in words.

    The role ends up a member of no role at all: memberships it had (pg_read_all_stats, pg_read_all_data from
    earlier releases, anything granted by hand) are revoked.
    """
    name = sql.Identifier(role)
    verb = "ALTER" if _role_exists(conn, role) else "CREATE"
    conn.execute(
        sql.SQL(
            "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD {}"
        ).format(sql.SQL(verb), name, sql.Literal(password))
    )
    granted = conn.execute(
        """
        SELECT g.rolname
        FROM pg_auth_members AS m
        JOIN pg_roles AS g ON g.oid = m.roleid
        JOIN pg_roles AS r ON r.oid = m.member
        WHERE r.rolname = %s
        """,
        [role],
    ).fetchall()
    refused = []
    for (group,) in granted:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), name))
        except psycopg.errors.InsufficientPrivilege:
            refused.append(f"revoke its membership in {group}")
    for setting, value in settings.items():
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET {} = {}").format(name, sql.Identifier(setting), sql.Literal(value))
                )
        except psycopg.errors.InsufficientPrivilege:
            refused.append(f"set {setting} = {value} on it (a superuser may)")
    return refused


def grant_explain_reads(
    conn: psycopg.Connection, role: str, *, database: str, schema: str, tables: Iterable[str]
) -> None:
    """Let role connect to database and SELECT the given tables of schema, and nothing else there."""
    name = sql.Identifier(role)
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), name))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), name))
    qualified = sql.SQL(", ").join(sql.Identifier(schema, table) for table in tables)
    conn.execute(sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(qualified, name))


def transfer_ownership(conn: psycopg.Connection, *, database: str, owner: str) -> int:
    """Give owner the database and every object in it owned by the connection's own role; return how many moved.

    For data directories created before the application stopped connecting as the superuser: their tables,
    sequences, views, functions and types belong to the superuser, which the owner role could not migrate.
    REASSIGN OWNED cannot be used, since the bootstrap superuser also owns the system catalogs.
    """
    conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), sql.Identifier(owner)))
    objects = conn.execute(
        """
        SELECT kind, schema_name, object_name, signature
        FROM (
            SELECT
                'TABLE' AS kind, n.nspname AS schema_name, c.relname AS object_name, '' AS signature
            FROM pg_class AS c
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
              AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%%'
              AND n.nspname NOT LIKE 'pg_temp%%'
              AND NOT EXISTS (
                  -- members of an extension stay the extension's; a sequence owned by a column moves with its table
                  SELECT 1 FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid
                    AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i')))
              )
            UNION ALL
            SELECT
                'ROUTINE', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)
            FROM pg_proc AS p
            JOIN pg_namespace AS n ON n.oid = p.pronamespace
            WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
              AND p.prokind IN ('f', 'p')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND NOT EXISTS (
                  SELECT 1 FROM pg_depend AS d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
              )
            UNION ALL
            SELECT
                'TYPE', n.nspname, t.typname, ''
            FROM pg_type AS t
            JOIN pg_namespace AS n ON n.oid = t.typnamespace
            WHERE t.typowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
              AND t.typtype IN ('e', 'd', 'r', 'm')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND NOT EXISTS (
                  SELECT 1 FROM pg_depend AS d
                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
              )
        ) AS owned
        ORDER BY kind, schema_name, object_name
        """
    ).fetchall()
    for kind, schema_name, object_name, signature in objects:
        target: sql.Composable = sql.Identifier(schema_name, object_name)
        if kind == "ROUTINE":
            # The signature is the server's own rendering of the argument types (pg_get_function_identity_arguments).
            target = sql.SQL("{}({})").format(target, sql.SQL(signature))
        conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), target, sql.Identifier(owner)))
    return len(objects)
