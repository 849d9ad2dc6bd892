"""The one question a load balancer asks: does the database answer?"""

from __future__ import annotations

from django.db import DatabaseError

from schemaadmin.pg.connection import fetch_one

__all__ = ["database_answers"]


def database_answers(*, using: str = "default") -> bool:
    """Return whether the database runs a trivial query."""
    try:
        return fetch_one("SELECT 1 AS ok", using=using) == (1,)
    except DatabaseError:
        return False
