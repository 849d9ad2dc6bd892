"""SchemaAdmin's own lock-risk rules, read from a migration's operation objects (not from its SQL text).

squawk reads SQL and cannot know how big a table is now or what pgvector accepts; these rules can. Rules that
depend on the live data come back as `SizedFinding`s: they hold only when the table's estimated rows (reltuples)
reach `min_rows`, which the caller checks with one catalog query for all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import truncate_name
from django.db.migrations import operations
from django.db.migrations.migration import Migration
from django.db.migrations.state import ModelState, ProjectState
from django.db.models import NOT_PROVIDED, CheckConstraint, F, Index
from django.db.models.expressions import OrderBy
from django.db.models.functions import Cast

from schemaadmin.services.findings import Finding, Kind, Severity

__all__ = ["ANN_DIMENSION_LIMITS", "SizedFinding", "operation_findings"]

# The most dimensions pgvector's HNSW and IVFFlat indexes accept, per stored type.
ANN_DIMENSION_LIMITS = {"vector": 2_000, "halfvec": 4_000, "bit": 64_000}
_VECTOR_TYPE = re.compile(r"^(vector|halfvec|bit|sparsevec)\((\d+)\)$")

INDEX_HELP = (
    "Build it without blocking writes: AddIndexConcurrently (django.contrib.postgres.operations) in a migration "
    "of its own with atomic = False. For a unique field or constraint, build the unique index concurrently, then "
    "attach it with ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX inside SeparateDatabaseAndState."
)
NOT_NULL_HELP = (
    "Add the column nullable (null=True), backfill it in batches (a RunPython or a worker job), then make it "
    "NOT NULL; or give it a default (default= or db_default=), which PostgreSQL 11+ adds without a rewrite."
)
SET_NOT_NULL_HELP = (
    "Avoid the scan under an ACCESS EXCLUSIVE lock: add CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT "
    "in a later migration (no write lock), then SET NOT NULL (PostgreSQL 12+ trusts the valid check and skips the "
    "scan) and drop the check. Backfill NULLs before validating."
)
ANN_HELP = (
    "Index a halfvec cast instead (up to 4,000 dimensions): HnswIndex(OpClass(Cast('embedding', "
    "HalfVectorField(dimensions=N)), name='halfvec_cosine_ops'), ...), and order queries by the same cast so the "
    "planner uses it; or reduce the embedding's dimensions."
)
DIMENSIONS_HELP = (
    "Plan the rebuild instead of altering in place: add a new nullable column with the new dimensions, re-embed "
    "into it in batches in the worker, build its ANN index with AddIndexConcurrently (atomic = False), switch "
    "reads to it, then remove the old column. If the column is known to be empty, record that with "
    "lint_exemptions = {'vector_dimensions_changed': 'why'} on the migration."
)
DROP_HELP = (
    "Deploy code that no longer reads it first (remove it from the model state only, with "
    "SeparateDatabaseAndState), keep a backup of the data, and drop it in a later release. The backward "
    "migration recreates the structure, not the data."
)


@dataclass(frozen=True, slots=True)
class SizedFinding:
    """A finding that holds only if `table` has at least `min_rows` estimated rows; "{rows}" in its message."""

    table: str
    min_rows: int
    finding: Finding


def operation_findings(
    migration: Migration, state: ProjectState, connection: Any, *, big_rows: int, lines: tuple[int | None, ...] = ()
) -> Iterator[Finding | SizedFinding]:
    """Yield what our rules find in the migration's operations, starting from the project state before it."""
    checker = _Checker(migration, connection, big_rows)
    for index, operation in enumerate(migration.operations):
        line = lines[index] if index < len(lines) else None
        before, state = state, state.clone()
        operation.state_forwards(migration.app_label, state)
        if isinstance(operation, operations.SeparateDatabaseAndState):
            # Only the database operations touch the database; each starts from the state its predecessor left.
            inner = before
            for database_operation in operation.database_operations:
                after = inner.clone()
                database_operation.state_forwards(migration.app_label, after)
                yield from checker.check(database_operation, inner, after, line)
                inner = after
        else:
            yield from checker.check(operation, before, state, line)


