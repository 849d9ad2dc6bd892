"""System checks that say at start-up what the database lacks, in a sentence instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections

from schemaadmin.conf import app_settings
from schemaadmin.pg.explain import RoleState, explain_role_state
from schemaadmin.pg.server import ExtensionState, ServerInfo, extension_state, server_info

__all__ = ["MIN_PGVECTOR", "MIN_SERVER_MAJOR", "database_problems", "explain_role_problems"]

MIN_SERVER_MAJOR = 15
MIN_PGVECTOR = (0, 7)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def database_problems(alias: str, info: ServerInfo, vector: ExtensionState) -> list[CheckMessage]:
    """Return what keeps this server from running SchemaAdmin, each with what to install."""
    problems: list[CheckMessage] = []
    if info.major_version < MIN_SERVER_MAJOR:
        problems.append(
            Error(
                f"Database {alias!r} runs PostgreSQL {info.version}; SchemaAdmin needs PostgreSQL "
                f"{MIN_SERVER_MAJOR} or newer.",
                hint="Upgrade the server (pg_upgrade), or point DATABASE_URL at a PostgreSQL 15+ server.",
                id="schemaadmin.E002",
            )
        )
    wanted = ".".join(map(str, MIN_PGVECTOR))
    if not vector.installed and not vector.available:
        problems.append(
            Error(
                f"The pgvector extension is not installed on the server behind database {alias!r}.",
                hint=f"Install pgvector {wanted} or newer on the server (Debian: apt install "
                f"postgresql-{info.major_version}-pgvector; Docker: the pgvector/pgvector image; managed "
                "services: enable the 'vector' extension), then run migrate.",
                id="schemaadmin.E003",
            )
        )
    elif vector.installed and _version_tuple(vector.installed_version or "") < MIN_PGVECTOR:
        problems.append(
            Error(
                f"Database {alias!r} has pgvector {vector.installed_version}; SchemaAdmin needs {wanted} or "
                "newer (halfvec and HNSW on halfvec).",
                hint="Install a newer pgvector on the server, then run: ALTER EXTENSION vector UPDATE;",
                id="schemaadmin.E004",
            )
        )
    elif not vector.installed and max(map(_version_tuple, vector.available_versions)) < MIN_PGVECTOR:
        problems.append(
            Error(
                f"The server behind database {alias!r} offers pgvector "
                f"{vector.available_versions[-1]} only; SchemaAdmin needs {wanted} or newer.",
                hint="Install a newer pgvector package on the server, then run migrate.",
                id="schemaadmin.E004",
            )
        )
    return problems


@register(Tags.database)
def check_databases(
    app_configs: Sequence[Any] | None = None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Check every database the command asked about: reachable, PostgreSQL 15+, pgvector 0.7+."""
    problems: list[CheckMessage] = []
    for alias in databases or ():
        if connections[alias].vendor != "postgresql":
            problems.append(
                Error(
                    f"Database {alias!r} is not PostgreSQL; SchemaAdmin works only on PostgreSQL with pgvector.",
                    hint="Set DATABASE_URL to postgres://user:password@host:5432/dbname.",
                    id="schemaadmin.E000",
                )
            )
            continue
        try:
            info = server_info(using=alias)
            vector = extension_state("vector", using=alias)
        except DatabaseError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(
                Error(
                    f"Cannot reach database {alias!r}: {reason}",
                    hint="Check DATABASE_URL (host, port, user, password, database name) and that the server "
                    "is running.",
                    id="schemaadmin.E001",
                )
            )
            continue
        problems.extend(database_problems(alias, info, vector))
    return problems


def explain_role_problems(alias: str, role: RoleState) -> list[CheckMessage]:
    """Return a warning when the EXPLAIN console cannot run queries as its low-privilege role."""
    if role.usable:
        return []
    reason = "does not exist" if not role.exists else "exists, but the connecting user is not a member of it"
    return [
        Warning(
            f"The EXPLAIN role {role.name!r} {reason} on database {alias!r}: the console runs users' queries "
            "with the application's own privileges (superuser-only functions are not refused by the server).",
            hint=f"As a role administrator run: CREATE ROLE {role.name} NOLOGIN; GRANT pg_read_all_stats TO "
            f"{role.name}; GRANT SELECT ON the chat product's tables TO {role.name}; "
            f"GRANT {role.name} TO <the application's user>;",
            id="schemaadmin.W010",
        )
    ]


@register(Tags.database)
def check_explain_role(
    app_configs: Sequence[Any] | None = None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Check that the EXPLAIN console's low-privilege role is there on every database asked about."""
    problems: list[CheckMessage] = []
    for alias in databases or ():
        if connections[alias].vendor != "postgresql":
            continue
        try:
            role = explain_role_state(app_settings()["EXPLAIN_ROLE"], using=alias)
        except DatabaseError:
            continue  # check_databases already says the database cannot be reached
        problems.extend(explain_role_problems(alias, role))
    return problems
