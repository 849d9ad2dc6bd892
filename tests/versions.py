"""What a test checks that only some servers have (a newer PostgreSQL than 15, a role membership): skipped,
saying why, elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection


def skip_below(version: int, why: str) -> None:
    """Skip the calling test on a server older than version (e.g. 170000 for PostgreSQL 17)."""
    if connection.pg_version < version:
        pytest.skip(f"{why} (this server: {connection.pg_version})")


def skip_without_set_role_fallback() -> None:
    """Skip the calling test where the application's role may not SET ROLE to the console's role (docker/initdb.sh
    grants no such membership: the console logs in as its own role there)."""
    from schemaadmin.conf import app_settings
    from schemaadmin.pg.explain_role import explain_role_state

    if not explain_role_state(app_settings()["EXPLAIN_ROLE"]).usable:
        pytest.skip("the application's role may not SET ROLE to the console's role on this server")
