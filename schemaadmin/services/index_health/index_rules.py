"""Findings about indexes themselves: invalid, unused, bloated, and unindexed foreign keys. index_findings() yields
these and duplicate_rules.py's (duplicate and redundant indexes) in one order."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import lru_cache

from schemaadmin.pg import ddl, identifiers
from schemaadmin.pg.constraints import ForeignKey
from schemaadmin.pg.index_builds import REINDEX_LEFTOVER, TEMPORARY_SUFFIX
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.services.index_health.duplicate_rules import duplicates, keep_order, redundant
from schemaadmin.services.index_health.findings import (
    Finding,
    column_finding,
    database_finding,
    index_finding,
    size_text,
)
from schemaadmin.services.index_health.predicates import conjuncts, not_null_column
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.index_health.thresholds import Thresholds

__all__ = ["index_findings"]


def _recreate(index: IndexInfo) -> ddl.Statement:
    """Return CREATE INDEX [CONCURRENTLY] of index as it is (a partitioned one refuses CONCURRENTLY): a partitioned
    index from the server's own definition of it, else, or when that reads otherwise, from its catalog parts."""
    if index.is_partitioned:
        whole = ddl.create_over_partitions(index.name, unique=index.is_unique, server_definition=index.definition)
        if whole is not None:
            return whole
    return ddl.create_index(ddl.index_definition_of(index), concurrently=not index.is_partitioned)


_CREATE_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX ")


def _as_it_is(index: IndexInfo) -> str:
    """Return the CREATE INDEX that makes the index again exactly, as pg_get_indexdef() writes it (operator classes
    of other schemas and their options, NULLS NOT DISTINCT, INCLUDE, WITH), CONCURRENTLY but on a partitioned
    table, which refuses it."""
    if index.is_partitioned:
        return index.creating_definition  # over every partition, not ON ONLY the parent
    return _CREATE_INDEX.sub(lambda m: f"CREATE {m.group(1) or ''}INDEX CONCURRENTLY ", index.definition, count=1)


def _with_partitions(snapshot: Snapshot) -> Callable[[IndexInfo], tuple[int, dict[str, int]]]:
    """Return a function giving an index's size and scans per node with those of the indexes attached below it.

    A partitioned index stores nothing and is never scanned itself: its partitions' indexes are. Its size is theirs
    already (partitions.py); the scans of the other nodes are added here.
    """
    attached: dict[str, list[IndexInfo]] = defaultdict(list)
    for index in snapshot.indexes:
        if index.partition_of is not None:
            attached[index.partition_of].append(index)

    def totals(index: IndexInfo) -> tuple[int, dict[str, int]]:
        scans = Counter(snapshot.scans_by_node(index))
        for child in attached.get(index.qualified_name, ()):
            # This node's count of a partitioned index is its partitions' already (partitions.py).
            scans.update({node: n for node, n in totals(child)[1].items() if node != snapshot.database})
        return index.size_bytes, dict(scans)

    return totals


