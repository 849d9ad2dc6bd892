"""Django's session table (django.contrib.sessions), as the sign-in of every request reads it."""

from __future__ import annotations

from datetime import datetime

from schemaadmin.pg.connection import fetch_one

__all__ = ["live_session_data"]

# django.contrib.sessions' Session model, whose table and columns are Django's own.
_SESSION_DATA_SQL = "SELECT session_data FROM django_session WHERE session_key = %s AND expire_date > %s"


def live_session_data(session_key: str, now: datetime, *, using: str = "default") -> str | None:
    """Return the signed data of the session under session_key, None when there is none or it expired by now."""
    row = fetch_one(_SESSION_DATA_SQL, [session_key, now], using=using)
    return row[0] if row is not None else None
