"""What a test checks that only a newer PostgreSQL than 15 has: skipped, saying why, on an older server."""

from __future__ import annotations

import pytest
from django.db import connection


def skip_below(version: int, why: str) -> None:
    """Skip the calling test on a server older than version (e.g. 170000 for PostgreSQL 17)."""
    if connection.pg_version < version:
        pytest.skip(f"{why} (this server: {connection.pg_version})")
