"""Drift rules: each difference between a live schema and the one its applied migrations build, as a Finding.

Tables, columns (type, nullability, default, identity, generation), indexes and constraints (drift_key_rules.py),
triggers and functions (drift_code_rules.py) and extensions made by hand or lost. Names are not drift: an index
or constraint the expected schema has under the same definition matches whatever it is called. Each finding's fix
says what to do, with the SQL or migration operation where there is one. services/schema/drift.py reads the two
schemas and adds the model changes.
"""

from __future__ import annotations

import keyword
import re
from collections import defaultdict
from collections.abc import Mapping

from schemaadmin.pg import ddl, identifiers, table_ddl
from schemaadmin.pg.locked import group_locked
from schemaadmin.pg.names import qualify
from schemaadmin.pg.schema import ColumnInfo, SchemaSnapshot
from schemaadmin.services.findings import Finding, Severity
from schemaadmin.services.schema.drift_code_rules import function_findings, trigger_findings, view_findings
from schemaadmin.services.schema.drift_key_rules import ADOPT, constraint_findings, drift_finding, index_findings

__all__ = ["schema_drift"]

CRITICAL, WARNING, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO  # short, for the many findings below


def _column_definition(column: ColumnInfo) -> str:
    """Return what follows the column's name in ADD COLUMN: its type and clauses, as the server writes them."""
    definition = column.type
    if column.identity:
        definition += f" GENERATED {column.identity.upper()} AS IDENTITY"
    elif column.generated:
        definition += f" GENERATED ALWAYS AS ({column.generated}) STORED"
    elif column.default is not None:
        definition += f" DEFAULT {column.default}"
    return definition + (" NOT NULL" if column.not_null else "")


def _table_findings(
    live: SchemaSnapshot, expected: SchemaSnapshot, outside: Mapping[tuple[str, str], str]
) -> tuple[list[Finding], set[tuple[str, str]]]:
    live_tables = {(t.schema, t.name) for t in live.tables}
    expected_tables = {(t.schema, t.name) for t in expected.tables}
    findings = []
    for schema, table in sorted(expected_tables - live_tables):
        findings.append(
            drift_finding(
                "missing_table",
                CRITICAL,
                qualify(schema, table),
                f"The applied migrations create table {qualify(schema, table)}, but the database has no such table.",
                "Restore it (from a backup, or by migrating its app back before the migration that creates it and "
                "forward again, which loses nothing only if it held nothing); if it was dropped on purpose, delete "
                "the model and run makemigrations, then record that migration with manage.py migrate --fake.",
            )
        )
    unexpected = live_tables - expected_tables
    under = _partitions_under(live, unexpected)
    for (schema, table), partitions in sorted(under.items()):
        if (schema, table) in expected_tables:
            findings.append(_partitions_outside_migrations(schema, table, len(partitions)))
    for schema, table in sorted(unexpected):
        if any((schema, table) in partitions for partitions in under.values()):
            continue  # said with the table above it
        if (schema, table) in outside:
            findings.append(_table_outside_migrations(schema, table, outside[schema, table]))
            continue
        below = len(under.get((schema, table), ()))
        with_partitions = (
            f" (partitioned, with {below:,} partitions below it, which DROP TABLE drops too)" if below else ""
        )
        findings.append(
            drift_finding(
                "unexpected_table",
                WARNING,
                qualify(schema, table),
                f"Table {qualify(schema, table)}{with_partitions} exists in the database, but no applied migration "
                "creates it.",
                ADOPT.format(operation="CreateModel(...)")
                + " (or a model with managed = False).\nOr drop it (refused while a foreign key, a view or another "
                "object depends on it; the error names them, and CASCADE would drop them too): "
                + ddl.script(table_ddl.drop_table(schema, table)),
            )
        )
    return findings, live_tables & expected_tables


