"""Findings about keys and constraints: tables without a primary key, constraints never validated, foreign keys
whose types differ from their target, and foreign keys that repeat or overlap one another."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.constraints import ForeignKey
from schemaadmin.pg.identifiers import qualified, quote_identifier
from schemaadmin.services.index_health.findings import (
    Finding,
    column_finding,
    constraint_finding,
    table_finding,
)
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.index_health.thresholds import Thresholds

__all__ = ["constraint_findings"]


def no_primary_key(snapshot: Snapshot) -> Iterator[Finding]:
    promotable: dict[tuple[str, str], str] = {}
    for index in snapshot.indexes:
        # A unique constraint's index belongs to it; a plain unique index can become the primary key's, if
        # PostgreSQL takes it for one: plain btree columns in default order and operator classes, no predicate,
        # nothing included, the rule NULLS DISTINCT, on a table that is not partitioned (USING INDEX is refused there).
        plain = (
            index.is_unique
            and index.constraint is None
            and index.is_valid
            and index.method == "btree"
            and index.predicate is None
            and all(index.key_attnums)
            and not any(index.key_flags)
            and all(index.opclass_defaults)
            and not any(index.key_collations)
            and not index.included
            and not index.enforces
            and not index.is_partitioned
        )
        if plain and (index.schema, index.table) not in promotable:
            promotable[(index.schema, index.table)] = index.name
    for table in snapshot.tables:
        # A partition takes its key from its parent (flagged there); a materialized view cannot have one.
        if table.has_primary_key or table.is_partition or table.kind not in ("r", "p"):
            continue
        target = qualified(table.schema, table.name)
        unique = promotable.get((table.schema, table.name))
        if unique is not None:
            fix = (
                f"-- {unique} is unique already: if its columns are NOT NULL, it can become the primary key\n"
                + ddl.script(table_ddl.add_primary_key_using_index(table.schema, table.name, unique))
            )
        elif table.kind == "p":
            fix = _partitioned_key_fix(target, table.partition_key)
        elif table.has_id_column:
            key = snapshot.new_index_name(table.schema, table.name, suffix="pkey", owner=table.name)
            unique_id = ddl.IndexDefinition(
                table.schema, table.name, key, keys=(ddl.IndexKey(column="id"),), unique=True
            )
            fix = (
                "-- It has an id column: if its values are unique and never NULL, it can be the key. The index builds "
                "without blocking writes; adding the key checks for NULLs under an ACCESS EXCLUSIVE lock\n"
                + ddl.script(
                    ddl.create_index(unique_id), table_ddl.add_primary_key_using_index(table.schema, table.name, key)
                )
            )
        elif table.columns_full:
            fix = (
                "-- It has 1,600 columns, PostgreSQL's limit (dropped columns count until the table is rewritten): no\n"
                "-- id column can be added. Make the key of NOT NULL columns that are unique together:\n"
                f"-- ALTER TABLE {target} ADD PRIMARY KEY (column, ...);\n"
                "-- or copy the rows into a new table with the key (VACUUM FULL does not reclaim dropped columns)."
            )
        else:
            fix = (
                "-- Adds a column and rewrites the table under an ACCESS EXCLUSIVE lock: plan a maintenance window\n"
                + ddl.script(
                    table_ddl.add_column(
                        table.schema, table.name, "id", "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
                    )
                )
            )
        message = (
            f"{table.qualified_name} has no primary key: logical replication cannot replicate its updates and "
            "deletes, and tools that find a row by its key (the Django admin, ORMs, pg_repack) cannot work on it."
        )
        yield table_finding("no_primary_key", snapshot.database, table, message, fix)


def _partitioned_key_fix(target: str, partition_key: tuple[str | None, ...]) -> str:
    """Return the advice for a partitioned table's missing key: it must contain the partition key's columns."""
    if not partition_key or None in partition_key:
        return (
            "-- Its partition key has an expression, which a primary key cannot contain: give each partition a "
            "primary key of its own, or partition by columns."
        )
    columns = ", ".join(quote_identifier(column) for column in dict.fromkeys(partition_key) if column is not None)
    return (
        f"-- A partitioned table's primary key must contain its partition keys ({columns}: its own, and those of its "
        "partitions partitioned in turn); PostgreSQL builds it on "
        "every partition, each under an ACCESS EXCLUSIVE lock. With a column whose values are unique within each "
        "partition key value and never NULL:\n"
        f"-- ALTER TABLE {target} ADD PRIMARY KEY ({columns}, unique_column);"
    )


def invalid_constraint(snapshot: Snapshot) -> Iterator[Finding]:
    for constraint in snapshot.unvalidated_constraints:
        on = qualified(constraint.schema, constraint.table)
        message = (
            f"The {constraint.kind} {constraint.name} on {on} was added NOT VALID and never validated: new rows are "
            "checked, the rows before it never were, and the planner cannot rely on it. Validating reads the table "
            "under a lock that lets reads and writes go on."
        )
        fix_sql = ddl.script(table_ddl.validate_constraint(constraint.schema, constraint.table, constraint.name))
        yield constraint_finding("invalid_constraint", snapshot.database, constraint, message, fix_sql)


def fk_type_mismatch(snapshot: Snapshot) -> Iterator[Finding]:
    for key in snapshot.foreign_keys:
        if key.inherited:
            continue  # a partition's column follows its partitioned table's: the parent's finding says it
        pairs = zip(key.columns, key.column_types, key.referenced_columns, key.referenced_types, strict=True)
        for column, column_type, referenced, referenced_type in pairs:
            if column_type == referenced_type:
                continue
            message = (
                f"{key.table}.{column} is {column_type} but the foreign key {key.name} points at "
                f"{key.referenced_table}.{referenced}, which is {referenced_type}: values the target can hold "
                "may not fit here, and every check and join compares across types."
            )
            fix_sql = (
                "-- Changing a column's type rewrites the table and its indexes under an ACCESS EXCLUSIVE lock\n"
                + ddl.script(table_ddl.alter_column_type(key.schema, key.table, column, referenced_type))
            )
            yield column_finding("fk_type_mismatch", snapshot.database, key, column, message, fix_sql)


def _pairs(key: ForeignKey) -> frozenset[tuple[str, str]]:
    return frozenset(zip(key.columns, key.referenced_columns, strict=True))


def _drop_constraint(key: ForeignKey) -> str:
    return ddl.script(table_ddl.drop_constraint(key.schema, key.table, key.name))


def repeated_foreign_keys(snapshot: Snapshot) -> Iterator[Finding]:
    by_target: dict[tuple[str, str, str], list[ForeignKey]] = defaultdict(list)
    for key in snapshot.foreign_keys:
        if key.inherited:
            continue  # a partition's copy of its parent's key: judged (and dropped, if need be) on the parent
        by_target[(key.schema, key.table, key.referenced_table)].append(key)
    for keys in by_target.values():
        if len(keys) < 2:
            continue
        # Keep the validated one, then the first by name.
        keys = sorted(keys, key=lambda k: (not k.is_validated, k.name))
        seen: dict[tuple[frozenset[tuple[str, str]], str], ForeignKey] = {}
        for key in keys:
            pairs = _pairs(key)
            # Same columns but another action (ON DELETE CASCADE beside a plain key): not a repeat, each does its own.
            kept = seen.setdefault((pairs, key.behaviour), key)
            if kept is not key:
                message = (
                    f"{key.name} repeats {kept.name}: both tie {key.table}({', '.join(key.columns)}) to "
                    f"{key.referenced_table}, so every write and every delete there is checked twice."
                )
                yield constraint_finding(
                    "duplicate_foreign_key", snapshot.database, key, message, _drop_constraint(key)
                )
                continue
            wider = next((other for other in keys if pairs < _pairs(other)), None)
            if wider is not None:
                message = (
                    f"{key.name} on ({', '.join(key.columns)}) checks part of what {wider.name} on "
                    f"({', '.join(wider.columns)}) checks against the same table {key.referenced_table}. "
                    f"It adds a check only for rows where another column of {wider.name} is NULL."
                )
                fix_sql = f"-- If no row leaves those columns NULL:\n{_drop_constraint(key)}"
                yield constraint_finding("overlapping_foreign_key", snapshot.database, key, message, fix_sql)


def constraint_findings(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    """Yield every key and constraint finding of the snapshot."""
    yield from no_primary_key(snapshot)
    yield from invalid_constraint(snapshot)
    yield from fk_type_mismatch(snapshot)
    yield from repeated_foreign_keys(snapshot)
