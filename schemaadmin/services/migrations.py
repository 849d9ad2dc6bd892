"""Migration state of a database, as Django's executor sees it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from schemaadmin.pg.connection import validated_alias

__all__ = ["PendingMigration", "pending_migrations"]


@dataclass(frozen=True, slots=True)
class PendingMigration:
    app_label: str
    name: str


def pending_migrations(*, using: str = "default") -> list[PendingMigration]:
    """Return the migrations `migrate` would apply, in plan order."""
    executor = MigrationExecutor(connections[validated_alias(using)])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [PendingMigration(m.app_label, m.name) for m, backwards in plan if not backwards]
