"""System checks that say at start-up what the database lacks, or which setting is wrong, in a sentence instead of a
traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections

from schemaadmin.conf import app_settings
from schemaadmin.pg.explain_role import RoleState, explain_role_state
from schemaadmin.pg.roles import RoleFacts, role_facts
from schemaadmin.pg.server import ExtensionState, ServerInfo, extension_state, server_info
from schemaadmin.services.workload.availability import Availability, availability

__all__ = [
    "MIN_PGVECTOR",
    "MIN_SERVER_MAJOR",
    "RETENTION_SETTINGS",
    "TIMEOUT_SETTINGS",
    "app_role_problems",
    "database_problems",
    "explain_login_problems",
    "explain_role_problems",
    "query_stats_problems",
]

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
    elif not vector.installed and not vector.creatable:
        # A warning, not an error: a managed service's admin role (rds_superuser, cloudsqlsuperuser, …) is no
        # superuser, yet its provider lets it create pgvector; an error would stop migrate, which may succeed.
        problems.append(
            Warning(
                f"The pgvector extension is on the server but not created in database {alias!r}, and SchemaAdmin's "
                "role is no superuser and pgvector is not a trusted extension: unless the server lets this role "
                "create it (as managed services' admin roles may), migrate stops at its first migration.",
                hint="As a superuser (on a managed service, its admin role) run CREATE EXTENSION vector; in the "
                "database, and in template1 for the drift check's replays; then run migrate.",
                id="schemaadmin.W015",
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


type AliasCheck = Callable[[str], list[CheckMessage]]


def database_check(check: AliasCheck) -> Callable[..., list[CheckMessage]]:
    """Register check(alias) as a system check (Tags.database) run on every database the command asks about."""

    def run(
        app_configs: Sequence[Any] | None = None, databases: Iterable[str] | None = None, **kwargs: Any
    ) -> list[CheckMessage]:
        return [problem for alias in databases or () for problem in check(alias)]

    # Named as check is, but not wrapping it: Django reads the signature to see that it takes **kwargs.
    run.__name__, run.__qualname__, run.__doc__ = check.__name__, check.__qualname__, check.__doc__
    return register(Tags.database)(run)


def postgresql_only(check: AliasCheck) -> AliasCheck:
    """Return check passing over databases that are not PostgreSQL or cannot be reached (check_databases says so)."""

    @functools.wraps(check)
    def on_postgresql(alias: str) -> list[CheckMessage]:
        if connections[alias].vendor != "postgresql":
            return []
        try:
            return check(alias)
        except DatabaseError:
            return []

    return on_postgresql


@database_check
def check_databases(alias: str) -> list[CheckMessage]:
    """Check a database the command asked about: reachable, PostgreSQL 15+, pgvector 0.7+."""
    if connections[alias].vendor != "postgresql":
        return [
            Error(
                f"Database {alias!r} is not PostgreSQL; SchemaAdmin works only on PostgreSQL with pgvector.",
                hint="Set DATABASE_URL to postgres://user:password@host:5432/dbname.",
                id="schemaadmin.E000",
            )
        ]
    try:
        info = server_info(using=alias)
        vector = extension_state("vector", using=alias)
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            Error(
                f"Cannot reach database {alias!r}: {reason}",
                hint="Check DATABASE_URL (host, port, user, password, database name) and that the server is running.",
                id="schemaadmin.E001",
            )
        ]
    return database_problems(alias, info, vector)


def explain_role_problems(alias: str, role: RoleState) -> list[CheckMessage]:
    """Return a warning when the EXPLAIN console's SET ROLE fallback cannot switch to its low-privilege role."""
    if role.usable:
        return []
    reason = "does not exist" if not role.exists else "exists, but the connecting user is not a member of it"
    return [
        Warning(
            f"The EXPLAIN role {role.name!r} {reason} on database {alias!r}: the console refuses to run queries "
            "(it never runs them with the application's own privileges).",
            hint="Run `manage.py create_explain_role` as a role administrator and set the "
            "SCHEMAADMIN_EXPLAIN_DATABASE_URL it prints.",
            id="schemaadmin.W010",
        )
    ]


