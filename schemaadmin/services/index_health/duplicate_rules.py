"""Findings about indexes another index makes needless: duplicates (the same index twice) and redundant leading
prefixes of a longer btree index, and which of several alike indexes to keep (keep_order)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.services.index_health.findings import Finding, index_finding
from schemaadmin.services.index_health.snapshot import Snapshot

__all__ = ["duplicates", "keep_order", "redundant"]


def _drop(index: IndexInfo) -> str:
    if index.constraint is not None:
        return ddl.script(table_ddl.drop_constraint(index.schema, index.table, index.constraint))
    return ddl.script(*ddl.drop_index_fix(index))


def _shape(index: IndexInfo) -> tuple[object, ...]:
    return (
        index.schema,
        index.table,
        index.method,
        index.columns,
        index.opclasses,
        index.key_collations,
        index.key_flags,
        index.predicate,
        index.enforces,
    )


def keep_order(index: IndexInfo) -> tuple[object, ...]:
    """Sort key: the index to keep comes first (constraint-backed, unique, covering more, most used, oldest name)."""
    return (
        index.constraint is None,
        not index.is_unique,
        -len(index.included),
        -index.scans,
        index.name,
    )


def duplicates(snapshot: Snapshot) -> Iterator[Finding]:
    groups: dict[tuple[object, ...], list[IndexInfo]] = defaultdict(list)
    for index in snapshot.judged_indexes:
        if index.is_valid:
            groups[_shape(index)].append(index)
    for group in groups.values():
        if len(group) < 2:
            continue
        keep, *extras = sorted(group, key=keep_order)
        for extra in extras:
            if not set(extra.included) <= set(keep.included):
                continue  # its INCLUDE columns serve index-only scans the kept one cannot
            message = (
                f"{extra.qualified_name} indexes the same {', '.join(extra.columns)} as {keep.qualified_name} "
                "with the same method, operator classes, collations and predicate, so it only costs writes and "
                "space."
            )
            yield index_finding("duplicate_index", snapshot.database, extra, message, _drop(extra))


def redundant(snapshot: Snapshot) -> Iterator[Finding]:
    by_table: dict[tuple[str, str], list[IndexInfo]] = defaultdict(list)
    for index in snapshot.judged_indexes:
        if index.is_valid and index.method == "btree":
            by_table[(index.schema, index.table)].append(index)
    for group in by_table.values():
        if len(group) < 2:
            continue
        # A longer index can only start with short's keys if it starts with its first: those are the candidates (in
        # the group's order), not every index of the table (~60 ms at 30,000 indexes).
        by_first: dict[str, list[IndexInfo]] = defaultdict(list)
        for index in group:
            by_first[index.columns[0] if index.columns else ""].append(index)
        for short in group:
            if short.backs_constraint:
                continue  # its uniqueness is a rule, not a speed-up
            width = len(short.columns)
            for long in by_first[short.columns[0]] if short.columns else group:
                if (
                    long is not short
                    and len(long.columns) > width
                    and long.columns[:width] == short.columns
                    and long.opclasses[:width] == short.opclasses
                    and long.key_flags[:width] == short.key_flags
                    and long.key_collations[:width] == short.key_collations
                    and long.predicate == short.predicate
                    and set(short.included) <= set(long.columns) | set(long.included)  # its index-only scans too
                ):
                    message = (
                        f"{short.qualified_name} on ({', '.join(short.columns)}) is a leading prefix of "
                        f"{long.qualified_name} on ({', '.join(long.columns)}), which serves the same lookups."
                    )
                    yield index_finding("redundant_index", snapshot.database, short, message, _drop(short))
                    break
