"""The plan of an apply (services/schema/apply.py): the migrations `migrate` would apply now, in order, what each
destroys, its critical lint, and the fingerprint a confirmation carries."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.migrations import operations

from schemaadmin.pg.names import qualify
from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.lint import lint_migrations
from schemaadmin.services.schema.migrations import MigrationLabel, forward_plan, migration_conflicts
from schemaadmin.services.schema.raw_sql import run_sql_actions

__all__ = [
    "DESTRUCTIVE",
    "ApplyPlan",
    "PlannedMigration",
    "apply_plan",
    "critical_lint",
    "destroyed",
    "migration_digest",
]

# Operations that destroy data (destroyed() reads raw SQL too): applying them always needs the target's name typed.
DESTRUCTIVE = (operations.RemoveField, operations.DeleteModel)


@dataclass(frozen=True, slots=True)
class PlannedMigration(MigrationLabel):
    app_label: str
    name: str
    operations: tuple[str, ...]
    destructive: tuple[str, ...]
    atomic: bool
    content: str = ""  # a digest of its file (migration_digest): a confirmation is for this text of it


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    migrations: tuple[PlannedMigration, ...]
    conflicts: tuple[str, ...] = ()  # apps with several leaf migrations: `migrate` refuses until they are merged

    @property
    def labels(self) -> list[str]:
        return [m.label for m in self.migrations]

    @property
    def target(self) -> str:
        """Return the last migration of the plan: the name a DBA types to confirm."""
        return self.migrations[-1].label if self.migrations else ""

    @property
    def destructive(self) -> list[str]:
        return [f"{m.label}: {d}" for m in self.migrations for d in m.destructive]

    @property
    def conflicts_message(self) -> str:
        if not self.conflicts:
            return ""
        return (
            "Django's migrate refuses to run while an app has several leaf migrations: merge them first "
            f"(manage.py makemigrations --merge, committed and deployed). {'; '.join(self.conflicts)}."
        )

    @property
    def fingerprint(self) -> str:
        """Return a short hash of the plan, so a confirmation applies to exactly this plan: these migrations, in
        this order, with these contents (a file edited under the same name is another plan)."""
        lines = [f"{m.label} {m.content}" for m in self.migrations]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def apply_plan(*, using: str = "default") -> ApplyPlan:
    """Return the migrations `migrate` would apply now, in order, with their operations in words."""
    return ApplyPlan(
        tuple(
            PlannedMigration(
                app_label=migration.app_label,
                name=migration.name,
                operations=tuple(op.describe() for op in migration.operations),
                destructive=tuple(what for op in migration.operations for what in destroyed(op)),
                atomic=migration.atomic,
                content=migration_digest(migration),
            )
            for migration in forward_plan(using=using)
        ),
        tuple(migration_conflicts()),
    )


def migration_digest(migration: Any) -> str:
    """Return a digest of the file the migration was read from, or of its operations' deconstructed form when it
    has no file (built in code)."""
    module = sys.modules.get(type(migration).__module__)
    path = getattr(module, "__file__", None)
    try:
        content = Path(path).read_bytes() if path else repr([op.deconstruct() for op in migration.operations]).encode()
    except OSError:  # deleted since it was imported: what was read is what runs
        content = repr([op.deconstruct() for op in migration.operations]).encode()
    return hashlib.sha256(content).hexdigest()[:16]


def destroyed(operation: Any) -> Iterator[str]:
    """Say in words what an operation destroys: a removed field or model, a DROP SCHEMA, DROP TABLE, DROP COLUMN,
    TRUNCATE or DELETE in raw SQL (in DO blocks and WITH queries too), here or among a SeparateDatabaseAndState's
    database operations."""
    if isinstance(operation, operations.SeparateDatabaseAndState):
        for inner in operation.database_operations:
            yield from destroyed(inner)
    elif isinstance(operation, DESTRUCTIVE):
        yield operation.describe()
    elif isinstance(operation, operations.RunSQL):
        for action in run_sql_actions(operation.sql):
            table = qualify(action.schema, action.table) if action.schema else action.table
            if action.kind == "drop_schema":
                held = " and all it holds" if "CASCADE" in action.detail else ""
                yield f"Raw SQL: drop schema {qualify(action.schema)}{held}"
            elif action.kind == "drop_table":
                yield f"Raw SQL: drop table {table}"
            elif action.kind == "drop_column":
                yield f"Raw SQL: drop column {table}.{action.column}"
            elif action.kind == "truncate":
                yield f"Raw SQL: empty table {table} (TRUNCATE)"
            elif action.kind == "backfill" and action.detail.startswith("DELETE"):
                yield f"Raw SQL: deletes rows of {table} ({action.detail})"


def critical_lint(plan: ApplyPlan, *, using: str = "default") -> list[Finding]:
    """Return the plan's critical lint findings: like a destroyed table or column, they need the target typed."""
    lints = lint_migrations([(m.app_label, m.name) for m in plan.migrations], using=using)
    return [finding for lint in lints for finding in lint.findings if finding.severity is Severity.CRITICAL]
