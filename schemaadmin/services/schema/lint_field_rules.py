"""SchemaAdmin's rules on a migration's fields and models, read from its operation objects: a field added, altered
or removed (lock, rewrite, default, NOT NULL, key and vector rules), and the model states they are read from.

The checker of lint_rules.py is made of these (FieldRules), the index rules (lint_index_rules.py), the RunSQL and
migration-wide rules (lint_sql_rules.py) and the checker state (lint_base.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import truncate_name
from django.db.migrations.state import ProjectState
from django.db.models import NOT_PROVIDED, Field

from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.lint_base import SquawkOverride
from schemaadmin.services.schema.lint_help import (
    ADDED_COLUMN_REWRITE_HELP,
    DIMENSIONS_HELP,
    PYTHON_DEFAULT_HELP,
    TYPE_CHANGE_HELP,
    UNIQUE_DEFAULT_HELP,
)
from schemaadmin.services.schema.lint_index_rules import IndexRules, LintedModel
from schemaadmin.services.schema.lint_overrides import (
    COLLATION_ONLY,
    DEFAULT_DROPPED,
    NULL_ALLOWED,
    REFERENCED_INTEGER,
    SAME_TYPE,
    SMALL_INTEGERS,
    STABLE_DEFAULT,
    VALUE_INTEGER,
    VARCHAR_LENGTH,
    WIDENED,
    same_target,
    widens,
)


# The statement of a Django operation's SQL a finding about a column is about (lint_base.line_of), given the column
# as the connection's schema editor writes it (CheckerBase.written: Django's quote_name, which does not double an
# inner quote).
def _set_not_null(written: str) -> str:
    return rf"ALTER COLUMN {re.escape(written)} SET NOT NULL"


def _foreign_key(written: str) -> str:
    quoted = re.escape(written)
    return rf"FOREIGN KEY \({quoted}\)|ADD COLUMN {quoted} .*\bREFERENCES\b"


def _index_built(written: str) -> str:
    quoted = re.escape(written)
    return rf"^CREATE (UNIQUE )?INDEX .*\({quoted}[ )]|UNIQUE \({quoted}\)|ADD COLUMN {quoted} .*\bUNIQUE\b"


def _effective_default(field: Any) -> Any:
    """Return the value Django's AddField gives the existing rows (None: they stay NULL). A foreign key's is its
    plain default: ForeignKey.get_default() compares it with the related model, a name until models are rendered."""
    if field.many_to_one:
        return Field.get_default(field) if field.has_default() else None
    return BaseDatabaseSchemaEditor._effective_default(field)  # type: ignore[attr-defined]


class FieldRules(IndexRules):
    """Rules on fields and the models that hold them, on unrendered model states."""

    before: ProjectState  # the state before the operation being checked (lint_rules' check sets it)

    def model(self, state: ProjectState, model_name: str, app_label: str = "") -> LintedModel | None:
        """Return the model's table and state, or None when migrations do not manage a table for it."""
        app_label = app_label or self.app_label
        model_state = state.models.get((app_label, model_name.lower()))
        if model_state is None or model_state.options.get("proxy") or not model_state.options.get("managed", True):
            return None
        table = model_state.options.get("db_table") or self.truncated(f"{app_label}_{model_state.name_lower}")
        return LintedModel(table, model_state)

    def catalog_only_change(self, table: str, column: str, new_type: str) -> bool:
        """Say whether a RunSQL's new type for the column keeps its rows as they are, by the model state's old type."""
        for app_label, name in self.before.models:
            model = self.model(self.before, name, app_label)
            if model is None or model.table != table:
                continue
            for field_name in model.state.fields:
                field = model.field(field_name)
                if field.concrete and field.column == column and not field.is_relation:
                    old, new = self.column_type(field), _ARRAY_SIZE.sub("[]", new_type)
                    return old == new or widens(old, new)
        return False

    def column_type(self, field: Any) -> str | None:
        """Return the field's column type as Django writes it, an array's size left out (PostgreSQL ignores it)."""
        written = field.db_type(self.connection)
        return _ARRAY_SIZE.sub("[]", written) if written else written

    def truncated(self, name: str) -> str:
        return truncate_name(name, self.connection.ops.max_name_length())

    def referencing_tables(self, state: ProjectState, model: LintedModel) -> Iterator[str]:
        """Yield the tables whose foreign keys (automatic many-to-many tables' included) hold model's primary key."""
        for field_name, field in model.state.fields.items():  # the model's own join tables hold it too
            if field.many_to_many and getattr(field.remote_field, "through", None) is None:
                yield getattr(field, "db_table", None) or self.truncated(f"{model.table}_{field_name}")
        target = f"{self.app_label}.{model.state.name_lower}"
        for (app_label, name), other in state.models.items():
            for field_name, field in other.fields.items():
                remote = getattr(field.remote_field, "model", None) if field.is_relation else None
                if remote is None or (getattr(field, "to_fields", None) or [None])[0] is not None:
                    continue  # not a relation, or one to another unique column
                key = remote.lower() if isinstance(remote, str) else remote._meta.label_lower
                key = f"{app_label}.{name}" if key == "self" else key if "." in key else f"{app_label}.{key}"
                owner = self.model(state, name, app_label)
                if key != target or owner is None:
                    continue
                if not field.many_to_many:
                    yield owner.table
                elif getattr(field.remote_field, "through", None) is None:  # the automatic join table
                    yield field.db_table or self.truncated(f"{owner.table}_{field_name}")

    def removed_field(self, model: LintedModel, name: str, line: int | None) -> Iterator[Finding]:
        field = model.field(name)
        if field.many_to_many:
            if not field.remote_field.through:  # an automatic join table goes with the field
                table = field.db_table or truncate_name(f"{model.table}_{name}", self.connection.ops.max_name_length())
                yield self.drop_table(table, f" (the many-to-many {name})", line)
        elif field.concrete:
            yield self.drop_column(model.table, field.column, line)

    def added_field(self, op: Any, model: LintedModel, line: int | None) -> Iterator[Any]:
        field = model.field(op.name)
        if field.many_to_many or not field.concrete:
            return
        yield SquawkOverride(("ban-drop-default",), DEFAULT_DROPPED)
        yield SquawkOverride(("prefer-text-field",), VARCHAR_LENGTH)
        yield from self.value_integer(field, f"{model.table}.{field.column}")
        if not field.is_relation and field.db_type(self.connection) == "json":
            yield self.json_column(model.table, field.column, line)
        if not self.alters(model.table):
            return
        target = f"{model.table}.{field.column}"
        python_default = _effective_default(op.field)
        in_database = op.field.db_default is not NOT_PROVIDED
        if not field.null and not field.generated and not in_database:
            if python_default is None:
                yield self.not_null_added(model.table, field.column, line)
            else:
                message = (
                    f"Adds {target} NOT NULL with a default Django sets only to fill the existing rows, then drops: "
                    "processes still running the old model insert without the column and fail with a NOT NULL "
                    "violation until every one of them runs the new code."
                )
                yield self.finding(
                    "add_field_python_default", Severity.WARNING, target, message, PYTHON_DEFAULT_HELP, line
                )
        if field.unique and python_default is not None and not in_database:
            message = (
                f"Adds {target} unique with a default Django computes once (a callable too) and writes into every "
                "existing row (about {rows}): the unique constraint fails from the second, and so does the migration."
            )
            yield self.sized("migration_fails", Severity.CRITICAL, model.table, message, UNIQUE_DEFAULT_HELP, line, 2)
        if field.generated and field.db_persist:
            what = f"Adding the stored generated column {target}"
            yield self.rewrite(model.table, what, line, atomic=True, help=ADDED_COLUMN_REWRITE_HELP)
        elif in_database and (volatile := self.volatile_functions(op.field.db_default)):
            what = f"Adding {target} with a volatile default ({', '.join(volatile)}: a value per row)"
            yield self.rewrite(model.table, what, line, atomic=True, help=ADDED_COLUMN_REWRITE_HELP)
        elif in_database:
            yield SquawkOverride(("adding-field-with-default",), STABLE_DEFAULT)
        if field.many_to_one and field.db_constraint and (python_default is not None or in_database):
            # Added with its column, a key is checked against the existing rows only when the column gives them a
            # value: all NULL, PostgreSQL reads nothing.
            yield from self.foreign_key(
                model.table,
                f"on {target}",
                self.line_of(_foreign_key(self.written(field.column)), line),
                with_column=True,
            )
        if field.db_index or field.unique:  # unique: ALTER TABLE … ADD CONSTRAINT, which reads wait for too
            index_line = self.line_of(_index_built(self.written(field.column)), line)
            yield from self.blocking_index(model.table, f"the index of {target}", index_line, constraint=field.unique)

    def volatile_functions(self, expression: Any) -> list[str]:
        """Return the volatile functions an expression calls (catalog's word), e.g. gen_random_uuid."""
        names, pending = set(), [expression]
        while pending:
            node = pending.pop()
            function = getattr(node, "function", None) or (getattr(node, "extra", None) or {}).get("function")
            called = _TEMPLATE_CALL.match(str(getattr(node, "template", "") or "")) if not function else None
            if isinstance(function, str) and function:
                names.add(function)
            elif called:  # a Func written as a template only, e.g. RandomUUID's "GEN_RANDOM_UUID()"
                names.add(called.group(1))
            if hasattr(node, "get_source_expressions"):
                pending.extend(e for e in node.get_source_expressions() if e is not None)
        return self.volatile(names)

    def altered_field(
        self, old: Any, new: Any, table: str, line: int | None, *, before: ProjectState, model: LintedModel
    ) -> Iterator[Any]:
        target = f"{table}.{new.column}"
        # An array's declared size is not enforced nor stored per value: integer[3] and integer[] are one type.
        old_db, new_db = (None, None) if new.is_relation else (self.column_type(old), self.column_type(new))
        if widens(old_db, new_db):
            yield SquawkOverride(("changing-column-type", "prefer-text-field"), WIDENED.format(old=old_db, new=new_db))
        elif old_db and old_db == new_db and getattr(old, "db_collation", None) == getattr(new, "db_collation", None):
            yield SquawkOverride(("changing-column-type", "prefer-text-field"), SAME_TYPE.format(type=new_db))
        elif old_db and old_db == new_db:  # the collation alone: its indexes are built again, its rows stay
            yield SquawkOverride(("changing-column-type", "prefer-text-field"), COLLATION_ONLY.format(type=new_db))
            if new.db_index or new.unique:
                what = f"the index of {target} again (new collation)"
                yield from self.blocking_index(table, what, line, constraint=True)
        elif old.is_relation and new.is_relation and same_target(old, new, self.app_label):
            yield SquawkOverride(("changing-column-type",), SAME_TYPE.format(type="its target's"))
        if not old.null and new.null:
            yield SquawkOverride(("ban-drop-not-null",), NULL_ALLOWED)
        yield from self.value_integer(new, target)
        if new_db == "json" and old_db != "json":
            yield self.json_column(table, new.column, line)
        if not self.alters(table):
            return
        old_type, new_type = self.vector_type(old), self.vector_type(new)
        resized = bool(old_type and new_type and old_type[1] != new_type[1])  # its own finding, below
        if old_db and new_db and old_db != new_db and not widens(old_db, new_db) and not resized:
            what = f"Changing {target} from {old_db} to {new_db}"
            yield self.rewrite(table, what, line, atomic=True, help=TYPE_CHANGE_HELP)
            if new.primary_key:
                for referencing in sorted(set(self.referencing_tables(before, model))):
                    if self.alters(referencing):
                        also = f"{what} (its primary key, referenced here)"
                        yield self.rewrite(referencing, also, line, atomic=True, help=TYPE_CHANGE_HELP)
        if old_type and new_type and resized:
            message = (
                f"Changes {target} from {old_type[0]}({old_type[1]}) to {new_type[0]}({new_type[1]}): the ALTER "
                "rewrites the table under an ACCESS EXCLUSIVE lock, fails on every stored vector of the old size, "
                "and rebuilds its ANN indexes inside the lock."
            )
            yield self.finding("vector_dimensions_changed", Severity.CRITICAL, target, message, DIMENSIONS_HELP, line)
        if new.many_to_one and new.db_constraint and not (old.many_to_one and old.db_constraint):
            yield from self.foreign_key(
                table, f"on {target}", self.line_of(_foreign_key(self.written(new.column)), line)
            )
        if old.null and not new.null:
            backfilled = new.has_default() or new.has_db_default()  # Django's UPDATE … WHERE col IS NULL
            yield from self.not_null_set(
                table, new.column, self.line_of(_set_not_null(self.written(new.column)), line), backfilled=backfilled
            )
        if (new.db_index and not old.db_index) or (new.unique and not old.unique):
            unique = new.unique and not old.unique
            yield from self.blocking_index(
                table,
                f"the index of {target}",
                self.line_of(_index_built(self.written(new.column)), line),
                constraint=unique,
            )

    def small_integer(self, field: Any) -> bool:
        return not field.is_relation and (field.db_type(self.connection) or "") in SMALL_INTEGERS

    def value_integer(self, field: Any, target: str) -> Iterator[SquawkOverride]:
        rules = ("prefer-bigint-over-int", "prefer-bigint-over-smallint")
        if self.small_integer(field) and not field.primary_key and not field.is_relation:
            yield SquawkOverride(rules, VALUE_INTEGER.format(what=target))
        elif field.many_to_one and self.key_type(field) in SMALL_INTEGERS:
            # A foreign key's column has the type of the key it references (auth_user's integer id): not a choice.
            yield SquawkOverride(rules, REFERENCED_INTEGER.format(what=target))

    def key_type(self, field: Any) -> str:
        """Return a foreign key's column type: the type of the key it references, read from the state before the
        migration (its fields are not rendered, so the relation is a name); "" when that model is not there."""
        target = field.remote_field.model
        label = target if isinstance(target, str) else target._meta.label_lower
        app_label, _, name = label.rpartition(".")
        referenced = self.before.models.get(((app_label or self.app_label).lower(), name.lower()))
        if referenced is None:
            return ""
        to = field.remote_field.field_name
        key = next((f for n, f in referenced.fields.items() if (n == to if to else f.primary_key)), None)
        return str(key.rel_db_type(self.connection) or "") if key is not None and not key.is_relation else ""


_TEMPLATE_CALL = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*\(")
_ARRAY_SIZE = re.compile(r"\[\d*\]")
