"""SchemaAdmin's own lock-risk rules, read from a migration's operation objects (not from its SQL text).

squawk reads SQL and cannot know how big a table is now, what pgvector accepts, or what a Django operation
means; these rules can. Rules that depend on the live data come back as `SizedFinding`s: they hold only when the
table's estimated rows (reltuples) reach `min_rows`, which the caller checks with one catalog query for all of
them. Where squawk's SQL-only view calls a safe change dangerous (widening a varchar, varchar to text, dropping
NOT NULL, a value column that is not bigint), a `SquawkOverride` sets its finding aside with the reason
(lint_overrides.py). RunSQL, RunPython and what only the whole migration shows are in lint_sql_rules.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.operations import (
    AddConstraintNotValid,
    AddIndexConcurrently,
    RemoveIndexConcurrently,
    ValidateConstraint,
)
from django.db.migrations import operations
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState
from django.db.models import CheckConstraint

from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.lint_base import PlanFacts, SizedFinding, SquawkOverride
from schemaadmin.services.schema.lint_field_rules import FieldRules
from schemaadmin.services.schema.lint_help import (
    OPAQUE_HELP,
)
from schemaadmin.services.schema.lint_index_rules import ANN_DIMENSION_LIMITS, LintedModel
from schemaadmin.services.schema.lint_overrides import (
    EXCLUSION_NOT_VALID,
    VALUE_INTEGER,
    VARCHAR_LENGTH,
)
from schemaadmin.services.schema.lint_sql_rules import is_product_model

__all__ = ["ANN_DIMENSION_LIMITS", "SizedFinding", "SquawkOverride", "operation_findings"]


def operation_findings(
    migration: Migration,
    state: ProjectState,
    connection: Any,
    *,
    big_rows: int,
    lines: tuple[int | None, ...] = (),
    sql_lines: Sequence[str] = (),
    plan: PlanFacts | None = None,
) -> Iterator[Finding | SizedFinding | SquawkOverride]:
    """Yield what our rules find in the migration's operations, starting from the project state before it.

    lines: the 0-based line of each operation's header in the migration's SQL (sql_lines); its findings point at
    the first statement under it (_statement_line); a RunSQL's at their own statements' lines. plan: what the plan's
    migrations before it left (PlanFacts), shared by a lint of several."""
    checker = _Checker(migration, connection, big_rows, sql_lines, plan)
    for index, operation in enumerate(migration.operations):
        line = _statement_line(sql_lines, lines[index] if index < len(lines) else None)
        before, state = state, state.clone()
        operation.state_forwards(migration.app_label, state)
        if isinstance(operation, operations.SeparateDatabaseAndState):
            # Only the database operations touch the database; each starts from the state its predecessor left.
            inner = before
            for database_operation in operation.database_operations:
                after = inner.clone()
                database_operation.state_forwards(migration.app_label, after)
                yield from _numbered(checker.check(database_operation, inner, after, line), index)
                inner = after
        else:
            yield from _numbered(checker.check(operation, before, state, line), index)
    yield from checker.finish()


def _statement_line(sql_lines: Sequence[str], header: int | None) -> int | None:
    """Return the line of the first statement under an operation's header ("--", "-- <describe()>", "--"), where its
    findings point: the header pointed at a comment two lines above the DROP COLUMN a drop_column finding is about.
    The header itself when no statement follows it ("-- (no-op)", "-- THIS OPERATION CANNOT BE WRITTEN AS SQL")."""
    if header is None:
        return None
    first = header + 2
    if first < len(sql_lines) and sql_lines[first].strip() and not sql_lines[first].lstrip().startswith("--"):
        return first
    return header


def _numbered(found: Iterator[Any], index: int) -> Iterator[Any]:
    for item in found:
        yield replace(item, operation=index) if isinstance(item, SquawkOverride) else item


class _Checker(FieldRules):
    """Our rules, on unrendered model states: rendering every intermediate state would cost more than the SQL."""

    def atomic(self, op: Any) -> bool:
        """Say whether the operation runs in a transaction, as Migration.apply decides on PostgreSQL: every
        operation of an atomic migration does (a RunPython's atomic=False changes nothing there: the migration's
        transaction is around it), and in a non-atomic one an operation whose atomic is true gets one of its own."""
        return bool(self.migration.atomic or getattr(op, "atomic", False))

    def check(self, op: Any, before: ProjectState, after: ProjectState, line: int | None) -> Iterator[Any]:
        self.before = before
        self.step += 1
        if isinstance(op, operations.RunSQL):
            yield from self.run_sql(op, line, atomic=self.atomic(op))
            return
        if isinstance(op, operations.RunPython):
            if op.code is operations.RunPython.noop:
                return  # nothing runs forwards (often a data migration kept for its reverse)
            hinted = self.model(after, str((op.hints or {}).get("model_name") or ""))
            self.run_python(op, line, table=hinted.table if hinted else None, atomic=self.atomic(op))
            return
        if isinstance(op, (operations.RenameModel, operations.AlterModelTable)):
            old_name, new_name = (
                (op.old_name, op.new_name) if isinstance(op, operations.RenameModel) else (op.name,) * 2
            )
            old, new = self.model(before, old_name), self.model(after, new_name)
            if old is not None and new is not None and old.table != new.table:
                self.plan.renamed[new.table] = self.plan.live_name(old.table)
            return
        if not getattr(op, "reduces_to_sql", True):
            # Django writes "-- MIGRATION NOW PERFORMS OPERATION THAT CANNOT BE WRITTEN AS SQL" for it: what it does
            # to the schema happens only when it runs, and no rule here can read it.
            message = (
                f"{op.describe()} ({type(op).__name__}) does its work in Python when it runs: Django cannot write "
                "its SQL, so neither squawk nor these rules can see what it does to the schema or how long it "
                "locks. Read its code before applying it."
            )
            yield self.finding("sql_unwritten", Severity.WARNING, type(op).__name__, message, OPAQUE_HELP, line)
            return
        model_name = str(getattr(op, "model_name", None) or getattr(op, "name", ""))
        model = self.model(
            before if isinstance(op, (operations.DeleteModel, operations.RemoveField)) else after, model_name
        )
        if model is None:
            return
        if isinstance(op, operations.CreateModel):
            yield from self.created_model(op, model, line)
        elif isinstance(op, operations.DeleteModel):
            yield self.drop_table(model.table, "", line)
        elif isinstance(op, operations.RemoveField):
            yield from self.removed_field(model, op.name, line)
        elif isinstance(op, operations.AddField):
            yield from self.added_field(op, model, line)
        elif isinstance(op, operations.AlterField):
            old_model = self.model(before, op.model_name)
            if old_model is not None:
                old_field, new_field = old_model.field(op.name), model.field(op.name)
                yield from self.altered_field(old_field, new_field, model.table, line, before=before, model=old_model)
        elif isinstance(op, (operations.AddIndex, AddIndexConcurrently)):
            yield from self.ann_dimensions(op.index, model, line)
            yield from self.wide_index(op.index, model.table, line)
            if isinstance(op, AddIndexConcurrently):
                yield from self.concurrent_index(model.table, f"index {op.index.name}", line)
            else:
                yield from self.blocking_index(model.table, f"index {op.index.name}", line)
        elif isinstance(op, RemoveIndexConcurrently):
            yield from self.concurrent_index(model.table, f"index {op.name}", line, verb="Drops")
        elif isinstance(op, AddConstraintNotValid):
            # NOT VALID reads no row (a CHECK's ACCESS EXCLUSIVE is brief); its ValidateConstraint scans them.
            self.mark_altered(model.table)
        elif isinstance(op, ValidateConstraint):
            yield from self.validation(model.table, f"constraint {op.name}", line, atomic=self.atomic(op))
        elif isinstance(op, operations.AddConstraint) and isinstance(op.constraint, ExclusionConstraint):
            yield SquawkOverride(("constraint-missing-not-valid",), EXCLUSION_NOT_VALID)
            yield from self.exclusion(model.table, f"constraint {op.constraint.name}", line)
        elif isinstance(op, operations.AddConstraint) and isinstance(op.constraint, CheckConstraint):
            yield from self.check_constraint(model.table, f"constraint {op.constraint.name}", line)
        elif isinstance(op, operations.AddConstraint):
            # A unique constraint: ALTER TABLE … ADD CONSTRAINT (ACCESS EXCLUSIVE), or CREATE UNIQUE INDEX (SHARE:
            # reads go on) when partial, covering (INCLUDE), with operator classes or on expressions, as Django's
            # schema editor writes it.
            written_as_index = ("condition", "include", "opclasses", "expressions")
            by_alter = not any(getattr(op.constraint, attribute, None) for attribute in written_as_index)
            yield from self.blocking_index(model.table, f"constraint {op.constraint.name}", line, constraint=by_alter)
        elif isinstance(op, (operations.AlterUniqueTogether, operations.AlterIndexTogether)):
            yield from self.altered_together(op, before, model, line)

    def altered_together(self, op: Any, before: ProjectState, model: LintedModel, line: int | None) -> Iterator[Any]:
        """Each new unique_together (or index_together) set builds an index, as a unique constraint does."""
        old_model = self.model(before, op.name)
        had = {tuple(fields) for fields in (old_model.state.options.get(op.option_name) or ())} if old_model else set()
        for fields in sorted({tuple(fields) for fields in op.option_value or ()} - had):
            what = f"the {op.option_name} index ({', '.join(fields)})"
            unique = op.option_name == "unique_together"  # ALTER TABLE … ADD CONSTRAINT; index_together: CREATE INDEX
            yield from self.blocking_index(model.table, what, line, constraint=unique)

    def created_model(self, op: Any, model: LintedModel, line: int | None) -> Iterator[Any]:
        self.created.add(model.table)
        yield SquawkOverride(("prefer-text-field",), VARCHAR_LENGTH)
        if is_product_model(self.app_label, model.state.name):
            self.product_tables[model.table] = line
        for index in op.options.get("indexes", []):
            yield from self.ann_dimensions(index, model, line)
        fields = [model.field(name) for name in model.state.fields]
        for field in fields:
            if field.concrete and not field.is_relation and field.db_type(self.connection) == "json":
                yield self.json_column(model.table, field.column, line)
        # A relation's type is its target's, unknown on an unrendered state: only a table without any is judged.
        if not any(f.is_relation or (f.primary_key and self.small_integer(f)) for f in fields if f.concrete):
            yield SquawkOverride(
                ("prefer-bigint-over-int", "prefer-bigint-over-smallint"),
                VALUE_INTEGER.format(what="every integer column of this table"),
            )