def _partitions_under(
    live: SchemaSnapshot, unexpected: set[tuple[str, str]]
) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Return, for each table with unexpected partitions below it, those partitions (every level down to the nearest
    table a migration creates, or to the top of the tree when none does)."""
    parents = {(t.schema, t.name): t.partition_of for t in live.tables}
    under: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for key in unexpected:
        top, parent = key, parents.get(key)
        while parent is not None and parent in parents:
            top = parent
            if parent not in unexpected:
                break  # a table the migrations create: the partitions below it are said with it
            parent = parents.get(parent)
        if top != key:
            under[top].add(key)
    return under


def _partitions_outside_migrations(schema: str, table: str, count: int) -> Finding:
    named = qualify(schema, table)
    return drift_finding(
        "partitions_outside_migrations",
        INFO,
        named,
        f"Partitioned table {named} has {count:,} partition{'s' if count != 1 else ''} below it that no "
        "applied migration creates (made by hand, a scheduled job or a partition manager): they are not compared.",
        "Nothing to fix if partitions are made outside the migrations. Their indexes and constraints come from "
        f"{named}'s, which are compared.",
    )


def _table_outside_migrations(schema: str, table: str, why: str) -> Finding:
    if "managed = False" in why:
        fix = (
            "Nothing to fix: Django leaves this table to whoever maintains it, and drift compares only what the "
            "migrations create (turning managed on alone creates nothing: the replay still has no such table)."
        )
    else:
        fix = (
            "Nothing to fix if the app is meant to be without migrations. To have its tables compared, give it "
            "migrations: manage.py makemigrations <app>, then manage.py migrate <app> --fake-initial (the tables "
            "exist already)."
        )
    named = qualify(schema, table)
    return drift_finding(
        "table_outside_migrations",
        INFO,
        named,
        f"Table {named} {why}: no migration creates it, so it is not compared.",
        fix,
    )


def _locked_findings(live: SchemaSnapshot, tables: set[tuple[str, str]]) -> list[Finding]:
    """Return a finding for each table tree read around a lock (pg/schema.py) that drift would have compared: the
    tables locked are not compared, the others of their tree are."""
    findings = []
    for group in group_locked([r for r in live.locked if (r.table_schema, r.table_name) in tables]):
        locked = sorted({(r.table_schema, r.table_name) for r in group.relations})
        about = qualify(group.schema, group.name)
        if (group.schema, group.name) in locked:
            what = f" ({group.what})" if group.what else ""
            subject = f"Table {about}{what} is locked by another session, {group.who}: its columns"
            compared = ""
        else:
            named = ", ".join(qualify(schema, name) for schema, name in locked[:5])
            more = f" and {len(locked) - 5:,} more" if len(locked) > 5 else ""
            subject = (
                f"{'Partition' if len(locked) == 1 else 'Partitions'} {named}{more} of {about} "
                f"{'is' if len(locked) == 1 else 'are'} locked by another session, {group.who}: their columns"
            )
            compared = f" {about} itself is compared."
        findings.append(
            drift_finding(
                "table_locked",
                INFO,
                about,
                f"{subject}, constraints and indexes are not compared (reading their defaults, constraints and "
                f"indexes would wait for the lock).{compared}",
                "Look again once the lock is released; the Activity page shows who holds it and who waits.",
            )
        )
    return findings


def _column_differences(live: ColumnInfo, expected: ColumnInfo) -> list[str]:
    differences = []
    for label, attribute in (
        ("type", "type"),
        ("default", "default"),
        ("identity", "identity"),
        ("generation expression", "generated"),
        ("collation", "collation"),
    ):
        now, wanted = getattr(live, attribute), getattr(expected, attribute)
        if now != wanted:
            differences.append(f"{label} is {now or 'none'}, migrations say {wanted or 'none'}")
    if live.not_null != expected.not_null:
        now_text = "NOT NULL" if live.not_null else "nullable"
        wanted_text = "NOT NULL" if expected.not_null else "nullable"
        differences.append(f"{now_text}, migrations say {wanted_text}")
    return differences


_DEFAULT_COLLATION = 'pg_catalog."default"'  # the type's: the database's for text types


def _column_fix(live: ColumnInfo, expected: ColumnInfo) -> str:
    where = (live.schema, live.table, live.name)
    statements: list[ddl.Statement | str] = []
    if live.type != expected.type or live.collation != expected.collation:
        # A new collation is set with the type; the column's indexes are rebuilt (its rows are not rewritten).
        collation = (expected.collation or _DEFAULT_COLLATION) if live.collation != expected.collation else None
        statements.append(table_ddl.alter_column_type(*where, expected.type, collation=collation))
    if live.default != expected.default:
        statements.append(table_ddl.set_column_default(*where, expected.default))
    if live.not_null != expected.not_null:
        statements.append(table_ddl.set_not_null(*where, expected.not_null))
    if live.identity != expected.identity or live.generated != expected.generated:
        statements.append("(identity and generation are changed by a migration of their own)")
    return (
        "Make the database match the migrations: "
        + " ".join(item if isinstance(item, str) else f"{item.text};" for item in statements)
        + "\nOr, if the database is right, change the model's field and record it with a migration whose "
        "SeparateDatabaseAndState(state_operations=[AlterField(...)], database_operations=[]) runs no SQL."
    )


def _add_field(column: str) -> str:
    """Return the AddField that adopts a column: named as the column where that is a field's name (a Python
    identifier, no keyword, no double underscore), else a name made of it with the column in db_column."""
    name = re.sub(r"_+", "_", re.sub(r"\W", "_", column.lower())).strip("_")
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = f"field_{name}".rstrip("_")
    if name == column:
        return f"AddField(model_name=..., name={column!r}, field=...)"
    return f"AddField(model_name=..., name={name!r}, field=...(..., db_column={column!r}))"


def _column_findings(live: SchemaSnapshot, expected: SchemaSnapshot, tables: set[tuple[str, str]]) -> list[Finding]:
    live_columns = {(c.schema, c.table, c.name): c for c in live.columns if (c.schema, c.table) in tables}
    expected_columns = {(c.schema, c.table, c.name): c for c in expected.columns if (c.schema, c.table) in tables}
    findings = []
    for key in sorted(expected_columns.keys() - live_columns.keys()):
        column = expected_columns[key]
        findings.append(
            drift_finding(
                "missing_column",
                CRITICAL,
                qualify(*key),
                f"The applied migrations add column {column.name} ({column.type}) to {column.qualified_table}, but "
                "the database has no such column: queries that read it fail.",
                ddl.script(table_ddl.add_column(column.schema, column.table, column.name, _column_definition(column)))
                + " (on a big table add it nullable, backfill, then SET NOT NULL)",
            )
        )
    for key in sorted(live_columns.keys() - expected_columns.keys()):
        column = live_columns[key]
        blocks_inserts = column.not_null and column.default is None and not column.identity and not column.generated
        findings.append(
            drift_finding(
                "unexpected_column",
                CRITICAL if blocks_inserts else WARNING,
                qualify(*key),
                f"Column {column.name} ({column.type}"
                + (", NOT NULL" if column.not_null else "")
                + (f", default {column.default}" if column.default else "")
                + f") exists on {column.qualified_table}, but no applied migration adds it."
                + (
                    " It is NOT NULL without a default, so every INSERT from the application fails."
                    if blocks_inserts
                    else ""
                ),
                ADOPT.format(operation=_add_field(column.name))
                + f".\nOr drop it: {ddl.script(table_ddl.drop_column(column.schema, column.table, column.name))}",
            )
        )
    for key in sorted(live_columns.keys() & expected_columns.keys()):
        now, wanted = live_columns[key], expected_columns[key]
        differences = _column_differences(now, wanted)
        if not differences:
            continue
        severe = now.type != wanted.type or (now.not_null and not wanted.not_null) or now.generated != wanted.generated
        findings.append(
            drift_finding(
                "column_mismatch",
                CRITICAL if severe else WARNING,
                qualify(*key),
                f"Column {now.name} of {now.qualified_table} differs from the migrations: "
                + "; ".join(differences)
                + ".",
                _column_fix(now, wanted),
            )
        )
    return findings


def _comment_findings(live: SchemaSnapshot, expected: SchemaSnapshot, tables: set[tuple[str, str]]) -> list[Finding]:
    """A table's or a column's comment (db_table_comment, db_comment) that is not the migrations': info, no harm."""
    # Keyed (schema, table, column), the column None for the table itself.
    now_said: dict[tuple[str, str, str | None], str | None] = {(t.schema, t.name, None): t.comment for t in live.tables}
    now_said.update({(c.schema, c.table, c.name): c.comment for c in live.columns})
    wanted_said: dict[tuple[str, str, str | None], str | None] = {
        (t.schema, t.name, None): t.comment for t in expected.tables
    }
    wanted_said.update({(c.schema, c.table, c.name): c.comment for c in expected.columns})
    described = [
        (key, now_said[key], wanted)
        for key, wanted in wanted_said.items()
        if (key[0], key[1]) in tables and key in now_said
    ]
    findings = []
    for (schema, table, column), now, wanted in described:
        if now == wanted:
            continue
        about = qualify(*(part for part in (schema, table, column) if part))
        what = f"Column {column} of {qualify(schema, table)}" if column else f"Table {qualify(schema, table)}"
        findings.append(
            drift_finding(
                "comment_mismatch",
                INFO,
                about,
                f"{what} is described as {identifiers.literal(now) if now else 'nothing'}; the migrations say "
                f"{identifiers.literal(wanted) if wanted else 'nothing'}.",
                f"Describe it as the migrations do: {ddl.script(table_ddl.comment_on(schema, table, column, wanted))}",
            )
        )
    return findings


