"""Drift rules of the schema's code: the triggers on the compared tables, the functions and the views of the
compared schemas, live against the migrations' replay (pg/schema_code.py reads them). A trigger is paired by its
table and name, a function by its schema, name and arguments, a view by its schema and name; each left over on
either side, or paired but written or firing otherwise, is a Finding whose fix is the statement that puts back what
the migrations made."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping

from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.names import qualify
from schemaadmin.pg.schema import SchemaSnapshot
from schemaadmin.pg.schema_code import FunctionInfo, TriggerInfo, ViewInfo
from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.drift_key_rules import drift_finding

__all__ = ["function_findings", "trigger_findings", "view_findings"]

RUN_SQL = "migrations.RunSQL(<the CREATE statement>, <its DROP>)"


def _compared[Code: (TriggerInfo, FunctionInfo, ViewInfo)](
    found: Mapping[Hashable, Code],
    made: Mapping[Hashable, Code],
    *,
    missing: Callable[[Code], Finding],
    unexpected: Callable[[Code], Finding],
    changed: Callable[[Code, Code], Iterable[Finding]],
) -> list[Finding]:
    """Return the findings of the objects the migrations make and the database lacks, of those it has and they do
    not make, and of each pair of the same key: by key, for a stable order."""
    findings = [missing(made[key]) for key in sorted(made.keys() - found.keys(), key=repr)]
    findings += [unexpected(found[key]) for key in sorted(found.keys() - made.keys(), key=repr)]
    for key in sorted(found.keys() & made.keys(), key=repr):
        findings += changed(found[key], made[key])
    return findings


def trigger_findings(
    live: SchemaSnapshot, expected: SchemaSnapshot, tables: Collection[tuple[str, str]]
) -> list[Finding]:
    """Return the triggers missing, unexpected, written otherwise or firing otherwise on the tables compared."""
    return _compared(
        {(t.schema, t.table, t.name): t for t in live.triggers if (t.schema, t.table) in tables},
        {(t.schema, t.table, t.name): t for t in expected.triggers if (t.schema, t.table) in tables},
        missing=_missing_trigger,
        unexpected=_unexpected_trigger,
        changed=_trigger_changes,
    )


def function_findings(live: SchemaSnapshot, expected: SchemaSnapshot) -> list[Finding]:
    """Return the functions missing, unexpected or written otherwise in the schemas compared."""
    return _compared(
        {(f.schema, f.name, f.arguments): f for f in live.functions},
        {(f.schema, f.name, f.arguments): f for f in expected.functions},
        missing=_missing_function,
        unexpected=_unexpected_function,
        changed=_function_changes,
    )


def view_findings(live: SchemaSnapshot, expected: SchemaSnapshot) -> list[Finding]:
    """Return the views missing, unexpected or written otherwise in the schemas compared."""
    return _compared(
        {(v.schema, v.name): v for v in live.views},
        {(v.schema, v.name): v for v in expected.views},
        missing=_missing_view,
        unexpected=_unexpected_view,
        changed=_view_changes,
    )


def _about(trigger: TriggerInfo) -> str:
    return qualify(trigger.schema, trigger.table, trigger.name)


def _missing_trigger(trigger: TriggerInfo) -> Finding:
    return drift_finding(
        "missing_trigger",
        Severity.CRITICAL,
        _about(trigger),
        f"The applied migrations create trigger {trigger.name} on {trigger.qualified_table}, but the database has "
        "no such trigger: what it does on each change of the table is not done.",
        ddl.script(table_ddl.create_from_catalog(trigger.definition)),
    )


def _unexpected_trigger(trigger: TriggerInfo) -> Finding:
    drop = table_ddl.drop_trigger(trigger.schema, trigger.table, trigger.name)
    named = f"Trigger {trigger.name} on {trigger.qualified_table}"
    return _unexpected("unexpected_trigger", Severity.WARNING, _about(trigger), named, drop, f": {trigger.definition}")


def _unexpected(code: str, severity: Severity, about: str, named: str, drop: ddl.Statement, said: str = "") -> Finding:
    """Return the finding of an object the database has and no applied migration makes: adopt it, or drop it."""
    return drift_finding(
        code,
        severity,
        about,
        f"{named} is in the database, but no applied migration creates it{said or '.'}",
        f"Adopt it with a migration running {RUN_SQL}.\nOr drop it if nothing needs it: {ddl.script(drop)}",
    )


def _trigger_changes(trigger: TriggerInfo, wanted: TriggerInfo) -> list[Finding]:
    findings = []
    if trigger.definition != wanted.definition:
        drop = table_ddl.drop_trigger(trigger.schema, trigger.table, trigger.name)
        findings.append(
            drift_finding(
                "trigger_mismatch",
                Severity.WARNING,
                _about(trigger),
                f"Trigger {trigger.name} on {trigger.qualified_table} is defined differently from the migrations. "
                f"Database: {trigger.definition}. Migrations: {wanted.definition}.",
                "Put back the migrations' trigger, in one transaction: "
                + ddl.script(drop, table_ddl.create_from_catalog(wanted.definition)),
            )
        )
    if trigger.firing != wanted.firing:
        enable = table_ddl.set_trigger_firing(trigger.schema, trigger.table, trigger.name, wanted.firing)
        findings.append(
            drift_finding(
                "trigger_firing",
                Severity.CRITICAL if trigger.firing == "disabled" else Severity.WARNING,
                _about(trigger),
                f"Trigger {trigger.name} on {trigger.qualified_table} is {trigger.firing}; the migrations leave it "
                f"{wanted.firing}.",
                ddl.script(enable),
            )
        )
    return findings


def _missing(code: str, about: str, named: str, failing: str, create: ddl.Statement) -> Finding:
    """Return the critical finding of code the migrations make and the database lacks: make it again."""
    return drift_finding(
        code,
        Severity.CRITICAL,
        about,
        f"The applied migrations create {named}, but the database has no such {failing}.",
        ddl.script(create),
    )


def _missing_function(function: FunctionInfo) -> Finding:
    named = f"function {function.signature}"
    create = table_ddl.create_from_catalog(function.definition)
    failing = "function: whatever calls it (a trigger, a default, a query) fails"
    return _missing("missing_function", function.signature, named, failing, create)


def _unexpected_function(function: FunctionInfo) -> Finding:
    drop = table_ddl.drop_function(function.schema, function.name, function.arguments)
    return _unexpected("unexpected_function", Severity.INFO, function.signature, f"Function {function.signature}", drop)


def _function_changes(function: FunctionInfo, wanted: FunctionInfo) -> list[Finding]:
    if function.definition == wanted.definition:
        return []
    return [
        drift_finding(
            "function_mismatch",
            Severity.WARNING,
            function.signature,
            f"Function {function.signature} is defined differently from the migrations.",
            "Put back the migrations' definition: " + ddl.script(table_ddl.create_from_catalog(wanted.definition)),
        )
    ]


def _create_view(view: ViewInfo, *, replace: bool = False) -> ddl.Statement:
    return table_ddl.create_view(
        view.schema, view.name, view.definition, materialized=view.materialized, options=view.options, replace=replace
    )


def _drop_view(view: ViewInfo) -> ddl.Statement:
    return table_ddl.drop_view(view.schema, view.name, materialized=view.materialized)


def _query(view: ViewInfo) -> str:
    """Return the view's query on one line, as a message quotes it."""
    return " ".join(view.definition.split()).removesuffix(";")


