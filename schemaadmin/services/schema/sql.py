"""A migration's SQL as `sqlmigrate` writes it, with the line where each operation starts."""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import FieldDoesNotExist
from django.db import NotSupportedError, connections
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations import RunPython, RunSQL
from django.db.migrations.state import ProjectState

from schemaadmin.pg.connection import refusing_writes, validated_alias
from schemaadmin.pg.index_cache import catalog_fingerprint

__all__ = [
    "MigrationSql",
    "UnknownMigration",
    "collected_sql",
    "forget_written_sql",
    "find_migration",
    "is_applied",
    "migration_label",
    "migration_loader",
    "migration_sql",
    "written_sql",
]


# SQLSTATE of a write in a READ ONLY transaction (psycopg's errors.ReadOnlySqlTransaction).
READ_ONLY_SQL_TRANSACTION = "25006"


class MigrationNamed(Protocol):
    """A Migration, or a row naming one."""

    @property
    def app_label(self) -> str: ...

    @property
    def name(self) -> str: ...


def migration_label(migration: MigrationNamed) -> str:
    """Return a migration's label as Django prints it: app_label.name."""
    return f"{migration.app_label}.{migration.name}"


class UnknownMigration(LookupError):
    """No migration of that name in that app; the message says which."""


@dataclass(frozen=True, slots=True)
class MigrationSql:
    text: str
    problem: str  # why there is no SQL (irreversible, or Django could not write it); "" when text is complete
    operation_lines: tuple[int | None, ...]  # 0-based line of each operation's "-- description" comment, in order
    backwards: bool = False
    fails: bool = False  # Django refused it for a reason migrate meets too: applying it would fail the same way

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n") if self.text else []

    def operation_at(self, line: int) -> int | None:
        """Return the index of the operation whose SQL holds the 0-based line, or None before the first."""
        found = None
        order = range(len(self.operation_lines))
        for index in reversed(order) if self.backwards else order:
            start = self.operation_lines[index]
            if start is not None and start <= line:
                found = index
        return found


def migration_loader(*, using: str = "default") -> MigrationLoader:
    """Return a loader that knows every migration on disk, squashed or not, as `sqlmigrate` loads them."""
    return MigrationLoader(connections[validated_alias(using)], replace_migrations=False)


def is_applied(migration: Migration, applied: Collection[tuple[str, str]]) -> bool:
    """Return whether the migration is applied: recorded, or a squash whose every replaced migration is (a loader
    that keeps squashes apart, as sqlmigrate's does, records only the migrations the database ran)."""
    key = (migration.app_label, migration.name)
    return key in applied or bool(migration.replaces) and all(tuple(part) in applied for part in migration.replaces)


def find_migration(loader: MigrationLoader, app_label: str, name: str) -> Migration:
    """Return the named migration, or raise UnknownMigration with a message a user can act on."""
    if app_label not in loader.migrated_apps:
        raise UnknownMigration(f"No app labelled “{app_label}” has migrations.")
    try:
        return loader.graph.nodes[(app_label, name)]
    except KeyError:
        raise UnknownMigration(f"The app “{app_label}” has no migration named “{name}”.") from None


@dataclass(slots=True)
class _Written:
    key: tuple[frozenset[tuple[tuple[str, str], int]], str]
    classes: list[type]  # the migration classes the key names by id: kept alive, so no other class takes an id
    sql: dict[str, MigrationSql]


_written: dict[str, _Written] = {}
_written_lock = threading.Lock()


def written_sql(loader: MigrationLoader) -> dict[str, MigrationSql]:
    """Return the forward SQL this process wrote for the loader's migrations (label → MigrationSql), to read and add to.

    Writing a migration's SQL renders its models: seconds for a long history of related models (384 pending
    migrations of wagtail and django-oscar: 12 s). What it writes depends only on the migrations (each node of the
    graph and the class it was loaded from) and on the live schema Django reads for some operations (constraint
    names), so the SQL is kept, per database, while both stay the same (pg.index_cache.catalog_fingerprint).
    """
    alias = validated_alias(getattr(loader.connection, "alias", "default"))
    nodes = loader.graph.nodes
    loaded = frozenset((node, id(type(migration))) for node, migration in nodes.items())
    key = (loaded, catalog_fingerprint(using=alias))
    with _written_lock:
        entry = _written.get(alias)
        if entry is None or entry.key != key:
            entry = _written[alias] = _Written(key, [type(migration) for migration in nodes.values()], {})
        return entry.sql


def forget_written_sql() -> None:
    """Forget the SQL written_sql() kept (benchmarks time the first view with it)."""
    with _written_lock:
        _written.clear()


