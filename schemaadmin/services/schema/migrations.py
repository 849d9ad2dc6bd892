"""Migration state of a database, as Django's executor sees it: what is applied (when), pending, and each SQL."""

from __future__ import annotations

import importlib
import sys
import sysconfig
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration

from schemaadmin.pg.connection import validated_alias
from schemaadmin.services.findings import Finding, Kind, Severity
from schemaadmin.services.schema.sql import (
    MigrationNamed,
    MigrationSql,
    UnknownMigration,
    collected_sql,
    find_migration,
    is_applied,
    migration_label,
    migration_loader,
    migration_sql,
)

__all__ = [
    "migration_conflicts",
    "reread_migration_files",
    "migrations_problem",
    "problem_of",
    "AppMigrations",
    "MigrationDetail",
    "MigrationLabel",
    "MigrationSql",
    "MigrationStatus",
    "PendingMigration",
    "RecordedMigration",
    "UnknownMigration",
    "by_app",
    "forward_plan",
    "migration_detail",
    "migration_sql",
    "migration_status",
    "pending_migrations",
    "recorded_without_file",
    "recorded_without_file_findings",
]


class MigrationLabel:
    """A mixin for frozen dataclasses naming one migration: its label (it adds no fields)."""

    __slots__ = ()

    @property
    def label(self: MigrationNamed) -> str:
        return migration_label(self)


@dataclass(frozen=True, slots=True)
class PendingMigration(MigrationLabel):
    app_label: str
    name: str


@dataclass(frozen=True, slots=True)
class MigrationStatus(MigrationLabel):
    app_label: str
    name: str
    applied: bool
    applied_at: datetime | None  # None when pending, or applied as a squash whose parts were recorded
    atomic: bool
    operation_count: int

    @property
    def pending(self) -> bool:
        return not self.applied


@dataclass(frozen=True, slots=True)
class AppMigrations:
    app_label: str
    migrations: tuple[MigrationStatus, ...]

    @property
    def pending_count(self) -> int:
        return sum(1 for m in self.migrations if m.pending)

    @property
    def latest_applied(self) -> MigrationStatus | None:
        return next((m for m in reversed(self.migrations) if m.applied), None)


@dataclass(frozen=True, slots=True)
class MigrationDetail:
    status: MigrationStatus
    operations: tuple[str, ...]  # each operation in words, as `sqlmigrate` heads its SQL
    forward: MigrationSql
    backward: MigrationSql
    dependencies: tuple[str, ...]
    replaces: tuple[str, ...]


def reread_migration_files() -> None:
    """Forget the migration modules this process imported, so the next loader reads each file as it is now.

    Django's loader re-imports an app's migrations package, not the migration modules in it: a worker that loaded
    them for an earlier job would run a file's old text after an edit (and show the old SQL for it)."""
    packages = tuple(
        f"{module}." for app in apps.get_app_configs() if (module := MigrationLoader.migrations_module(app.label)[0])
    )
    for name in [name for name in sys.modules if name.startswith(packages)]:
        del sys.modules[name]
    importlib.invalidate_caches()


def forward_plan(*, using: str = "default") -> list[Migration]:
    """Return the migration objects `migrate` would apply now, in plan order."""
    executor = MigrationExecutor(connections[validated_alias(using)])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [migration for migration, backwards in plan if not backwards]


def migration_conflicts() -> list[str]:
    """Return, per app with several leaf migrations (`migrate` refuses to run then), the app and those leaves."""
    conflicts = MigrationLoader(None, ignore_no_migrations=True).detect_conflicts()
    return [f"{app_label}: {', '.join(sorted(names))}" for app_label, names in sorted(conflicts.items())]


def pending_migrations(*, using: str = "default") -> list[PendingMigration]:
    """Return the migrations `migrate` would apply, in plan order."""
    return [PendingMigration(m.app_label, m.name) for m in forward_plan(using=using)]


def migration_status(*, using: str = "default") -> list[MigrationStatus]:
    """Return every migration of every app in plan order, applied (when) or pending, as `showmigrations --plan`."""
    executor = MigrationExecutor(connections[validated_alias(using)])
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
    return [_status(migration, loader.applied_migrations) for migration, _backwards in plan]


@dataclass(frozen=True, slots=True)
class RecordedMigration(MigrationLabel):
    """A migration django_migrations records as applied, of an app whose migrations are on disk."""

    app_label: str
    name: str
    applied_at: datetime | None


def recorded_without_file(
    applied: Mapping[tuple[str, str], Any] | None = None, *, using: str = "default"
) -> list[RecordedMigration]:
    """Return the migrations recorded as applied that no migration file of their app names (nor a squash on disk
    replaces): a file deleted or renamed after it ran, or code older than the database. Apps no longer installed
    are left out: Django keeps their records forever.

    applied: the loader's applied_migrations when the caller has read them (each key's record, or anything without
    an `applied` time); read from the database when None.
    """
    if applied is None:
        loader = MigrationLoader(connections[validated_alias(using)], ignore_no_migrations=True)
        applied = loader.applied_migrations
    else:
        loader = MigrationLoader(None, ignore_no_migrations=True)  # the files only: no query
    replaced = {key for migration in loader.disk_migrations.values() for key in migration.replaces}
    found = [
        RecordedMigration(app_label, name, getattr(record, "applied", None))
        for (app_label, name), record in applied.items()
        if app_label in loader.migrated_apps
        and (app_label, name) not in loader.disk_migrations
        and (app_label, name) not in replaced
    ]
    return sorted(found, key=lambda m: (m.app_label, m.name))