def invalid(snapshot: Snapshot) -> Iterator[Finding]:
    for index in snapshot.indexes:
        # A valid index may carry a *_ccnew name: it is somebody's index. REINDEX CONCURRENTLY's copies are invalid
        # once it stopped (and build_running while it runs).
        if index.build_running or index.is_valid:
            continue
        drop = ddl.drop_index_fix(index)
        if REINDEX_LEFTOVER.search(index.name) is not None:
            why = (
                f"{index.qualified_name} is left over from an interrupted REINDEX CONCURRENTLY: it is "
                "maintained on every write but never used."
            )
            fix = ddl.script(*drop)
        elif index.name.endswith(TEMPORARY_SUFFIX):
            why = (
                f"{index.qualified_name} is left over from an index rebuild: the replacement it built under a "
                "temporary name, never swapped in (the build failed or its worker stopped). It is maintained on "
                "every write but never used; building it again would only rebuild the leftover."
            )
            fix = ddl.script(*drop)
        elif index.is_partitioned:
            why = (
                f"{index.qualified_name} is an invalid partitioned index (made with CREATE INDEX … ON ONLY, or a "
                "CREATE that stopped part-way): it stays invalid until every partition has an index attached to "
                "it, and queries cannot use it. Without blocking writes: CREATE INDEX CONCURRENTLY on each "
                f"partition that lacks one, then ALTER INDEX {identifiers.qualified(index.schema, index.name)} ATTACH "
                "PARTITION each. The fix below drops and recreates it in one go, blocking writes to every "
                "partition while it builds."
            )
            if index.is_unique:
                why += " It is unique: a partition holding duplicate values makes these fail; remove them first."
            fix = ddl.script(*drop, _recreate(index)) if index.constraint is None else _attach_each(index)
        else:
            why = (
                f"{index.qualified_name} is invalid (a failed CREATE INDEX CONCURRENTLY): queries cannot use "
                "it, yet every write still maintains it."
            )
            if index.is_unique:
                why += (
                    " It is unique: if its build failed on duplicate values, remove them first, or it fails again"
                    " (and leaves an invalid _ccnew copy, which this list then names to drop)."
                )
            if index.partition_of:
                why += (
                    f" It is attached to the partitioned index {index.partition_of}, which stays invalid until it is "
                    "valid again (and may need REINDEX itself then)."
                )
            # Rebuilt in place, not dropped and written again: the rebuild keeps all it was (operator classes of
            # other schemas and their options, NULLS NOT DISTINCT, its partitioned index), and a fix that fails
            # leaves the index where it was instead of gone.
            fix = _rebuild(index)
        yield index_finding("invalid_index", snapshot.database, index, why, fix)


def _rebuild(index: IndexInfo) -> str:
    """Return the REINDEX of an index: CONCURRENTLY, but for an exclusion constraint's, which PostgreSQL rebuilds
    only under a lock that stops writes to the table."""
    if "EXCLUDE" in index.enforces.split():
        return ddl.script(
            "-- An exclusion constraint's index cannot be rebuilt CONCURRENTLY: this REINDEX blocks writes to "
            f"{index.qualified_table} while it runs, and queries that plan on the table wait for it too.",
            ddl.reindex_index(index.schema, index.name, concurrently=False),
        )
    return ddl.script(ddl.reindex_index(index.schema, index.name))


def _attach_each(index: IndexInfo) -> str:
    """Return the repair of an invalid partitioned index behind a constraint, which cannot be dropped alone."""
    parent = identifiers.qualified(index.schema, index.name)
    constraint = identifiers.quote_identifier(index.constraint or "")
    return (
        f"-- {parent} backs constraint {constraint}: dropping it would drop the "
        "constraint. For each partition without a matching index:\n"
        "-- CREATE UNIQUE INDEX CONCURRENTLY <name> ON <partition> (<the same columns>);\n"
        f"-- ALTER INDEX {parent} ATTACH PARTITION <schema>.<name>;"
    )


