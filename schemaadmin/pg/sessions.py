"""Sessions: the settings of Django's own connections, and finding or ending sessions by application_name."""

from __future__ import annotations

from django.db import connections
from psycopg.pq import TransactionStatus

from schemaadmin.pg.connection import fetch_all, validated_alias
from schemaadmin.pg.identifiers import NAME_BYTES

__all__ = [
    "DEFAULT_APPLICATION_NAME",
    "application_name",
    "session_pids",
    "set_session_timeouts",
    "swap_lock_timeout",
    "terminate_sessions",
]

# What our connections are called when the settings name nothing (schemaadmin.embedded sets the same).
DEFAULT_APPLICATION_NAME = "schemaadmin"


def set_session_timeouts(statement_ms: int, lock_ms: int, *, using: str = "default") -> None:
    """Set statement_timeout and lock_timeout for the rest of the alias's session (0: none), on the connection it
    has open."""
    wrapper = connections[validated_alias(using)]
    wrapper.ensure_connection()
    # On the driver's connection, as Django sets a session's time zone: setting up a session, not a page's query.
    wrapper.connection.execute(
        "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
        [f"{int(statement_ms)}ms", f"{int(lock_ms)}ms"],
    )


def swap_lock_timeout(value: str, *, using: str = "default") -> str | None:
    """Set the alias's session lock_timeout to value ("10000ms", or one this returned) and return the one it had;
    None, setting nothing, when its connection is closed or in a transaction an error aborted (whose rollback gives
    the setting back itself)."""
    wrapper = connections[validated_alias(using)]
    wrapper.ensure_connection()
    driver = wrapper.connection
    if driver.closed or driver.info.transaction_status == TransactionStatus.INERROR:
        return None
    row = driver.execute("SELECT current_setting('lock_timeout')").fetchone()
    driver.execute("SELECT set_config('lock_timeout', %s, false)", [value])
    return str(row[0]) if row else None


def application_name(using: str = "default") -> str:
    """Return the application_name the alias's connections (and those copied from it) carry in pg_stat_activity."""
    options = connections[validated_alias(using)].settings_dict.get("OPTIONS") or {}
    return str(options.get("application_name") or DEFAULT_APPLICATION_NAME)


def session_pids(application_name: str, *, using: str = "default") -> list[int]:
    """Return the pids of the server sessions that connected under application_name."""
    rows = fetch_all(
        """
        SELECT a.pid AS pid
        FROM pg_stat_activity AS a
        WHERE a.application_name = %(name)s
          AND a.pid <> pg_backend_pid()
        """,
        {"name": application_name[:NAME_BYTES]},
        using=using,
    )
    return [row[0] for row in rows]


def terminate_sessions(application_name: str, *, using: str = "default") -> list[int]:
    """End the server sessions that connected under application_name (a dead worker's build); return their pids."""
    rows = fetch_all(
        """
        -- Filter first, materialized: a qualifier order chosen by the planner must never terminate others.
        WITH targets AS MATERIALIZED (
            SELECT a.pid
            FROM pg_stat_activity AS a
            WHERE a.application_name = %(name)s
              AND a.pid <> pg_backend_pid()
        )
        SELECT t.pid AS pid,
               pg_terminate_backend(t.pid) AS terminated
        FROM targets AS t
        """,
        {"name": application_name[:NAME_BYTES]},
        using=using,
    )
    return [row[0] for row in rows if row[1]]