def explain_login_problems(alias: str, login: RoleFacts | None) -> list[CheckMessage]:
    """Return what is wrong with the console's own login role, or that the console has none (SET ROLE fallback)."""
    hint = (
        "As a role administrator run `manage.py create_explain_role` and set SCHEMAADMIN_EXPLAIN_DATABASE_URL to the "
        "URL it prints: the console then logs in as a role that can only read the product's tables."
    )
    if login is None:
        return [
            Warning(
                f"The EXPLAIN console on database {alias!r} has no login role of its own: it runs queries after "
                "SET ROLE from the application's connection, and relies on the function allowlist alone to keep "
                "a query from resetting the role; and no temp-file limit holds (a role's own applies at login), so "
                "a run may fill the server's disk with temporary files until its timeout.",
                hint=hint,
                id="schemaadmin.W011",
            )
        ]
    wrong = []
    if not login.exists:
        wrong.append("does not exist")
    else:
        if login.superuser:
            wrong.append("is a superuser")
        if not login.can_login:
            wrong.append("cannot log in")
        if login.member_of:
            wrong.append(f"is a member of {', '.join(login.member_of)}")
        if login.create_db or login.create_role or login.replication or login.bypass_rls:
            wrong.append("has CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS")
    if not wrong:
        return []
    return [
        Error(
            f"The EXPLAIN console's login role {login.name!r} on database {alias!r} " + "; ".join(wrong) + ": it must "
            "be a plain LOGIN role that can only read the product's tables.",
            hint=hint,
            id="schemaadmin.E012",
        )
    ]


def app_role_problems(alias: str, app: RoleFacts) -> list[CheckMessage]:
    """Return a warning when the application connects as a superuser."""
    if not app.superuser:
        return []
    return [
        Warning(
            f"The application connects to database {alias!r} as {app.name!r}, a superuser: a flaw anywhere in it "
            "would hand out the whole server.",
            hint="Connect as an owner role without SUPERUSER: CREATE ROLE schemaadmin LOGIN CREATEDB; GRANT "
            "pg_monitor, pg_signal_backend TO schemaadmin; make it the owner of the database and its "
            "tables; put it in DATABASE_URL. (docker-compose and the embedded server already do this.)",
            id="schemaadmin.W012",
        )
    ]


@database_check
@postgresql_only
def check_explain_role(alias: str) -> list[CheckMessage]:
    """Check the roles on the database: no superuser app, a console that cannot escalate."""
    problems = app_role_problems(alias, role_facts(using=alias))
    login = getattr(settings, "SCHEMAADMIN_EXPLAIN_LOGIN", None)
    if login:
        return problems + explain_login_problems(alias, role_facts(str(login["user"]), using=alias))
    role = explain_role_state(app_settings()["EXPLAIN_ROLE"], using=alias)
    return problems + explain_login_problems(alias, None) + explain_role_problems(alias, role)


def query_stats_problems(alias: str, state: Availability) -> list[CheckMessage]:
    """Return a warning naming why pg_stat_statements cannot be read (query statistics), with what to run."""
    if state.ok or state.state == "unreachable":
        return []
    steps = " ".join(state.statements)
    restart = " Then restart PostgreSQL: shared_preload_libraries is read only at start." if state.restart else ""
    return [
        Warning(
            f"Query statistics (/queries/) are off: {state.reason}",
            hint=f"Run: {steps}{restart}" if steps else None,
            id="schemaadmin.W013",
        )
    ]


@database_check
@postgresql_only
def check_query_stats(alias: str) -> list[CheckMessage]:
    """Check that pg_stat_statements is preloaded and installed on the database."""
    return query_stats_problems(alias, availability(using=alias))


# Settings handed to the server as a statement_timeout or lock_timeout: a value it refuses would fail every request
# (or every check).
TIMEOUT_SETTINGS = (
    "WEB_STATEMENT_TIMEOUT_MS",
    "WEB_LOCK_TIMEOUT_MS",
    "SEARCH_FALLBACK_TIMEOUT_MS",
    "RECALL_STATEMENT_TIMEOUT_MS",
)

# Settings read by the worker's daily prune (services/retention.py) as a number of days: a value it cannot read would
# fail the prune every night, and 0 would delete every record at once.
RETENTION_SETTINGS = ("AUDIT_RETENTION_DAYS", "EXPLAIN_RUN_RETENTION_DAYS", "WORKER_JOB_RETENTION_DAYS")


def _whole_number(value: Any, *, at_least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= at_least


def _setting_problems(names: Sequence[str], fits: Callable[[Any], bool], hint: str, id: str) -> list[CheckMessage]:
    """Return an error naming each of the settings whose value does not fit."""
    values = {name: app_settings()[name] for name in names}
    return [
        Error(f"SCHEMAADMIN[{name!r}] is {value!r}.", hint=hint, id=id)
        for name, value in values.items()
        if not fits(value)
    ]


@register(Tags.compatibility)
def check_timeouts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that each timeout setting is a whole number of milliseconds, 0 (no limit) or more."""
    return _setting_problems(
        TIMEOUT_SETTINGS,
        lambda value: _whole_number(value, at_least=0),
        "Give a whole number of milliseconds: 0 for no limit, or more.",
        "schemaadmin.E005",
    )


@register(Tags.compatibility)
def check_retention(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check that each retention setting is None (kept for ever) or a whole number of days, 1 or more."""
    return _setting_problems(
        RETENTION_SETTINGS,
        lambda value: value is None or _whole_number(value, at_least=1),
        "Give a whole number of days, 1 or more, or None to keep the records for ever.",
        "schemaadmin.E006",
    )
