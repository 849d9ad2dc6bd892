"""Migrations built inside a test and added to a loader's graph: dangerous ones nobody should ship as files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, migrations
from django.db.migrations.loader import MigrationLoader

from tests.worker import clear_jobs

FIXTURE_PENDING = ("schema_fixtures.0002_widget_name_index", "schema_fixtures.0003_remove_widget_note")


@pytest.fixture
def fixtures_pending(transactional_db) -> Iterator[None]:
    """Leave the fixture app's last two migrations (a plain index, a dropped column) unapplied, then re-apply.

    Jobs queued meanwhile (applies of them) are forgotten first, so no later worker picks them up; archives an
    apply made are dropped.
    """
    call_command("migrate", "schema_fixtures", "0001", verbosity=0)
    try:
        yield
    finally:
        clear_jobs()
        call_command("migrate", "schema_fixtures", verbosity=0)
        with connection.cursor() as cur:  # what an apply of 0003 archived (services/schema/archive.py)
            cur.execute("DROP SCHEMA IF EXISTS schemaadmin_archive CASCADE")


def planted_migration(
    loader: MigrationLoader,
    app_label: str,
    operations: list[Any],
    *,
    name: str = "0099_planted",
    atomic: bool = True,
    exemptions: dict[str, str] | None = None,
) -> migrations.Migration:
    """Add a migration with these operations after the app's latest one in the loader's graph, and return it."""
    parent = loader.graph.leaf_nodes(app_label)[-1]
    attributes = {"operations": operations, "dependencies": [parent], "atomic": atomic}
    if exemptions is not None:
        attributes["lint_exemptions"] = exemptions
    migration = type("Migration", (migrations.Migration,), attributes)(name, app_label)
    loader.graph.add_node((app_label, name), migration)
    loader.graph.add_dependency(migration, (app_label, name), parent)
    return migration