def collected_sql(
    loader: MigrationLoader, migration: Migration, *, backwards: bool = False, state: ProjectState | None = None
) -> MigrationSql:
    """Return the migration's SQL exactly as `sqlmigrate [--backwards]` prints it, or why there is none.

    state: the project state before the migration when the caller has it (MigrationStates), so the history is not
    replayed again; it is changed into the state after the migration. Without it, built as `sqlmigrate` does.
    """
    connection: Any = loader.connection
    label = migration_label(migration)
    if state is not None and backwards:
        raise ValueError("A start state serves the forward SQL only.")
    try:
        # sqlmigrate's way runs each operation's database_forwards: Django's only write SQL, but a project's own may
        # execute statements (reduces_to_sql is True unless it says otherwise), and pages only read.
        with refusing_writes(connection.alias):
            if state is None:
                statements = loader.collect_sql([(migration, backwards)])
            else:
                with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as schema_editor:
                    migration.apply(state, schema_editor, collect_sql=True)
                statements = schema_editor.collected_sql
    except IrreversibleError:
        return MigrationSql("", _irreversible(label, migration), (), backwards)
    except Exception as exc:  # sqlmigrate fails the same way; the page says so instead of failing
        problem, fails = _unwritten(label, exc, migration)
        return MigrationSql("", problem, (), backwards, fails=fails)
    if migration.atomic and connection.features.can_rollback_ddl:
        statements = [connection.ops.start_transaction_sql(), *statements, connection.ops.end_transaction_sql()]
    text = "\n".join(statements)
    return MigrationSql(text, "", _operation_lines(text, migration, backwards), backwards)


def _unwritten(label: str, error: Exception, migration: Migration) -> tuple[str, bool]:
    """Return why Django could not write a migration's SQL, as a sentence with what to do, and whether applying it
    would fail the same way (the cause is the migration's, not the live schema's)."""
    said = str(error).rstrip(". ")  # Django's own sentence may end with its full stop
    if isinstance(error, NotSupportedError) and "transaction" in said:
        return (
            f"{label} cannot run as written: {said}. Set atomic = False on its Migration class: a concurrent "
            "index build or drop cannot run inside the transaction an atomic migration opens.",
            True,
        )
    if isinstance(error, (FieldDoesNotExist, LookupError)):
        return (
            f"Django could not write the SQL of {label}: {type(error).__name__}: {said}. It names a field or "
            "model that the migrations before it do not make (a dependency missing, or a typo): migrate fails "
            "the same way.",
            True,
        )
    if isinstance(error, ValueError) and str(error).startswith("Found wrong number"):
        return (
            f"Django could not write the SQL of {label} against this database: {said}. It reads the live schema "
            "(constraint and index names) of a table, and an earlier pending migration creates or changes that "
            "table; apply those first.",
            False,
        )
    where = _raised_in(error, migration)
    if getattr(error.__cause__, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION:
        return (
            f"Django could not write the SQL of {label}: {where}executes statements of its own while its SQL is "
            f"written ({said}), so nothing was run here; `sqlmigrate` would run them for real. Its SQL cannot be "
            "known before it runs; read its code (an Operation that executes should set reduces_to_sql = False).",
            False,
        )
    return (
        f"Django could not write the SQL of {label}: {where}raised {type(error).__name__}: {said}. Its SQL "
        "cannot be known before it runs; read its code, and try it on a copy of the database first.",
        False,
    )


def _raised_in(error: Exception, migration: Migration) -> str:
    """Return "operation N (what it does) " for the operation of the migration the error came out of, or ""."""
    traceback = error.__traceback__
    found = ""
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        for number, operation in enumerate(migration.operations, start=1):
            if owner is operation:
                found = f"its operation {number} ({operation.describe()}) "
        traceback = traceback.tb_next
    return found


def _irreversible(label: str, migration: Migration) -> str:
    # Django's message names the operation by its repr, which holds a function's memory address for a RunPython.
    why = {RunPython: " (a RunPython without reverse_code)", RunSQL: " (a RunSQL without reverse_sql)"}
    for number, operation in enumerate(migration.operations, start=1):
        if not operation.reversible:
            return (
                f"{label} cannot be reversed: its operation {number} ({operation.describe()}) has no reverse"
                f"{why.get(type(operation), '')}."
            )
    return f"{label} cannot be reversed."


def migration_sql(app_label: str, name: str, *, backwards: bool = False, using: str = "default") -> MigrationSql:
    """Return one migration's forward (or backward) SQL as `sqlmigrate` prints it."""
    loader = migration_loader(using=using)
    return collected_sql(loader, find_migration(loader, app_label, name), backwards=backwards)


def _operation_lines(text: str, migration: Migration, backwards: bool) -> tuple[int | None, ...]:
    # Migration.apply/unapply head each operation's SQL with "--", "-- <describe()>", "--"; deferred SQL (foreign
    # keys, indexes of new fields) comes at the end, after the last operation's header.
    lines = text.split("\n")
    order = list(range(len(migration.operations)))
    found: dict[int, int] = {}
    position = 0
    for index in reversed(order) if backwards else order:
        header = f"-- {migration.operations[index].describe()}"
        for line in range(max(position, 1), len(lines) - 1):
            if lines[line] == header and lines[line - 1] == "--" and lines[line + 1] == "--":
                found[index] = line
                position = line + 2
                break
    return tuple(found.get(index) for index in order)
