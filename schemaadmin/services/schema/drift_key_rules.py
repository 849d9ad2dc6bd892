"""Drift rules of the indexes and constraints: those of the live schema paired with the migrations' by definition
(their names aside), each left over on either side a Finding with the SQL that fixes it (services/schema/drift_rules.py
holds the other rules and runs them all)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace

from schemaadmin.pg import ddl, identifiers, table_ddl
from schemaadmin.pg.index_builds import temporary_index_name
from schemaadmin.pg.names import qualify
from schemaadmin.pg.schema import ConstraintInfo, SchemaIndex, SchemaSnapshot
from schemaadmin.services.findings import Finding, Kind, Severity

__all__ = ["ADOPT", "constraint_findings", "drift_finding", "index_findings", "unmatched"]

CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING

ADOPT = (
    "Adopt it: describe it in the model and write a migration whose SeparateDatabaseAndState("
    "state_operations=[{operation}], database_operations=[]) records it without running any SQL"
)


def drift_finding(code: str, severity: Severity, about: str, message: str, fix: str) -> Finding:
    """Return a drift Finding; fix says what to do, with the SQL or migration operation where there is one."""
    return Finding(code, severity, Kind.DRIFT, about, message, fix)


def swap_in(index: SchemaIndex, wanted: SchemaIndex) -> str:
    """Return the statements that build wanted under a new name, then drop index and rename: never without one."""
    temporary = temporary_index_name(index.name)
    return ddl.script(
        ddl.create_index(ddl.index_definition_of(wanted, name=temporary)),
        ddl.drop_index(index.schema, index.name),
        ddl.rename_index(index.schema, temporary, index.name),
    )


def unmatched[T](
    live: Iterable[T], expected: Iterable[T], key: Callable[[T], Hashable], name: Callable[[T], str] | None = None
) -> tuple[list[T], list[T]]:
    """Pair objects of equal key (several of a key pair one to one, those of the same name first); return those
    left on each side. By name first: of two live indexes alike, the migration's and a copy made by hand, the copy
    is the one left over (the migration's was called unexpected, and its drop offered)."""
    pending: dict[Hashable, list[T]] = defaultdict(list)
    for item in expected:
        pending[key(item)].append(item)
    unpaired = []
    for item in live:
        same = [c for c in pending.get(key(item), ()) if name is not None and name(c) == name(item)]
        if same:
            pending[key(item)].remove(same[0])
        else:
            unpaired.append(item)
    extra = []
    for item in unpaired:
        if pending.get(key(item)):
            pending[key(item)].pop()
        else:
            extra.append(item)
    return extra, [item for items in pending.values() for item in items]


def index_findings(live: SchemaSnapshot, expected: SchemaSnapshot, tables: set[tuple[str, str]]) -> list[Finding]:
    # Indexes that enforce a primary key, unique or exclusion constraint are compared as those constraints.
    def plain(indexes: Sequence[SchemaIndex]) -> list[SchemaIndex]:
        return [i for i in indexes if i.constraint is None and (i.schema, i.table) in tables]

    extra, missing = unmatched(
        plain(live.indexes), plain(expected.indexes), lambda i: (i.schema, i.table, i.shape), lambda i: i.name
    )
    missing_by_name = {(i.schema, i.name): i for i in missing}
    findings = []
    for index in extra:
        wanted = missing_by_name.pop((index.schema, index.name), None)
        drop = ddl.script(ddl.drop_index(index.schema, index.name))
        if wanted is not None:
            findings.append(
                drift_finding(
                    "index_mismatch",
                    WARNING,
                    index.qualified_name,
                    f"Index {index.qualified_name} is defined differently from the migrations. Database: "
                    f"{index.definition}. Migrations: {wanted.definition}.",
                    "Rebuild it as the migrations say, the new one built before the old one is dropped so queries "
                    f"keep an index:\n{swap_in(index, wanted)}\nOr, if the "
                    "database is right, change the model's index and record it with SeparateDatabaseAndState("
                    "state_operations=[RemoveIndex(...), AddIndex(...)], database_operations=[]).",
                )
            )
            continue
        invalid = "" if index.is_valid else " It is INVALID (a failed or interrupted concurrent build)."
        findings.append(
            drift_finding(
                "unexpected_index",
                WARNING,
                index.qualified_name,
                f"Index {index.qualified_name} on {index.qualified_table} exists in the database, but no applied "
                f"migration creates it: {index.definition}.{invalid}",
                ADOPT.format(operation="AddIndex(model_name=..., index=models.Index(...))") + f".\nOr drop it: {drop}",
            )
        )
    for index in missing_by_name.values():
        findings.append(
            drift_finding(
                "missing_index",
                CRITICAL if index.is_unique else WARNING,
                index.qualified_name,
                f"The applied migrations create index {index.qualified_name} on {index.qualified_table}, but the "
                f"database has no index defined as {index.definition}.",
                f"Create it without blocking writes: {ddl.script(ddl.create_index(ddl.index_definition_of(index)))}",
            )
        )
    return findings


# How pg_get_constraintdef() ends a deferrable constraint's text (INITIALLY IMMEDIATE is the default, not written).
_DEFERRAL = re.compile(r" DEFERRABLE( INITIALLY DEFERRED)?$")


def constraint_findings(live: SchemaSnapshot, expected: SchemaSnapshot, tables: set[tuple[str, str]]) -> list[Finding]:
    def ours(constraints: Sequence[ConstraintInfo]) -> list[ConstraintInfo]:
        return [c for c in constraints if (c.schema, c.table) in tables]

    # A check the database has as PostgreSQL writes the migrations' text once parsed again (restored from pg_dump,
    # or added by the fix below) is the migrations' check: compared as the database has it.
    live_text = {(c.schema, c.table, c.name): c.definition for c in live.constraints}
    reparsed = {(schema, table, name): text for schema, table, name, text in expected.checks_reparsed}

    def as_live_writes(wanted: ConstraintInfo) -> ConstraintInfo:
        again, found = reparsed.get(key := (wanted.schema, wanted.table, wanted.name)), live_text.get(key)
        if again is not None and found in (again, f"{again} NOT VALID"):
            return replace(wanted, definition=again)
        return wanted

    extra, missing = unmatched(
        ours(live.constraints),
        [as_live_writes(c) for c in ours(expected.constraints)],
        lambda c: (c.schema, c.table, c.type, c.definition),
        lambda c: c.name,
    )
    missing_by_name = {(c.schema, c.table, c.name): c for c in missing}
    findings = []
    for constraint in extra:
        drop = ddl.script(table_ddl.drop_constraint(constraint.schema, constraint.table, constraint.name))
        wanted = missing_by_name.pop((constraint.schema, constraint.table, constraint.name), None)
        if wanted is not None and constraint.definition == f"{wanted.definition} NOT VALID":
            # The migrations' constraint, added by hand NOT VALID: validating it checks the old rows, no rebuild.
            validate = ddl.script(table_ddl.validate_constraint(constraint.schema, constraint.table, constraint.name))
            findings.append(
                drift_finding(
                    "constraint_mismatch",
                    WARNING,
                    qualify(constraint.schema, constraint.table, constraint.name),
                    f"Constraint {constraint.name} on {constraint.qualified_table} is NOT VALID: the rows from "
                    f"before it was added were never checked against {wanted.definition}.",
                    f"Validate it (it reads the table under a SHARE UPDATE EXCLUSIVE lock: reads and writes go on): "
                    f"{validate}",
                )
            )
            continue
        if wanted is not None:
            findings.append(
                drift_finding(
                    "constraint_mismatch",
                    CRITICAL,
                    qualify(constraint.schema, constraint.table, constraint.name),
                    f"Constraint {constraint.name} on {constraint.qualified_table} is {constraint.definition}; the "
                    f"migrations say {wanted.definition}.",
                    f"Replace it as the migrations say: {drop} "
                    + ddl.script(table_ddl.add_constraint(wanted.schema, wanted.table, wanted.name, wanted.definition)),
                )
            )
            continue
        findings.append(
            drift_finding(
                "unexpected_constraint",
                WARNING,
                qualify(constraint.schema, constraint.table, constraint.name),
                f"{constraint.type.capitalize()} constraint {constraint.name} on {constraint.qualified_table} "
                f"exists in the database, but no applied migration creates it: {constraint.definition}.",
                ADOPT.format(operation="AddConstraint(model_name=..., constraint=...)") + f".\nOr drop it: {drop}",
            )
        )
    live_indexes = {(i.schema, i.name): i for i in live.indexes}
    for constraint in missing_by_name.values():
        said = (
            f"The applied migrations create {constraint.type} constraint {constraint.name} on "
            f"{constraint.qualified_table} ({constraint.definition})"
        )
        add = table_ddl.add_constraint(constraint.schema, constraint.table, constraint.name, constraint.definition)
        message = f"{said}, but the database does not have it."
        fix = (
            f"{ddl.script(add)} (for a check or foreign key on a big table add it NOT VALID, then VALIDATE CONSTRAINT)"
        )
        index = live_indexes.get((constraint.schema, constraint.name))
        adopted = None
        if (
            constraint.type in ("unique", "primary key")
            and index is not None
            and (index.table, index.is_unique, index.is_valid, index.predicate) == (constraint.table, True, True, None)
        ):
            # A unique index of that name is there (made by hand in its place): the constraint adopts it at once;
            # ADD CONSTRAINT … UNIQUE (…) would fail on the name, and build a second index under a lock.
            keyword = "PRIMARY KEY" if constraint.type == "primary key" else "UNIQUE"
            deferral = _DEFERRAL.search(constraint.definition)  # the index has none: said again, or it is lost
            using = f"{keyword} USING INDEX {identifiers.quote_identifier(index.name)}" + (
                deferral[0] if deferral else ""
            )
            adopt = table_ddl.add_constraint(constraint.schema, constraint.table, constraint.name, using)
            message = (
                f"{said}; the database has a unique index of that name ({index.definition}) but not the constraint."
            )
            fix = (
                "If the index covers the same columns, make it the constraint (no rebuild, a brief lock): "
                f"{ddl.script(adopt)}"
            )
            adopted = index.qualified_name
        finding = drift_finding(
            "missing_constraint", CRITICAL, qualify(constraint.schema, constraint.table, constraint.name), message, fix
        )
        findings.append(replace(finding, index=adopted) if adopted else finding)
    return findings
