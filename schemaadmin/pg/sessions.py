"""Settings of the sessions Django's own connections hold."""

from __future__ import annotations

from django.db import connections

from schemaadmin.pg.connection import validated_alias

__all__ = ["DEFAULT_APPLICATION_NAME", "application_name", "set_statement_timeout"]

# What our connections are called when the settings name nothing (schemaadmin.embedded sets the same).
DEFAULT_APPLICATION_NAME = "schemaadmin"


def set_statement_timeout(milliseconds: int, *, using: str = "default") -> None:
    """Set statement_timeout for the rest of the alias's session (0: none), on the connection it has open."""
    wrapper = connections[validated_alias(using)]
    wrapper.ensure_connection()
    # On the driver's connection, as Django sets a session's time zone: setting up a session, not a page's query.
    wrapper.connection.execute("SELECT set_config('statement_timeout', %s, false)", [f"{int(milliseconds)}ms"])


def application_name(using: str = "default") -> str:
    """Return the application_name the alias's connections (and those copied from it) carry in pg_stat_activity."""
    options = connections[validated_alias(using)].settings_dict.get("OPTIONS") or {}
    return str(options.get("application_name") or DEFAULT_APPLICATION_NAME)
