"""Reach a configured database by alias; every catalog function goes through here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.utils import CursorWrapper

__all__ = [
    "UnknownDatabase",
    "connection_params",
    "cursor",
    "fetch_all",
    "fetch_one",
    "own_connection",
    "server_version",
]


class UnknownDatabase(ValueError):
    """A database alias that is not in settings.DATABASES."""


def validated_alias(using: str) -> str:
    """Return using if it names a configured database, else raise UnknownDatabase."""
    if using not in connections.settings:
        raise UnknownDatabase(f"No database is configured under the alias {using!r}.")
    return using


def connection_params(using: str) -> dict[str, Any]:
    """Return psycopg.connect() arguments for a new connection like the alias's own."""
    params = connections[validated_alias(using)].get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return params


def own_connection(using: str = "default", *, autocommit: bool = True, **overrides: Any) -> psycopg.Connection:
    """Open a connection of its own to the alias's database, outside Django's and its transaction."""
    return psycopg.connect(**{**connection_params(using), **overrides}, autocommit=autocommit)


@contextmanager
def cursor(using: str = "default") -> Iterator[CursorWrapper]:
    """Yield a cursor on the database named by using."""
    with connections[validated_alias(using)].cursor() as cur:
        yield cur


def fetch_all(sql: str, params: Any = None, *, using: str = "default") -> list[tuple[Any, ...]]:
    """Run one statement and return all its rows."""
    with cursor(using) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fetch_one(sql: str, params: Any = None, *, using: str = "default") -> tuple[Any, ...] | None:
    """Run one statement and return its first row."""
    with cursor(using) as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def server_version(using: str = "default") -> int:
    """Return the server's version number (e.g. 180004), as the driver learned it on connecting: no query."""
    wrapper = connections[validated_alias(using)]
    wrapper.ensure_connection()
    return int(wrapper.connection.info.server_version)
