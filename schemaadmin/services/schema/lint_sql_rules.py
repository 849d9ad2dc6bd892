"""Our rules on what operations do to tables, shared by Django's operations and RunSQL (read with pglast).

A RunSQL's statements go through the same size and drop rules as the operations Django writes itself, so a raw
`CREATE INDEX` or `ALTER COLUMN … SET NOT NULL` on a big table is flagged like an AddIndex or AlterField. A data
backfill (RunSQL UPDATE/DELETE/INSERT … SELECT, or RunPython) is judged at the end of the migration: in one
transaction with a schema change of the same table it holds that table's ACCESS EXCLUSIVE lock throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps

from schemaadmin.conf import app_settings
from schemaadmin.pg.functions import RoutineName, overloads
from schemaadmin.pg.names import qualify
from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.lint_base import ACCESS_EXCLUSIVE, CheckerBase, SizedFinding, SquawkOverride
from schemaadmin.services.schema.lint_help import (
    ADDED_COLUMN_REWRITE_HELP,
    BACKFILL_HELP,
    CHECK_HELP,
    CONCURRENT_ATOMIC_HELP,
    DROP_HELP,
    FOREIGN_KEY_HELP,
    GRANT_HELP,
    JSON_HELP,
    LOCK_HELP,
    NOT_NULL_HELP,
    REWRITE_HELP,
    RUN_PYTHON_HELP,
    SET_NOT_NULL_HELP,
    TIMEOUT_HELP,
    TRIGGER_HELP,
    TRUNCATE_HELP,
    TYPE_CHANGE_HELP,
    VALIDATE_HELP,
)
from schemaadmin.services.schema.raw_sql import SqlAction, run_sql_statements

# Statements PostgreSQL refuses inside a transaction block: an atomic migration holding one fails there.
CONCURRENT_KINDS = frozenset({"create_index_concurrently", "drop_index_concurrently", "reindex_concurrently"})
# What PostgreSQL refuses inside a transaction block ("cannot run inside a transaction block").
NO_TRANSACTION_KINDS = CONCURRENT_KINDS | {"vacuum"}

__all__ = ["SqlRules", "is_product_model"]

Found = Iterator[Finding | SizedFinding | SquawkOverride]


def is_product_model(app_label: str, model_name: str) -> bool:
    """Say whether a model's table is the product's (the EXPLAIN console reads it), not SchemaAdmin's own.

    The product's models are PRODUCT_MODELS and any model defined beside them (same module), plus every model of
    the apps in the PRODUCT_APPS setting.
    """
    from schemaadmin.models import PRODUCT_MODELS

    if app_label in app_settings()["PRODUCT_APPS"]:
        return True
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return False
    return model in PRODUCT_MODELS or model.__module__ in {m.__module__ for m in PRODUCT_MODELS}


class SqlRules(CheckerBase):
    def drop_table(self, table: str, what: str, line: int | None) -> Finding:
        message = f"Drops the table {table}{what} and every row in it."
        return self.finding("drop_table", Severity.WARNING, table, message, DROP_HELP, line)

    def drop_column(self, table: str, column: str, line: int | None) -> Finding:
        target = f"{table}.{column}"
        message = f"Drops the column {target} and the data in it."
        return self.finding("drop_column", Severity.WARNING, target, message, DROP_HELP, line)

    def not_null_added(self, table: str, column: str, line: int | None) -> SizedFinding:
        target = f"{table}.{column}"
        message = (
            f"Adds {target} NOT NULL without a default to a table of about {{rows}} rows: PostgreSQL refuses "
            "it, because the existing rows would have no value."
        )
        finding = self.finding("not_null_without_default", Severity.CRITICAL, target, message, NOT_NULL_HELP, line)
        return self.sized_on(table, 1, finding)

    def not_null_set(
        self, table: str, column: str, line: int | None, *, backfilled: bool = False
    ) -> Iterator[SizedFinding | SquawkOverride]:
        """backfilled: Django sets the NULL rows to the field's default first (an AlterField with a default). None
        when a CHECK (column IS NOT NULL) validated earlier in the plan proves it: PostgreSQL then scans nothing
        (one in the database is looked for when sizes are: SizedFinding.not_null_column)."""
        if (table, column) in self.plan.validated_not_null and not backfilled:
            proof = (
                f"SchemaAdmin: a CHECK ({column} IS NOT NULL) validated before it proves it; PostgreSQL reads no row."
            )
            yield SquawkOverride(("adding-not-nullable-field",), proof)
            return
        target = f"{table}.{column}"
        first = (
            " Django first sets every NULL row to the field's default, one UPDATE of the table inside the same lock."
            if backfilled
            else " It fails, and the migration with it, if any row holds NULL there."
        )
        message = (
            f"Makes {target} NOT NULL on a table of about {{rows}} rows: PostgreSQL scans all of it under an "
            f"ACCESS EXCLUSIVE lock, which blocks reads and writes.{first}"
        )
        code = "set_not_null_on_big_table"
        finding = self.finding(code, Severity.CRITICAL, target, message, SET_NOT_NULL_HELP, line)
        yield self.sized_on(table, self.big_rows, finding, not_null_column="" if backfilled else column)

    def json_column(self, table: str, column: str, line: int | None) -> Finding:
        target = f"{table}.{column}"
        message = f"Makes {target} a json column: json has no equality operator, so DISTINCT and UNION over it fail."
        return self.finding("json_column", Severity.WARNING, target, message, JSON_HELP, line)

    def catalog_only_change(self, table: str, column: str, new_type: str) -> bool:
        """Say whether changing the column to new_type rewrites nothing (unknown here: the migration rules know)."""
        return False

    def volatile(self, functions: Iterable[str]) -> list[str]:
        """Return those of the functions ("name" or "schema.name") the catalog says are volatile."""
        names = [
            RoutineName("function", *(name.split(".", 1) if "." in name else (None, name)))
            for name in sorted({f.strip().lower() for f in functions if f.strip()})
        ]
        if not names:
            return []
        found = overloads(names, using=self.connection.alias)
        return sorted({o.name for o in found if o.volatility == "v"})

    def foreign_key(
        self, table: str, what: str, line: int | None, *, with_column: bool = False
    ) -> Iterator[SizedFinding]:
        """with_column: the key comes in the ADD COLUMN that adds its column (an AddField), whose lock is stronger."""
        waits = (
            "while reads and writes of this table wait (the ADD COLUMN it is part of holds ACCESS EXCLUSIVE), and "
            "writes to the referenced one"
            if with_column
            else "while writes to this table and to the referenced one wait (SHARE ROW EXCLUSIVE)"
        )
        message = (
            f"Adds the foreign key {what} to {table} (about {{rows}} rows) without NOT VALID: PostgreSQL reads every "
            f"row to check it {waits}."
        )
        yield from self.on_big_table("foreign_key_on_big_table", table, message, FOREIGN_KEY_HELP, line)

    def check_constraint(self, table: str, what: str, line: int | None) -> Iterator[SizedFinding]:
        message = (
            f"Adds the check {what} to {table} (about {{rows}} rows): PostgreSQL checks every row under an ACCESS "
            "EXCLUSIVE lock, which blocks reads and writes until it is done."
        )
        yield from self.on_big_table("check_constraint_on_big_table", table, message, CHECK_HELP, line)

    def rewrite(
        self, table: str, what: str, line: int | None, *, atomic: bool, help: str = REWRITE_HELP
    ) -> Finding | SizedFinding:
        fails = (
            " This migration is atomic, and VACUUM cannot run inside a transaction: it fails."
            if (atomic and what.startswith("VACUUM"))
            else ""
        )
        if not table:
            message = (
                f"{what} rewrites every table it may under an ACCESS EXCLUSIVE lock, each blocking reads and "
                f"writes until it is rewritten.{fails}"
            )
            return self.finding("table_rewrite", Severity.CRITICAL, what, message, REWRITE_HELP, line)
        message = (
            f"{what} rewrites {table} (about {{rows}} rows) under an ACCESS EXCLUSIVE lock: reads and writes wait "
            f"for the whole rewrite.{fails}"
        )
        return self.sized("table_rewrite", Severity.CRITICAL, table, message, help, line, self.big_rows)

    def run_sql(self, op: Any, operation_line: int | None, *, atomic: bool) -> Found:
        # Each finding names its statement's line: every statement is looked for in order, after the header.
        searched_from = None if operation_line is None else (operation_line, 0)
        placed = []
        for statement in run_sql_statements(op.sql):
            found_at = self.statement_at(statement.first_line, searched_from)
            searched_from = found_at or searched_from
            line = operation_line if found_at is None else found_at[0]
            placed += [(line, action, statement.in_one_block) for action in statement.actions]
        for index, (line, action, in_one_block) in enumerate(placed):
            # Each statement is a step of its own: a backfill before a schema change in the same RunSQL runs before
            # that change's lock is taken, one after it under the lock.
            self.step += 1 if index else 0
            table, kind = action.db_table, action.kind
            existing = bool(table) and table not in self.created
            if (atomic or in_one_block) and kind in NO_TRANSACTION_KINDS:
                yield self.refused_in_transaction(action, line, atomic=atomic)
                continue
            if kind == "create_table":
                self.created.add(table)
            elif kind == "grant_select":
                self.granted.add((table, action.detail))
            elif kind == "drop_table":
                yield self.drop_table(qualify(action.schema, action.table) if action.schema else table, "", line)
            elif kind == "drop_column":
                dropped = qualify(action.schema, action.table) if action.schema else table
                yield self.drop_column(dropped, action.column, line)
            elif kind == "truncate":
                message = f"Empties {table}: every row is gone, and the backward migration cannot bring them back."
                yield self.finding("truncate_table", Severity.WARNING, table, message, TRUNCATE_HELP, line)
            elif kind == "add_json_column":
                yield self.json_column(table, action.column, line)
            elif kind == "timeout_off":
                message = (
                    f"Turns {action.detail} off for the rest of the run: the apply job sets it so that a migration "
                    "waiting for a lock, or running long, is stopped instead of queueing every query behind it."
                )
                yield self.finding("timeout_switched_off", Severity.WARNING, action.detail, message, TIMEOUT_HELP, line)
            elif kind == "lock_table" and not atomic:
                message = (
                    f"{action.detail} in a migration with atomic = False: each statement runs on its own, outside a "
                    'transaction, and PostgreSQL refuses LOCK TABLE there ("can only be used in transaction '
                    'blocks"), so the migration fails at this statement.'
                )
                yield self.finding("migration_fails", Severity.CRITICAL, table, message, LOCK_HELP, line)
            elif kind == "lock_table" and existing:
                message = (
                    f"Locks {table} in {action.detail.removeprefix('LOCK TABLE … IN ')} until the migration's "
                    "transaction ends: writes (and with ACCESS EXCLUSIVE, reads too) wait for all of it."
                )
                yield self.finding("table_locked", Severity.WARNING, table, message, LOCK_HELP, line)
            elif kind in ("vacuum_full", "cluster", "set_tablespace", "set_logged") and (existing or not table):
                yield self.rewrite(table, action.detail, line, atomic=atomic)
            elif kind == "add_serial_column" and existing:
                self.mark_altered(table)
                yield self.rewrite(table, f"Adding {table}.{action.column} as serial or identity", line, atomic=False)
            elif kind == "disable_trigger":
                message = (
                    f"Disables trigger {action.detail} on {table}: with ALL or USER this includes the triggers that "
                    "enforce foreign keys, so rows written meanwhile are never checked."
                )
                yield self.finding("trigger_disabled", Severity.WARNING, table, message, TRIGGER_HELP, line)
            elif kind == "backfill" and existing:
                self.backfills.append((table, action.detail, line, atomic, self.step))
            elif not existing:
                continue
            elif kind == "add_column":
                self.mark_altered(table)
            elif kind == "create_index_concurrently":
                yield from self.concurrent_index(table, action.detail, line)
            elif kind in ("create_index", "add_unique"):
                yield from self.blocking_index(table, action.detail, line, constraint=kind == "add_unique")
            elif kind == "add_exclusion":
                yield from self.exclusion(table, action.detail, line)
            elif kind == "add_check":
                yield from self.check_constraint(table, action.detail, line)
            elif kind == "add_foreign_key":
                yield from self.foreign_key(table, action.detail, line)
            elif kind == "add_not_valid":
                self.mark_altered(table)
                if action.column:
                    self.plan.not_null_checks[(table, action.detail.removeprefix("constraint "))] = action.column
            elif kind == "validate_constraint":
                if proven := self.plan.not_null_checks.get((table, action.detail.removeprefix("constraint "))):
                    self.plan.validated_not_null.add((table, proven))  # a SET NOT NULL after it reads no row
                yield from self.validation(table, action.detail, line, atomic=atomic)
            elif kind == "alter_column_type":
                self.mark_altered(table)
                if not (action.new_type and self.catalog_only_change(table, action.column, action.new_type)):
                    yield self.rewrite(table, action.detail, line, atomic=atomic, help=TYPE_CHANGE_HELP)
            elif kind == "add_column_default" and (volatile := self.volatile(action.detail.split(","))):
                self.mark_altered(table)
                what = f"Adding {table}.{action.column} with a volatile default ({', '.join(volatile)})"
                yield self.rewrite(table, what, line, atomic=atomic, help=ADDED_COLUMN_REWRITE_HELP)
            elif kind == "add_rewriting_column":
                self.mark_altered(table)
                yield self.rewrite(table, action.detail, line, atomic=atomic, help=ADDED_COLUMN_REWRITE_HELP)
            elif kind == "set_not_null":
                self.mark_altered(table)
                yield from self.not_null_set(table, action.column, line)
            elif kind == "add_not_null_column":
                self.mark_altered(table)
                yield self.not_null_added(table, action.column, line)

    def validation(self, table: str, what: str, line: int | None, *, atomic: bool) -> Iterator[SizedFinding]:
        """A VALIDATE CONSTRAINT scans the table; in the transaction that changed it, under that change's lock."""
        if not (atomic and table in self.altered):
            return
        message = (
            f"Validates {what} of {table} (about {{rows}} rows) in the transaction that changed the "
            "table: the scan runs under that change's lock (ACCESS EXCLUSIVE for a CHECK, writes blocked for "
            "a foreign key), which NOT VALID was meant to avoid."
        )
        yield from self.on_big_table("validation_under_lock", table, message, VALIDATE_HELP, line)

    def refused_in_transaction(self, action: SqlAction, line: int | None, *, atomic: bool) -> Finding:
        what = action.detail if action.kind != "create_index_concurrently" else f"CREATE {action.detail} CONCURRENTLY"
        where = (
            "in an atomic migration"
            if atomic
            else "in a RunSQL list item with other statements (Django sends an item as one text, which PostgreSQL runs "
            "as one transaction block; put each statement in an item of its own)"
        )
        message = (
            f'{what} {where}: PostgreSQL refuses it inside a transaction block ("cannot run inside a transaction '
            'block"), so the migration fails at this statement.'
        )
        return self.finding(
            "migration_fails", Severity.CRITICAL, action.db_table or what, message, CONCURRENT_ATOMIC_HELP, line
        )

    def run_python(self, op: Any, line: int | None, *, table: str | None, atomic: bool) -> None:
        """Note a RunPython: its table comes from hints={"model_name": …}, else it is any table the migration alters."""
        self.backfills.append((table or "", "RunPython", line, atomic, self.step))

    def finish(self) -> Iterator[Finding | SizedFinding]:
        """Yield what only the whole migration shows: backfills beside schema changes, tables nobody granted."""
        for table, what, line, atomic, step in self.backfills:
            tables = [table] if table else sorted(self.altered) if atomic else []
            if what == "RunPython" and not tables:
                # Nothing names its table: what it writes, and how much, is in its code alone. Never "lint clean".
                message = (
                    "Runs Python the lint cannot read: which table it writes, how many rows, in one transaction or "
                    "in batches. Name its model (hints={'model_name': …}) to have it judged as a backfill of that "
                    "table, or read its code before applying it."
                )
                yield self.finding("run_python_unread", Severity.INFO, "RunPython", message, RUN_PYTHON_HELP, line)
            for target in tables:
                if target in self.created or not (atomic or "every row" in what):
                    continue
                # Locked only when the change comes first: a change after the backfill locks once the backfill is done.
                lock = self.lock_held(target, step) if atomic else None
                locked = lock is not None
                blocked = "reads and writes" if lock == ACCESS_EXCLUSIVE else "writes (reads go on)"
                message = f"{what} backfills {target} (about {{rows}} rows) " + (
                    f"in the same transaction as a schema change of it: the change's {lock} lock blocks {blocked} "
                    "until the whole backfill commits."
                    if locked
                    else "in one transaction: every row it touches stays locked against writers until it commits."
                )
                severity = Severity.CRITICAL if locked else Severity.WARNING
                yield self.sized(
                    "backfill_in_transaction", severity, target, message, BACKFILL_HELP, line, self.big_rows
                )
        role = app_settings()["EXPLAIN_ROLE"]
        for table, line in self.product_tables.items():
            if (table, role) not in self.granted:
                message = (
                    f"Creates the product table {table} without GRANT SELECT … TO {role}: the EXPLAIN console's "
                    "role cannot read it, so every query on it fails there with permission denied."
                )
                yield self.finding("product_table_without_grant", Severity.WARNING, table, message, GRANT_HELP, line)
