"""The health checks' codes, each with its severity and title, and how a health rule makes a Finding."""

from __future__ import annotations

from typing import Any

from schemaadmin.pg.names import NamedOnTable, OnTable, qualify
from schemaadmin.pg.relations import TableHealth
from schemaadmin.services.findings import Finding, Kind, Severity

__all__ = [
    "CODES",
    "Finding",
    "Severity",
    "column_finding",
    "constraint_finding",
    "database_finding",
    "finding",
    "index_finding",
    "size_text",
    "table_finding",
]


# code -> (severity, short title). The codes are a public interface (JSON output, cron alerts): never rename.
CODES: dict[str, tuple[Severity, str]] = {
    "invalid_index": (Severity.CRITICAL, "Invalid index"),
    "unused_index": (Severity.WARNING, "Unused index"),
    "duplicate_index": (Severity.WARNING, "Duplicate index"),
    "redundant_index": (Severity.INFO, "Redundant index"),
    "missing_fk_index": (Severity.WARNING, "Foreign key without an index"),
    "bloated_index": (Severity.WARNING, "Bloated index"),
    "vector_column_unindexed": (Severity.WARNING, "Vector column without an ANN index"),
    "vector_dims_unindexable": (Severity.CRITICAL, "Vector column too wide to index"),
    "ivfflat_lists_mismatch": (Severity.WARNING, "IVFFlat lists do not fit the rows"),
    "hnsw_build_memory": (Severity.WARNING, "HNSW rebuild will not fit in memory"),
    "stale_statistics": (Severity.WARNING, "Stale statistics"),
    "vacuum_overdue": (Severity.WARNING, "Vacuum overdue"),
    "sequential_scan_heavy": (Severity.INFO, "Read mostly by sequential scans"),
    # Activity (activity_rules.py): sessions and connections now, not the catalog; they link to /activity/.
    "connections_near_max": (Severity.WARNING, "Connections near max_connections"),
    "long_running_transaction": (Severity.WARNING, "Long-running transaction"),
    "idle_in_transaction": (Severity.WARNING, "Idle in transaction"),
    "index_usage_too_young": (Severity.INFO, "Index usage too young to judge"),
    "no_primary_key": (Severity.WARNING, "Table without a primary key"),
    "table_bloat": (Severity.WARNING, "Bloated table"),
    "sequence_near_max": (Severity.CRITICAL, "Sequence near its maximum"),
    "sequences_unreadable": (Severity.WARNING, "Sequences this role cannot read"),
    # Escalated to CRITICAL past XID_AGE_CRITICAL_SHARE of the hard limit.
    "xid_wraparound": (Severity.WARNING, "Transaction ID wraparound approaching"),
    "autovacuum_disabled": (Severity.WARNING, "Autovacuum switched off"),
    "inactive_replication_slot": (Severity.WARNING, "Replication slot without a consumer"),
    "extension_update_available": (Severity.INFO, "Extension behind the server's version"),
    "invalid_constraint": (Severity.WARNING, "Constraint not validated"),
    "fk_type_mismatch": (Severity.WARNING, "Foreign key type differs from its target"),
    "duplicate_foreign_key": (Severity.WARNING, "Duplicate foreign key"),
    "overlapping_foreign_key": (Severity.INFO, "Overlapping foreign key"),
    "index_on_mostly_null_column": (Severity.INFO, "Index over a mostly NULL column"),
    "needless_index_predicate": (Severity.INFO, "Index predicate that never filters"),
    "boolean_index": (Severity.INFO, "Index on a boolean column"),
    "btree_on_array_column": (Severity.WARNING, "B-tree index on an array column"),
}


def finding(code: str, *, database: str, schema: str, table: str, message: str, fix_sql: str, **where: Any) -> Finding:
    """Return a health Finding of code with its registered severity and title, about an index, a column or a table.

    where may also name a sequence (schema.sequence), a constraint (schema.table.constraint), or say about= for a
    database-wide finding (schema and table then empty); severity= (unless None) escalates the code's registered
    severity. The *_finding functions below fill these from the object a rule is about.
    """
    index, column = where.get("index"), where.get("column")
    if "about" in where:
        about = where["about"]
    elif where.get("sequence") is not None:
        about = qualify(schema, where["sequence"])
    elif where.get("constraint") is not None:
        about = qualify(schema, table, where["constraint"])
    elif index is not None:
        about = qualify(schema, index)
    elif column is not None:
        about = qualify(schema, table, column)
    else:
        about = qualify(schema, table)
    severity, title = CODES[code]
    severity = where.get("severity") or severity
    return Finding(
        code=code,
        severity=severity,
        kind=Kind.HEALTH,
        object=about,
        message=message,
        fix=copyable(fix_sql),
        title=title,
        database=database,
        schema=schema,
        table=table,
        index=index,
        column=column,
    )


