"""Settings of the sessions Django's own connections hold."""

from __future__ import annotations

from django.db import connections

from schemaadmin.pg.connection import validated_alias

__all__ = ["set_statement_timeout"]


def set_statement_timeout(milliseconds: int, *, using: str = "default") -> None:
    """Set statement_timeout for the rest of the alias's session (0: none), on the connection it has open."""
    wrapper = connections[validated_alias(using)]
    wrapper.ensure_connection()
    # On the driver's connection, as Django sets a session's time zone: setting up a session, not a page's query.
    wrapper.connection.execute("SELECT set_config('statement_timeout', %s, false)", [f"{int(milliseconds)}ms"])
