"""The role a console run takes: the console's own login role, else the application's connection switched to the
EXPLAIN role with SET LOCAL ROLE, if it may (explain_role_state), and how a run came to be that role (ran_as)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemaadmin.pg.connection import connection_params, fetch_row

__all__ = ["RoleState", "explain_role_state", "login_params", "ran_as"]


@dataclass(frozen=True, slots=True)
class RoleState:
    name: str
    exists: bool
    usable: bool  # the connecting user may SET ROLE to it


def explain_role_state(role: str, *, using: str = "default") -> RoleState:
    """Return whether the low-privilege EXPLAIN role exists and the connecting user may switch to it."""
    state = fetch_row(
        RoleState,
        """
        SELECT
            %(role)s::text AS name,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s) AS exists,
            COALESCE(
                (SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %(role)s),
                false
            ) AS usable
        """,
        {"role": role},
        using=using,
    )
    assert state is not None  # a SELECT without FROM returns its one row
    return state


def login_params(login: Mapping[str, Any], *, using: str = "default") -> dict[str, Any]:
    """Return psycopg.connect() arguments for the alias's database, as the console's own login role."""
    params = connection_params(using)
    # The database is always the alias's own (under tests, test_<name>): the login says who connects and where.
    params.update({key: value for key, value in login.items() if value is not None and key not in ("dbname", "db")})
    return params


def ran_as(*, role: str | None, login: Mapping[str, Any] | None) -> str:
    """Return how a run gets its privileges, as the record and the page say it."""
    if login is not None:
        return f"login role {login['user']}"
    if role:
        return f"SET ROLE {role} fallback"
    return "the application's own role"