def recorded_without_file_findings(applied: Iterable[tuple[str, str]]) -> list[Finding]:
    """Return recorded_without_file() of these applied migrations as drift findings: what they built is in the
    database, and nothing here says what it was."""
    return [
        Finding(
            "migration_file_missing",
            Severity.INFO,
            Kind.DRIFT,
            migration.label,
            f"{migration.label} is recorded as applied"
            + (f" ({migration.applied_at:%Y-%m-%d %H:%M} UTC)" if migration.applied_at else "")
            + ", but no migration file of that name exists: it was deleted or renamed after it ran, this code is "
            "older than the database, or a squash replaced it and the replaced files went (Django's own clean-up, "
            "which leaves their rows). What it built is in the database, and the drift comparison cannot replay it.",
            "Restore the file from version control (or deploy the code that has it). If the migration was renamed, "
            "rename its row in django_migrations to match. If a squash replaced it and its schema is in the squash, "
            "delete the row (DELETE FROM django_migrations WHERE app = … AND name = …).",
        )
        for migration in recorded_without_file(dict.fromkeys(applied))
    ]


def by_app(statuses: list[MigrationStatus]) -> list[AppMigrations]:
    """Group migrations by app, apps in the order they first appear in the plan, migrations in plan order."""
    groups: dict[str, list[MigrationStatus]] = {}
    for status in statuses:
        groups.setdefault(status.app_label, []).append(status)
    return [AppMigrations(app, tuple(migrations)) for app, migrations in groups.items()]


def migration_detail(
    app_label: str, name: str, *, forward: MigrationSql | None = None, using: str = "default"
) -> MigrationDetail:
    """Return one migration's status, operations in words, and forward and backward SQL (raise UnknownMigration).

    forward: the forward SQL when the caller has it already (the lint collects it), so it is not written twice.
    """
    loader = migration_loader(using=using)
    migration = find_migration(loader, app_label, name)
    return MigrationDetail(
        status=_status(migration, loader.applied_migrations),
        operations=tuple(operation.describe() for operation in migration.operations),
        forward=forward if forward is not None else collected_sql(loader, migration),
        backward=collected_sql(loader, migration, backwards=True),
        dependencies=tuple(_dependency(loader, app, dependency) for app, dependency in migration.dependencies),
        replaces=tuple(f"{app}.{replaced}" for app, replaced in migration.replaces),
    )


def _dependency(loader: MigrationLoader, app_label: str, name: str) -> str:
    """Return a dependency as the migration names it, with the migration it stands for when it names one by its
    place (Django's "__first__" and "__latest__", a swappable model's app: the dependency is that migration now)."""
    if name in ("__first__", "__latest__"):
        nodes = loader.graph.root_nodes(app_label) if name == "__first__" else loader.graph.leaf_nodes(app_label)
        if nodes:
            return f"{app_label}.{name} (now {app_label}.{nodes[0][1]})"
    return f"{app_label}.{name}"


def _status(migration: Migration, applied: dict[tuple[str, str], Any]) -> MigrationStatus:
    record = applied.get((migration.app_label, migration.name))
    return MigrationStatus(
        app_label=migration.app_label,
        name=migration.name,
        applied=is_applied(migration, applied),
        # A squash counts as applied when all its parts are; the loader then keeps the Migration, not a record.
        applied_at=getattr(record, "applied", None),
        atomic=migration.atomic,
        operation_count=len(migration.operations),
    )


def migrations_problem() -> str | None:
    """Return why Django cannot read the migrations on disk, as `migrate` and `makemigrations` would fail: a file
    that does not import, a dependency on a migration that does not exist, an operation on a model no earlier
    migration creates. None when they read."""
    try:
        # As strict as migrate's loader and sqlmigrate's (migration_loader), which the pages use: a dependency on
        # an app whose migrations package holds none is refused there, not ignored as makemigrations ignores it.
        MigrationLoader(None).project_state()
    except Exception as error:  # whatever a migration file raises: it is the file's fault, said in a sentence
        return problem_of(error)
    return None


def problem_of(error: BaseException) -> str:
    """Return an error met while reading the migrations as a sentence naming the file and line it came from (the
    last frame outside Python's and Django's own code), when one did."""
    where = ""
    if isinstance(error, SyntaxError) and error.filename:  # the file Python could not compile: in no frame
        where = f" ({_project_relative(Path(error.filename))}, line {error.lineno})"
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if where:
            break
        if not frame.filename.startswith("<") and not frame.filename.startswith(_LIBRARY_CODE):
            where = f" ({_project_relative(Path(frame.filename))}, line {frame.lineno})"
    return f"The migrations cannot be read{where}: {type(error).__name__}: {error}"


# Where Python's and Django's own code lives: an error's frames there are how it was reached, not where it is.
# The code reading them (this package) is not where either: Django's own messages name the migration then (one with
# no Migration class, a dependency on one that does not exist).
_LIBRARY_CODE = (sysconfig.get_paths()["stdlib"], str(Path(django.__file__).parent), str(Path(__file__).parent))


def _project_relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
