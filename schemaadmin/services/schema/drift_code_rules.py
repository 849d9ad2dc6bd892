"""Drift rules of the schema's code: the triggers on the compared tables and the functions of the compared schemas,
live against the migrations' replay (pg/schema_code.py reads them). A trigger is paired by its table and name, a
function by its schema, name and arguments; each left over on either side, or paired but written or firing
otherwise, is a Finding whose fix is the statement that puts back what the migrations made."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping

from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.schema import SchemaSnapshot
from schemaadmin.pg.schema_code import FunctionInfo, TriggerInfo
from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.drift_key_rules import drift_finding

__all__ = ["function_findings", "trigger_findings"]

RUN_SQL = "migrations.RunSQL(<the CREATE statement>, <its DROP>)"


def _compared[Code: (TriggerInfo, FunctionInfo)](
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


def _about(trigger: TriggerInfo) -> str:
    return f"{trigger.qualified_table}.{trigger.name}"


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


def _missing_function(function: FunctionInfo) -> Finding:
    return drift_finding(
        "missing_function",
        Severity.CRITICAL,
        function.signature,
        f"The applied migrations create function {function.signature}, but the database has no such function: "
        "whatever calls it (a trigger, a default, a query) fails.",
        ddl.script(table_ddl.create_from_catalog(function.definition)),
    )


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