# A fix holds a name that breaks its line: inside a comment ("-- to restore it: CREATE INDEX … ("a<newline>DROP …"))
# the rest of the name would run as SQL when the fix is pasted.
UNSAFE_FIX = (
    "-- No SQL to copy: a name or a value in it holds a line break, which would end a comment line early and run the "
    'rest of it as SQL.\n-- Write the statement by hand, quoting that name with U&"…" escapes.'
)


def copyable(fix_sql: str) -> str:
    """Return fix_sql, or UNSAFE_FIX when text of the database in a comment runs onto the next line (or the fix
    holds a carriage return): comments are written line by line, so a name or a string literal with a line break
    in a comment line (a table name anyone with CREATE may choose; an index predicate's constant, which the
    "to restore it" line quotes) would end the comment and run the rest as SQL when the fix is pasted.

    Outside comments, a double quote inside a string literal ('Seq"Q') opens no name, and a literal may span lines
    (a value holding a line break is still one value)."""
    if "\r" in fix_sql:
        return UNSAFE_FIX
    in_literal = False
    for line in fix_sql.split("\n"):
        in_literal, broken = _quotes_at_end(line, in_literal)
        if broken:
            return UNSAFE_FIX
    return fix_sql


def _quotes_at_end(line: str, in_literal: bool) -> tuple[bool, bool]:
    """Return whether a string literal is still open at the end of line (its text goes on), and whether the line
    breaks a quoted name, or a comment's name or literal.

    '' inside a literal and "" inside a name close and reopen it, which leaves the state as it was. A comment
    ("--" outside quotes) runs to the end of the line: a name or a literal opened in it must close on it. In a
    comment, a quote after a letter or digit is an apostrophe of the prose ("it's", "partitions'"): SQL writes a
    literal's opening quote after a space or a sign ("= 'x'", "('x')"), never after a letter."""
    in_name = in_comment = False
    previous = " "
    for position, char in enumerate(line):
        if in_literal:
            in_literal = char != "'"
        elif in_name:
            in_name = char != '"'
        elif char == "'" and not (in_comment and previous.isalnum()):
            in_literal = True
        elif char == '"':
            in_name = True
        elif not in_comment and line.startswith("--", position):
            in_comment = True
        previous = char
    if in_comment:
        return False, in_literal or in_name
    return in_literal, in_name


def _place(schema: str, table: str, **where: Any) -> dict[str, Any]:
    """Return finding()'s keywords saying where a finding is: its schema, table and what in it."""
    return {"schema": schema, "table": table, **where}


def index_finding(code: str, database: str, index: NamedOnTable, message: str, fix_sql: str) -> Finding:
    """Return a health Finding of code about index (an IndexInfo)."""
    where = _place(index.schema, index.table, index=index.name)
    return finding(code, database=database, message=message, fix_sql=fix_sql, **where)


def column_finding(code: str, database: str, on: OnTable, column: str, message: str, fix_sql: str) -> Finding:
    """Return a health Finding of code about column (one name, or several joined) of on's table."""
    where = _place(on.schema, on.table, column=column)
    return finding(code, database=database, message=message, fix_sql=fix_sql, **where)


def constraint_finding(code: str, database: str, constraint: NamedOnTable, message: str, fix_sql: str) -> Finding:
    """Return a health Finding of code about a constraint (a foreign key, or one never validated)."""
    where = _place(constraint.schema, constraint.table, constraint=constraint.name)
    return finding(code, database=database, message=message, fix_sql=fix_sql, **where)


def table_finding(
    code: str, database: str, table: TableHealth, message: str, fix_sql: str, severity: Severity | None = None
) -> Finding:
    """Return a health Finding of code about table; severity, when given, escalates the code's own."""
    where = _place(table.schema, table.name, severity=severity)
    return finding(code, database=database, message=message, fix_sql=fix_sql, **where)


def database_finding(
    code: str, database: str, about: str, message: str, fix_sql: str, severity: Severity | None = None
) -> Finding:
    """Return a database-wide health Finding of code (no schema or table), about what about names."""
    where = _place("", "", about=about, severity=severity)
    return finding(code, database=database, message=message, fix_sql=fix_sql, **where)


def size_text(size_bytes: float) -> str:
    """Return a byte count as a finding's message writes it: 512 bytes, 8.0 kB, 1.5 GB."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size_bytes < 1024 or unit == "TB":
            return f"{size_bytes:.0f} {unit}" if unit == "bytes" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1024
    raise AssertionError("unreachable")