def _missing_view(view: ViewInfo) -> Finding:
    named = f"{view.kind} {view.qualified_name}"
    return _missing("missing_view", view.qualified_name, named, "relation: whatever reads it fails", _create_view(view))


def _unexpected_view(view: ViewInfo) -> Finding:
    named = f"{view.kind.capitalize()} {view.qualified_name}"
    return _unexpected("unexpected_view", Severity.INFO, view.qualified_name, named, _drop_view(view))


def _view_changes(view: ViewInfo, wanted: ViewInfo) -> list[Finding]:
    if (view.materialized, view.definition, view.options) == (wanted.materialized, wanted.definition, wanted.options):
        return []
    differences = []
    if view.materialized != wanted.materialized:
        differences.append(f"it is a {view.kind}, the migrations make a {wanted.kind}")
    if view.definition != wanted.definition:
        differences.append(f"its query is “{_query(view)}”, the migrations' “{_query(wanted)}”")
    if view.options != wanted.options:
        differences.append(
            f"its options are ({', '.join(view.options) or 'none'}), the migrations' "
            f"({', '.join(wanted.options) or 'none'})"
        )
    if view.materialized or wanted.materialized:
        # No OR REPLACE for a materialized view, nor between a view and a materialized one.
        fix = "Put back the migrations' view, in one transaction: " + ddl.script(_drop_view(view), _create_view(wanted))
    else:
        # OR REPLACE keeps its grants and the views on it; it fails, changing nothing, if its columns would change.
        fix = "Put back the migrations' query: " + ddl.script(_create_view(wanted, replace=True))
    return [
        drift_finding(
            "view_mismatch",
            Severity.WARNING,
            view.qualified_name,
            f"{view.kind.capitalize()} {view.qualified_name} is defined differently from the migrations: "
            + "; ".join(differences)
            + ".",
            fix,
        )
    ]