def _extension_findings(live: SchemaSnapshot, expected: SchemaSnapshot) -> list[Finding]:
    live_versions = {e.name: e.version for e in live.extensions}
    expected_versions = {e.name: e.version for e in expected.extensions}
    findings = []
    for name in sorted(expected_versions.keys() - live_versions.keys()):
        findings.append(
            drift_finding(
                "missing_extension",
                CRITICAL,
                name,
                f"The applied migrations create extension {name}, but the database does not have it.",
                ddl.script(table_ddl.create_extension(name)),
            )
        )
    for name in sorted(live_versions.keys() - expected_versions.keys()):
        findings.append(
            drift_finding(
                "unexpected_extension",
                INFO,
                name,
                f"Extension {name} {live_versions[name]} is installed, but no applied migration creates it.",
                "Adopt it with a migration running django.contrib.postgres.operations.CreateExtension("
                f"{name!r}) (a no-op where it exists).\n"
                f"Or drop it if nothing uses it: {ddl.script(table_ddl.drop_extension(name))}",
            )
        )
    for name in sorted(live_versions.keys() & expected_versions.keys()):
        if live_versions[name] != expected_versions[name]:
            findings.append(
                drift_finding(
                    "extension_version_mismatch",
                    INFO,
                    name,
                    f"Extension {name} is at version {live_versions[name]}; a fresh database gets "
                    f"{expected_versions[name]}.",
                    ddl.script(table_ddl.update_extension(name)) + " (read the extension's upgrade notes first)",
                )
            )
    return findings


def schema_drift(
    live: SchemaSnapshot, expected: SchemaSnapshot, *, outside: Mapping[tuple[str, str], str] | None = None
) -> list[Finding]:
    """Return the differences between a live schema and the one the migrations build.

    outside maps the tables models name but no migration creates (apps without migrations, managed = False) to
    why: such a table is named as such, never offered to be dropped.
    """
    findings, tables = _table_findings(live, expected, outside or {})
    findings += _locked_findings(live, tables)
    tables -= live.locked_tables  # their defaults, constraints and indexes were not read: nothing to compare
    findings += _column_findings(live, expected, tables)
    findings += _comment_findings(live, expected, tables)
    constraints = constraint_findings(live, expected, tables)
    # An index a missing constraint's fix adopts (USING INDEX) is not also offered to be dropped as unexpected.
    adopted = {f.index for f in constraints if f.code == "missing_constraint" and f.index}
    findings += [f for f in index_findings(live, expected, tables) if f.object not in adopted]
    findings += constraints
    findings += _extension_findings(live, expected)
    findings += trigger_findings(live, expected, tables)
    findings += function_findings(live, expected)
    findings += view_findings(live, expected)
    return findings
