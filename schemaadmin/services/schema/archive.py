"""Nothing lost on a destructive apply: copy what a migration drops into the archive schema just before it runs.

What a migration drops comes from its operations, read on the project state before each one: RemoveField (the
column, or an automatic many-to-many table), DeleteModel (the table and its automatic many-to-many tables), and
RunSQL's `DROP TABLE` / `ALTER TABLE … DROP COLUMN` (parsed with pglast). The apply job calls `archive_drops`
when Django announces the migration (before its transaction starts), so the copies are committed before the DROP
runs; if the migration then fails and rolls back, the copies stay (the page lists them and a DBA may drop them).
A column is copied with the row's primary key (the whole row when the table has none); a table whole. Each copy
is a table of `ARCHIVE_SCHEMA` whose comment (JSON) says what it holds and how to put it back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.backends.utils import truncate_name
from django.db.migrations import operations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState
from django.utils import timezone

from schemaadmin.audit import record, record_refusal
from schemaadmin.conf import app_settings
from schemaadmin.pg.archive import (
    ArchiveInUse,
    ArchiveTable,
    archive_columns,
    archive_tables,
    drop_archive,
    primary_key,
    table_exists,
)
from schemaadmin.pg.identifiers import NAME_BYTES, qualified, quote_identifier
from schemaadmin.pg.names import db_table_parts, qualify
from schemaadmin.pg.relations import table_estimates
from schemaadmin.services.schema.raw_sql import run_sql_actions
from schemaadmin.services.schema.sql import find_migration, migration_label, migration_loader
from schemaadmin.services.schema.states import MigrationStates

__all__ = [
    "Archive",
    "ArchiveInUse",
    "ArchiveCost",
    "Archived",
    "PlannedDrop",
    "UnknownArchive",
    "archive_costs",
    "archive_drops",
    "may_drop",
    "archives",
    "drop",
    "migration_drops",
    "refuse_drop",
    "restore_sql",
]


@dataclass(frozen=True, slots=True)
class PlannedDrop:
    table: str
    column: str = ""  # "" when the whole table goes
    schema: str = ""  # the schema a RunSQL names; "" for a name the search_path resolves (Django's tables)

    @property
    def label(self) -> str:
        table = qualify(self.schema, self.table) if self.schema else self.table
        return f"{table}.{self.column}" if self.column else table


@dataclass(frozen=True, slots=True)
class Archived:
    """One copy the worker made: where it is, what it holds, how to restore it."""

    drop: PlannedDrop
    schema: str
    name: str
    key: tuple[str, ...]  # the primary key copied beside a column; () for a whole table or row
    rows: int
    migration: str

    @property
    def where(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def restore(self) -> str:
        return restore_sql(self.drop, self.schema, self.name, self.key, self.migration)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.drop.label,
            "archive": self.where,
            "key": list(self.key),
            "rows": self.rows,
            "migration": self.migration,
            "restore": self.restore,
        }


@dataclass(frozen=True, slots=True)
class Archive:
    """A table of the archive schema, as the schema page lists it."""

    table: ArchiveTable
    schema: str
    about: dict[str, Any]  # the comment the worker wrote: source, migration, apply, archived_at, restore

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def archived_at(self) -> datetime | None:
        """Return when the worker made it, from its comment (None when the comment says nothing readable)."""
        try:
            at = datetime.fromisoformat(str(self.about.get("archived_at") or ""))
        except ValueError:
            return None
        return at if at.tzinfo else None


def migration_drops(
    loader: MigrationLoader, migration: Migration, *, start: ProjectState | None = None
) -> list[PlannedDrop]:
    """Return each table or column the migration drops, in order, named as in the database.

    start: the project state before the migration when the caller has it (MigrationStates; it is not changed).
    """
    state = start if start is not None else loader.project_state((migration.app_label, migration.name), at_end=False)
    max_name = (loader.connection.ops.max_name_length() if loader.connection else None) or NAME_BYTES
    found: list[PlannedDrop] = []
    for operation in migration.operations:
        inner = (
            operation.database_operations if isinstance(operation, operations.SeparateDatabaseAndState) else [operation]
        )
        before = state
        for database_operation in inner:
            found.extend(_drops(database_operation, before, migration.app_label, max_name))
            after = before.clone()
            database_operation.state_forwards(migration.app_label, after)
            before = after
        state = state.clone()
        operation.state_forwards(migration.app_label, state)
    return list(dict.fromkeys(found))


def _drops(op: Any, state: ProjectState, app_label: str, max_name: int) -> Iterator[PlannedDrop]:
    if isinstance(op, operations.RunSQL):
        for action in run_sql_actions(op.sql):
            if action.kind == "drop_table":
                yield PlannedDrop(action.table, schema=action.schema)
            elif action.kind == "drop_column":
                yield PlannedDrop(action.table, action.column, schema=action.schema)
        return
    if not isinstance(op, (operations.RemoveField, operations.DeleteModel)):
        return
    model_name = op.model_name if isinstance(op, operations.RemoveField) else op.name
    model = state.models.get((app_label, model_name.lower()))
    if model is None or model.options.get("proxy") or not model.options.get("managed", True):
        return
    table = model.options.get("db_table") or truncate_name(f"{app_label}_{model.name_lower}", max_name)
    names = [op.name] if isinstance(op, operations.RemoveField) else list(model.fields)
    if isinstance(op, operations.DeleteModel):
        yield _model_table(table)
    for name in names:
        field = model.get_field(name).clone()
        field.set_attributes_from_name(name)
        if field.many_to_many:
            if not field.remote_field.through:  # the automatic join table goes with the field or model
                yield _model_table(field.db_table or truncate_name(f"{table}_{name}", max_name))
        elif isinstance(op, operations.RemoveField) and field.concrete:
            yield _model_table(table, field.column)


def _model_table(db_table: str, column: str = "") -> PlannedDrop:
    """Return the drop of a model's table (or column) as the database names it: a db_table naming its schema
    ('billing"."invoice', Django's way) is that schema's table, not a table of that odd name, which does not exist
    and would leave the drop unarchived."""
    schema, table = db_table_parts(db_table)
    return PlannedDrop(table, column, schema=schema or "")


def archive_name(apply_id: int, drop: PlannedDrop) -> str:
    """Return the archive table's name: the run, the table and the column, shortened with a hash past 63 bytes."""
    table = f"{drop.schema}_{drop.table}" if drop.schema else drop.table
    name = f"apply{apply_id}_{table}" + (f"__{drop.column}" if drop.column else "")
    # A schema's table always carries the hash of its parts: schema "s" with table "t" and a table "s_t" differ.
    if len(name.encode()) <= NAME_BYTES and not drop.schema:
        return name
    digest = hashlib.sha256(json.dumps([apply_id, drop.schema, drop.table, drop.column]).encode()).hexdigest()[:8]
    return name.encode()[: NAME_BYTES - 9].decode(errors="ignore") + "_" + digest


def restore_sql(drop: PlannedDrop, schema: str, name: str, key: tuple[str, ...], migration: str) -> str:
    """Return how to put the archived data back once the migration is reversed (the structure comes back empty).

    Text shown to a DBA to copy, never run here; every name goes through quote_identifier.
    """
    archive = qualified(schema, name)
    table = qualified(drop.schema, drop.table) if drop.schema else quote_identifier(drop.table)
    back = f"Reverse {migration} (manage.py migrate to the migration before it), then: "
    if drop.column and key:
        column = quote_identifier(drop.column)
        match = " AND ".join(f"t.{quote_identifier(k)} = a.{quote_identifier(k)}" for k in key)
        return back + f"UPDATE {table} AS t SET {column} = a.{column} FROM {archive} AS a WHERE {match};"  # noqa: S608
    return back + f"INSERT INTO {table} SELECT * FROM {archive};  -- same columns in the same order"  # noqa: S608


def archive_drops(
    drops: list[PlannedDrop], *, apply_id: int, migration: str, using: str = "default"
) -> Iterator[Archived | str]:
    """Copy each dropped table or column into the archive schema; yield each copy, or why one was skipped."""
    schema = app_settings()["ARCHIVE_SCHEMA"]
    for drop in drops:
        if not table_exists(drop.table, schema=drop.schema, using=using):
            yield f"Nothing to archive for {drop.label}: the table does not exist."
            continue
        key = tuple(primary_key(drop.table, schema=drop.schema, using=using)) if drop.column else ()
        whole_row = bool(drop.column) and not key
        columns = [*key, drop.column] if drop.column and key else None
        name = archive_name(apply_id, drop)
        archived = Archived(drop, schema, name, key, 0, migration)
        about = {
            "source": drop.label,
            "whole_rows": whole_row,
            "migration": migration,
            "apply": apply_id,
            "archived_at": timezone.now().isoformat(timespec="seconds"),
            "restore": archived.restore,
        }
        rows = archive_columns(
            drop.table, columns, source_schema=drop.schema, schema=schema, name=name, about=about, using=using
        )
        yield Archived(drop, schema, name, key, rows, migration)


def archives(*, using: str = "default") -> list[Archive]:
    """Return the archive schema's tables with what each holds (its comment), newest first."""
    schema = app_settings()["ARCHIVE_SCHEMA"]
    found = []
    for table in archive_tables(schema=schema, using=using):
        try:
            about = json.loads(table.comment) if table.comment else {}
        except ValueError:
            about = {}
        found.append(Archive(table, schema, about if isinstance(about, dict) else {}))
    return found


class UnknownArchive(LookupError):
    """No archive of that name; the message says which."""


def drop(name: str, *, user: Any, request: Any = None, using: str = "default") -> Archive:
    """Drop one archive table and audit it (the caller checked the permission and the typed confirmation).

    Raises UnknownArchive, or ArchiveInUse when other objects depend on the table: each audited as a refusal."""
    found = next((archive for archive in archives(using=using) if archive.name == name), None)
    schema = app_settings()["ARCHIVE_SCHEMA"]
    try:
        dropped = found is not None and drop_archive(schema=schema, name=name, using=using)
    except ArchiveInUse as exc:
        refuse_drop(name, str(exc), user=user, request=request)
        raise
    if not dropped or found is None:
        unknown = UnknownArchive(f"There is no archive {qualify(schema, name)}.")
        refuse_drop(name, str(unknown), user=user, request=request)
        raise unknown
    record(
        request,
        "migrations.archive_dropped",
        qualify(schema, name),
        actor=user,
        source=found.about.get("source", ""),
        migration=found.about.get("migration", ""),
        total_bytes=found.table.total_bytes,
    )
    return found


def refuse_drop(name: str, reason: str, *, user: Any, request: Any = None) -> None:
    """Audit a drop of archive name that was asked for and refused (in use, unknown, its name not typed as it is)."""
    schema = app_settings()["ARCHIVE_SCHEMA"]
    record_refusal(request, "migrations.archive_drop_refused", qualify(schema, name), reason, actor=user)


@dataclass(frozen=True, slots=True)
class ArchiveCost:
    """What archiving one drop will copy, from the planner's estimates: the apply confirmation shows it."""

    drop: PlannedDrop
    migration: str
    estimated_rows: int | None
    table_bytes: int  # the whole table's size; a column's copy is its share of it plus the key
    exists: bool = True  # False: no such table now (the plan creates it first): nothing of it can be archived


def archive_costs(keys: list[tuple[str, str]], *, using: str = "default") -> list[ArchiveCost]:
    """Return what the apply of these migrations (app_label, name) will archive before dropping, with sizes."""
    loader = migration_loader(using=using)
    states = MigrationStates(loader)  # the plan's states walked once, not the history replayed per dropping migration
    planned = []
    for app_label, name in keys:
        migration = find_migration(loader, app_label, name)
        start = states.start(migration)
        if may_drop(migration):
            drops = migration_drops(loader, migration, start=start.plain if start is not None else None)
            planned += [(drop, migration_label(migration)) for drop in drops]
        if start is not None:
            states.ended(migration, start, sql_written=False)
    if not planned:
        return []
    by_schema: dict[str, set[str]] = {}
    for drop, _ in planned:
        by_schema.setdefault(drop.schema, set()).add(drop.table)
    sizes = {
        (schema, e.table): e
        for schema, tables in by_schema.items()
        for e in table_estimates(sorted(tables), schema=schema or None, using=using)
    }
    costs = []
    for drop, label in planned:
        size = sizes.get((drop.schema, drop.table))
        if size is None:
            costs.append(ArchiveCost(drop, label, None, 0, exists=False))
        else:
            costs.append(ArchiveCost(drop, label, size.estimated_rows, size.total_bytes))
    return costs


def may_drop(migration: Migration) -> bool:
    """Say cheaply whether a migration has an operation that can drop a table or column (before reading it all)."""
    kinds = (operations.RemoveField, operations.DeleteModel, operations.RunSQL)
    for operation in migration.operations:
        inner = getattr(operation, "database_operations", None) or [operation]
        if any(isinstance(op, kinds) for op in inner):
            return True
    return False