def unused(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    youngest_stats = min(node.stats_age for node in snapshot.nodes)
    if youngest_stats < timedelta(days=thresholds.unused_index_min_stats_age_days):
        # Counters reset too recently for "never scanned" to mean anything: say so, once, rather than stay silent.
        youngest = min(snapshot.nodes, key=lambda node: node.stats_age)
        message = (
            f"Index usage has been counted for {_age_text(youngest_stats)} on node {youngest.node}; "
            f"unused_index waits until the counters are {thresholds.unused_index_min_stats_age_days:g} days old "
            "(the UNUSED_INDEX_MIN_STATS_AGE_DAYS setting), so no index is reported unused yet, whether it is "
            "or not."
        )
        fix_sql = (
            "-- Nothing to run. When the counters were last reset (NULL: at the server start):\n"
            "SELECT stats_reset, pg_postmaster_start_time() FROM pg_stat_database "
            "WHERE datname = current_database();"
        )
        yield database_finding(
            "index_usage_too_young", snapshot.database, f"database {snapshot.statistics.database}", message, fix_sql
        )
        return
    totals = _with_partitions(snapshot)
    guards = _only_index_of_a_foreign_key(snapshot)
    for index in snapshot.judged_indexes:
        if not index.is_valid or index.backs_constraint or index.qualified_name in guards:
            continue  # (the only index a foreign key's checks have: never scanned while no row there is deleted)
        size, scans = totals(index) if index.is_partitioned else (index.size_bytes, snapshot.scans_by_node(index))
        if size < thresholds.unused_index_min_bytes or any(scans.values()):
            continue
        nodes = ", ".join(scans)
        where = " over its partitions" if index.is_partitioned else ""
        message = (
            f"{index.qualified_name} ({size_text(size)}{where}) has not been scanned on any node ({nodes}) "
            f"in {youngest_stats.days} days of statistics, yet every write to {index.table} maintains it."
        )
        fix_sql = ddl.script(*ddl.drop_index_fix(index), f"-- to restore it: {_as_it_is(index)};")
        yield index_finding("unused_index", snapshot.database, index, message, fix_sql)


# The methods whose indexes find rows by fk = $1 as a referential check needs: a BRIN or GIN index does not serve it.
LOOKUP_METHODS = frozenset({"btree", "hash", "gist"})


def _serves(index: IndexInfo, key_attnums: tuple[int, ...], key_columns: tuple[str, ...]) -> bool:
    """Return whether the index serves a foreign key's referential check (fk = $1, which implies NOT NULL): it
    leads with the key's columns, in any order, and its predicate, if any, only asks them NOT NULL."""
    if not index.is_valid or index.method not in LOOKUP_METHODS:
        return False
    if set(index.key_attnums[: len(key_attnums)]) != set(key_attnums):
        return False
    required = None if index.predicate is None else _required_not_null(index.predicate)
    return index.predicate is None or (required is not None and required <= set(key_columns))


def _indexes_of_tables_with_keys(snapshot: Snapshot) -> defaultdict[tuple[str, str], list[IndexInfo]]:
    """Return the indexes of each table with a foreign key, by (schema, table): only those are looked at (~30 ms
    at 30,000 indexes)."""
    with_keys = {(key.schema, key.table) for key in snapshot.foreign_keys}
    by_table: defaultdict[tuple[str, str], list[IndexInfo]] = defaultdict(list)
    for index in snapshot.indexes:
        if (index.schema, index.table) in with_keys:
            by_table[(index.schema, index.table)].append(index)
    return by_table


def _only_index_of_a_foreign_key(snapshot: Snapshot) -> set[str]:
    """Return the qualified names of the indexes each foreign key keeps: the one serving it, or of several the one
    to keep (keep_order), so that dropping every unused index still leaves each key one."""
    with_keys = _indexes_of_tables_with_keys(snapshot)
    kept = set()
    for key in snapshot.foreign_keys:
        serving = [i for i in with_keys[(key.schema, key.table)] if _serves(i, key.column_attnums, key.columns)]
        if serving:
            kept.add(min(serving, key=keep_order).qualified_name)
    return kept


def _age_text(age: timedelta) -> str:
    """Return how long counters have counted, as "only 3 days", "only 1 hour" or "less than an hour"."""
    if age >= timedelta(days=1):
        return f"only {age.days} day{'s' if age.days != 1 else ''}"
    hours = int(age.total_seconds() // 3600)
    return f"only {hours} hour{'s' if hours != 1 else ''}" if hours else "less than an hour"


@lru_cache(maxsize=4096)  # parsed once per predicate, though asked for each foreign key of its table
def _required_not_null(predicate: str) -> frozenset[str] | None:
    """Return the columns a predicate made only of `column IS NOT NULL` tests names, or None for any other."""
    parts = conjuncts(predicate)
    if parts is None:
        return None
    columns = [not_null_column(part) for part in parts]
    return None if None in columns else frozenset(c for c in columns if c is not None)


def missing_fk(snapshot: Snapshot) -> Iterator[Finding]:
    with_keys = _indexes_of_tables_with_keys(snapshot)
    # A partitioned table's key is copied to each partition (inherited): the copies of each key, by the key.
    copies: dict[tuple[str, str], list[ForeignKey]] = defaultdict(list)
    for key in snapshot.foreign_keys:
        if key.inherited and key.parent_table is not None and key.parent_name is not None:
            copies[(key.parent_table, key.parent_name)].append(key)
    # The columns of the indexes the fixes below build: one serves any other key on the same columns.
    planned: set[tuple[str, str, frozenset[int]]] = set()
    for key in snapshot.foreign_keys:
        if key.inherited:
            continue  # a partition's copy of its partitioned table's key: an index there covers every partition
        if not key.is_enforced:
            continue  # NOT ENFORCED: no trigger reads the table when referenced rows are deleted
        if _served(key, with_keys, copies, planned):
            continue
        message = (
            f"No index leads with {key.table}({', '.join(key.columns)}), the foreign key to "
            f"{key.referenced_table}: every delete or key update there scans {key.qualified_table} in full."
        )
        definition = ddl.IndexDefinition(
            schema=key.schema,
            table=key.table,
            name=snapshot.new_index_name(key.schema, key.table, *key.columns, suffix="idx", owner=key.name),
            keys=tuple(ddl.IndexKey(column=column) for column in key.columns),
        )
        fix_sql = ddl.script(*ddl.create_index_fix(definition, partitioned=key.table_is_partitioned))
        planned.add((key.schema, key.table, frozenset(key.column_attnums)))
        yield column_finding("missing_fk_index", snapshot.database, key, ", ".join(key.columns), message, fix_sql)


def _served(
    key: ForeignKey,
    with_keys: dict[tuple[str, str], list[IndexInfo]],
    copies: dict[tuple[str, str], list[ForeignKey]],
    planned: set[tuple[str, str, frozenset[int]]],
) -> bool:
    """Return whether an index serves the key's referential checks (_serves): one of its table's, one a fix above
    builds, or, on a partitioned table, one on every partition (each partition's copy of the key served, down every
    level of partitions)."""
    if (key.schema, key.table, frozenset(key.column_attnums)) in planned:
        return True
    if any(_serves(index, key.column_attnums, key.columns) for index in with_keys[(key.schema, key.table)]):
        return True
    parts = copies.get((key.qualified_table, key.name), [])
    return key.table_is_partitioned and bool(parts) and all(_served(p, with_keys, copies, planned) for p in parts)


def bloated(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for index in snapshot.indexes:
        bloat = snapshot.bloat.get(index.qualified_name)
        if bloat is None or not index.is_valid:
            continue
        if bloat.wasted_bytes < thresholds.bloat_min_bytes or bloat.wasted_ratio < thresholds.bloat_min_ratio:
            continue
        how = (
            "measured with pgstattuple"
            if bloat.exact
            else "estimated from statistics: pgstattuple is not installed or this role may not run pgstatindex()"
        )
        message = (
            f"{index.qualified_name} is {size_text(bloat.real_bytes)} but would be about "
            f"{size_text(bloat.expected_bytes)} rebuilt: {bloat.wasted_ratio:.0%} is empty space ({how})."
        )
        yield index_finding("bloated_index", snapshot.database, index, message, _rebuild(index))


def index_findings(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    """Yield every index finding of the snapshot."""
    yield from invalid(snapshot)
    yield from unused(snapshot, thresholds)
    yield from duplicates(snapshot)
    yield from redundant(snapshot)
    yield from missing_fk(snapshot)
    yield from bloated(snapshot, thresholds)
