"""Findings about indexes themselves: invalid, unused, duplicate, redundant, bloated, and unindexed foreign keys."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from schemaadmin.pg import ddl
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.services.index_health.findings import Finding, finding
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.index_health.thresholds import Thresholds

__all__ = ["index_findings"]

# REINDEX CONCURRENTLY names its new copy *_ccnew and the old one *_ccold; a failed run leaves them behind.
_LEFTOVER = re.compile(r"_cc(new|old)\d*$")


def _recreate(index: IndexInfo) -> ddl.Statement:
    """Return CREATE INDEX CONCURRENTLY of index as it is, from its catalog parts."""
    return ddl.create_index(ddl.index_definition_of(index))


def _drop(index: IndexInfo) -> str:
    if index.constraint is not None:
        return ddl.script(ddl.drop_constraint(index.schema, index.table, index.constraint))
    return ddl.script(ddl.drop_index(index.schema, index.name))


def _size(size_bytes: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size_bytes < 1024 or unit == "TB":
            return f"{size_bytes} {unit}" if unit == "bytes" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def invalid(snapshot: Snapshot) -> Iterator[Finding]:
    for index in snapshot.indexes:
        leftover = _LEFTOVER.search(index.name) is not None
        if index.build_running or (index.is_valid and not leftover):
            continue
        drop = ddl.drop_index(index.schema, index.name)
        if leftover:
            why = (
                f"{index.qualified_name} is left over from an interrupted REINDEX CONCURRENTLY: it is "
                "maintained on every write but never used."
            )
            fix = ddl.script(drop)
        else:
            why = (
                f"{index.qualified_name} is invalid (a failed CREATE INDEX CONCURRENTLY): queries cannot use "
                "it, yet every write still maintains it."
            )
            if index.constraint is not None:
                fix = ddl.script(ddl.reindex_index(index.schema, index.name))
            else:
                fix = ddl.script(drop, _recreate(index))
        yield finding(
            "invalid_index",
            database=snapshot.database,
            schema=index.schema,
            table=index.table,
            index=index.name,
            message=why,
            fix_sql=fix,
        )


def unused(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    youngest_stats = min(node.stats_age for node in snapshot.nodes)
    if youngest_stats < timedelta(days=thresholds.unused_index_min_stats_age_days):
        return  # counters reset too recently for "never scanned" to mean anything
    for index in snapshot.indexes:
        if not index.is_valid or index.backs_constraint or index.size_bytes < thresholds.unused_index_min_bytes:
            continue
        scans = snapshot.scans_by_node(index)
        if any(scans.values()):
            continue
        nodes = ", ".join(scans)
        yield finding(
            "unused_index",
            database=snapshot.database,
            schema=index.schema,
            table=index.table,
            index=index.name,
            message=(
                f"{index.qualified_name} ({_size(index.size_bytes)}) has not been scanned on any node ({nodes}) "
                f"in {youngest_stats.days} days of statistics, yet every write to {index.table} maintains it."
            ),
            fix_sql=ddl.script(ddl.drop_index(index.schema, index.name), f"-- to restore it: {_recreate(index)};"),
        )


def _shape(index: IndexInfo) -> tuple[object, ...]:
    return (index.schema, index.table, index.method, index.columns, index.opclasses, index.key_flags, index.predicate)


def _keep_order(index: IndexInfo) -> tuple[object, ...]:
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
    for index in snapshot.indexes:
        if index.is_valid:
            groups[_shape(index)].append(index)
    for group in groups.values():
        if len(group) < 2:
            continue
        keep, *extras = sorted(group, key=_keep_order)
        for extra in extras:
            yield finding(
                "duplicate_index",
                database=snapshot.database,
                schema=extra.schema,
                table=extra.table,
                index=extra.name,
                message=(
                    f"{extra.qualified_name} indexes the same {', '.join(extra.columns)} as {keep.qualified_name} "
                    "with the same method, operator classes and predicate, so it only costs writes and space."
                ),
                fix_sql=_drop(extra),
            )


def redundant(snapshot: Snapshot) -> Iterator[Finding]:
    by_table: dict[tuple[str, str], list[IndexInfo]] = defaultdict(list)
    for index in snapshot.indexes:
        if index.is_valid and index.method == "btree":
            by_table[(index.schema, index.table)].append(index)
    for group in by_table.values():
        for short in group:
            if short.backs_constraint:
                continue  # its uniqueness is a rule, not a speed-up
            width = len(short.columns)
            for long in group:
                if (
                    long is not short
                    and len(long.columns) > width
                    and long.columns[:width] == short.columns
                    and long.opclasses[:width] == short.opclasses
                    and long.key_flags[:width] == short.key_flags
                    and long.predicate == short.predicate
                ):
                    yield finding(
                        "redundant_index",
                        database=snapshot.database,
                        schema=short.schema,
                        table=short.table,
                        index=short.name,
                        message=(
                            f"{short.qualified_name} on ({', '.join(short.columns)}) is a leading prefix of "
                            f"{long.qualified_name} on ({', '.join(long.columns)}), which serves the same lookups."
                        ),
                        fix_sql=_drop(short),
                    )
                    break


def missing_fk(snapshot: Snapshot) -> Iterator[Finding]:
    leading: dict[tuple[str, str], list[tuple[int, ...]]] = defaultdict(list)
    for index in snapshot.indexes:
        if index.is_valid and index.predicate is None and not index.is_vector:
            leading[(index.schema, index.table)].append(index.key_attnums)
    for key in snapshot.foreign_keys:
        wanted = set(key.column_attnums)
        served = any(set(attnums[: len(wanted)]) == wanted for attnums in leading[(key.schema, key.table)])
        if served:
            continue
        yield finding(
            "missing_fk_index",
            database=snapshot.database,
            schema=key.schema,
            table=key.table,
            column=", ".join(key.columns),
            message=(
                f"No index leads with {key.table}({', '.join(key.columns)}), the foreign key to "
                f"{key.referenced_table}: every delete or key update there scans {key.qualified_table} in full."
            ),
            fix_sql=ddl.script(
                ddl.create_index(
                    ddl.IndexDefinition(
                        schema=key.schema,
                        table=key.table,
                        name=ddl.index_name_for(key.table, *key.columns),
                        keys=tuple(ddl.IndexKey(column=column) for column in key.columns),
                    )
                )
            ),
        )


def bloated(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for index in snapshot.indexes:
        bloat = snapshot.bloat.get(index.qualified_name)
        if bloat is None or not index.is_valid:
            continue
        if bloat.wasted_bytes < thresholds.bloat_min_bytes or bloat.wasted_ratio < thresholds.bloat_min_ratio:
            continue
        how = "measured with pgstattuple" if bloat.exact else "estimated from statistics"
        yield finding(
            "bloated_index",
            database=snapshot.database,
            schema=index.schema,
            table=index.table,
            index=index.name,
            message=(
                f"{index.qualified_name} is {_size(bloat.real_bytes)} but would be about "
                f"{_size(bloat.expected_bytes)} rebuilt: {bloat.wasted_ratio:.0%} is empty space ({how})."
            ),
            fix_sql=ddl.script(ddl.reindex_index(index.schema, index.name)),
        )


def index_findings(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    """Yield every index finding of the snapshot."""
    yield from invalid(snapshot)
    yield from unused(snapshot, thresholds)
    yield from duplicates(snapshot)
    yield from redundant(snapshot)
    yield from missing_fk(snapshot)
    yield from bloated(snapshot, thresholds)