@dataclass(frozen=True, slots=True)
class _Model:
    table: str
    state: ModelState

    def field(self, name: str) -> Any:
        """Return a copy of the model's field, named, so its column is known without rendering the model."""
        field = self.state.get_field(name).clone()
        field.set_attributes_from_name(name)
        return field


class _Checker:
    """Our rules, on unrendered model states: rendering every intermediate state would cost more than the SQL."""

    def __init__(self, migration: Migration, connection: Any, big_rows: int) -> None:
        self.app_label = migration.app_label
        self.label = f"{migration.app_label}.{migration.name}"
        self.connection = connection
        self.big_rows = big_rows
        self.created: set[str] = set()  # tables this migration creates: empty, so no size rule applies

    def finding(self, code: str, severity: Severity, obj: str, message: str, help: str, line: int | None) -> Finding:
        return Finding(
            code, severity, Kind.LINT, obj, message, help=help, source="schemaadmin", migration=self.label, line=line
        )

    def model(self, state: ProjectState, model_name: str) -> _Model | None:
        """Return the model's table and state, or None when migrations do not manage a table for it."""
        model_state = state.models.get((self.app_label, model_name.lower()))
        if model_state is None or model_state.options.get("proxy") or not model_state.options.get("managed", True):
            return None
        table = model_state.options.get("db_table") or truncate_name(
            f"{self.app_label}_{model_state.name_lower}", self.connection.ops.max_name_length()
        )
        return _Model(table, model_state)

    def check(self, op: Any, before: ProjectState, after: ProjectState, line: int | None) -> Iterator[Any]:
        model_name = str(getattr(op, "model_name", None) or getattr(op, "name", ""))
        model = self.model(
            before if isinstance(op, (operations.DeleteModel, operations.RemoveField)) else after, model_name
        )
        if model is None:
            return
        if isinstance(op, operations.CreateModel):
            self.created.add(model.table)
            for index in op.options.get("indexes", []):
                yield from self.ann_dimensions(index, model, line)
        elif isinstance(op, operations.DeleteModel):
            message = f"Drops the table {model.table} and every row in it."
            yield self.finding("drop_table", Severity.WARNING, model.table, message, DROP_HELP, line)
        elif isinstance(op, operations.RemoveField):
            yield from self.removed_field(model, op.name, line)
        elif isinstance(op, operations.AddField):
            yield from self.added_field(op, model, line)
        elif isinstance(op, operations.AlterField):
            old_model = self.model(before, op.model_name)
            if old_model is not None:
                yield from self.altered_field(old_model.field(op.name), model.field(op.name), model.table, line)
        elif isinstance(op, (operations.AddIndex, AddIndexConcurrently)):
            yield from self.ann_dimensions(op.index, model, line)
            if not isinstance(op, AddIndexConcurrently):
                yield from self.blocking_index(model.table, f"index {op.index.name}", line)
        elif isinstance(op, operations.AddConstraint) and not isinstance(op.constraint, CheckConstraint):
            # Unique and exclusion constraints build their index under a write-blocking lock.
            yield from self.blocking_index(model.table, f"constraint {op.constraint.name}", line)

    def removed_field(self, model: _Model, name: str, line: int | None) -> Iterator[Finding]:
        field = model.field(name)
        if field.many_to_many:
            if not field.remote_field.through:  # an automatic join table goes with the field
                table = field.db_table or truncate_name(f"{model.table}_{name}", self.connection.ops.max_name_length())
                message = f"Drops the table {table} (the many-to-many {name}) and every row in it."
                yield self.finding("drop_table", Severity.WARNING, table, message, DROP_HELP, line)
        elif field.concrete:
            target = f"{model.table}.{field.column}"
            message = f"Drops the column {target} and the data in it."
            yield self.finding("drop_column", Severity.WARNING, target, message, DROP_HELP, line)

    def added_field(self, op: Any, model: _Model, line: int | None) -> Iterator[SizedFinding]:
        field = model.field(op.name)
        if model.table in self.created or field.many_to_many or not field.concrete:
            return
        target = f"{model.table}.{field.column}"
        has_default = op.field.db_default is not NOT_PROVIDED or (
            BaseDatabaseSchemaEditor._effective_default(op.field) is not None  # type: ignore[attr-defined]
        )
        if not field.null and not has_default and not field.generated:
            message = (
                f"Adds {target} NOT NULL without a default to a table of about {{rows}} rows: PostgreSQL refuses "
                "it, because the existing rows would have no value."
            )
            finding = self.finding("not_null_without_default", Severity.CRITICAL, target, message, NOT_NULL_HELP, line)
            yield SizedFinding(model.table, 1, finding)
        if field.db_index or field.unique:
            yield from self.blocking_index(model.table, f"the index of {target}", line)

    def altered_field(self, old: Any, new: Any, table: str, line: int | None) -> Iterator[Finding | SizedFinding]:
        if table in self.created:
            return
        target = f"{table}.{new.column}"
        old_type, new_type = self.vector_type(old), self.vector_type(new)
        if old_type and new_type and old_type[1] != new_type[1]:
            message = (
                f"Changes {target} from {old_type[0]}({old_type[1]}) to {new_type[0]}({new_type[1]}): the ALTER "
                "rewrites the table under an ACCESS EXCLUSIVE lock, fails on every stored vector of the old size, "
                "and rebuilds its ANN indexes inside the lock."
            )
            yield self.finding("vector_dimensions_changed", Severity.CRITICAL, target, message, DIMENSIONS_HELP, line)
        if old.null and not new.null:
            message = (
                f"Makes {target} NOT NULL on a table of about {{rows}} rows: PostgreSQL scans all of it under an "
                "ACCESS EXCLUSIVE lock, which blocks reads and writes."
            )
            finding = self.finding(
                "set_not_null_on_big_table", Severity.CRITICAL, target, message, SET_NOT_NULL_HELP, line
            )
            yield SizedFinding(table, self.big_rows, finding)
        if (new.db_index and not old.db_index) or (new.unique and not old.unique):
            yield from self.blocking_index(table, f"the index of {target}", line)

    def blocking_index(self, table: str, what: str, line: int | None) -> Iterator[SizedFinding]:
        if table in self.created:
            return
        message = (
            f"Builds {what} on {table} (about {{rows}} rows) without CONCURRENTLY: writes to the table wait for "
            "the whole build."
        )
        finding = self.finding("index_on_big_table", Severity.CRITICAL, table, message, INDEX_HELP, line)
        yield SizedFinding(table, self.big_rows, finding)

    def ann_dimensions(self, index: Index, model: _Model, line: int | None) -> Iterator[Finding]:
        method = getattr(index, "suffix", "")
        if method not in ("hnsw", "ivfflat"):
            return
        indexed = [model.field(name.lstrip("-")) for name in index.fields]
        indexed += [_indexed_expression(expression, model) for expression in index.expressions]
        for field in indexed:
            parsed = self.vector_type(field)
            limit = ANN_DIMENSION_LIMITS.get(parsed[0]) if parsed else None
            if parsed and limit and parsed[1] > limit:
                stored = f"{parsed[0]}({parsed[1]})"
                message = (
                    f"The {method.upper()} index {index.name} on {model.table} indexes {stored}: pgvector "
                    f"refuses {parsed[0]} above {limit:,} dimensions, so the migration fails when applied."
                )
                yield self.finding(
                    "ann_index_too_many_dimensions", Severity.CRITICAL, str(index.name), message, ANN_HELP, line
                )

    def vector_type(self, field: Any) -> tuple[str, int] | None:
        """Return ("vector", 1536) for a pgvector column type, None for anything else."""
        if field is None or field.is_relation:
            return None
        match = _VECTOR_TYPE.match(field.db_type(self.connection) or "")
        return (match.group(1), int(match.group(2))) if match else None


def _indexed_expression(expression: Any, model: _Model) -> Any:
    """Return the field an index expression stores (a Cast's type, or the column's), or None when unknown."""
    while True:
        if isinstance(expression, OrderBy):
            expression = expression.expression
        elif isinstance(expression, OpClass):
            expression = expression.get_source_expressions()[0]
        elif isinstance(expression, Cast):
            return expression.output_field
        elif isinstance(expression, F):
            return model.field(getattr(expression, "name", ""))
        else:
            return None
