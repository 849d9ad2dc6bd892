"""Everything the findings are computed from, read from the catalog in a fixed number of queries."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import timedelta

from schemaadmin.conf import app_settings
from schemaadmin.pg import identifiers, index_cache
from schemaadmin.pg.beside import read_beside
from schemaadmin.pg.bloat import BtreeBloat, TableBloat, btree_bloat_exact, table_bloat_exact
from schemaadmin.pg.connection import validated_alias
from schemaadmin.pg.constraints import ForeignKey, UnvalidatedConstraint, foreign_keys, unvalidated_constraints
from schemaadmin.pg.databases import DatabaseAge, DatabaseStatistics, database_ages, database_statistics
from schemaadmin.pg.index_lookups import index_usage
from schemaadmin.pg.indexes import IndexInfo, indexes_below, indexes_of_table
from schemaadmin.pg.locked import LockedRelation, locked_relations
from schemaadmin.pg.names import qualify
from schemaadmin.pg.relations import (
    RelationName,
    TableHealth,
    other_relation_names_ending,
    relation_names_starting,
    tables,
)
from schemaadmin.pg.replication import ReplicationSlot, replication_slots
from schemaadmin.pg.row_statistics import (
    RelationStatistics,
    StatisticsByRelation,
    btree_bloat_estimates,
    by_relation,
    kept_statistics,
    relation_statistics,
    table_bloat_estimates,
)
from schemaadmin.pg.sequences import SequenceUsage, sequences
from schemaadmin.pg.server import ExtensionUpdate, extension_updates
from schemaadmin.pg.vectors import VectorColumn, vector_columns
from schemaadmin.services.index_health.partitions import indexes_with_partition_totals, tables_with_partition_totals
from schemaadmin.services.workload.activity import ActivityFacts, activity_facts

__all__ = [
    "NEW_INDEX_SUFFIXES",
    "NodeUsage",
    "Snapshot",
    "take_index_snapshot",
    "start_snapshot",
    "take_snapshot",
    "take_table_index_snapshot",
]

# What the names of the indexes fixes build end with (Snapshot.new_index_name): the relations whose names could
# collide with them are read for these endings.
NEW_INDEX_SUFFIXES = ("idx", "pkey", "gin", "hnsw", "not_null")


@dataclass(frozen=True, slots=True)
class NodeUsage:
    """One database node's own index scan counts (each replica counts the scans it served)."""

    node: str
    scans: dict[str, int] = field(hash=False)  # qualified index name -> idx_scan
    stats_age: timedelta


class _NewIndexNames:
    """The names a snapshot's new_index_name() gave (by what each is for, and by schema) and its indexes' names."""

    __slots__ = ("by_owner", "given", "indexes")

    def __init__(self) -> None:
        self.by_owner: dict[tuple[object, ...], str] = {}
        self.given: defaultdict[str, set[str]] = defaultdict(set)
        self.indexes: defaultdict[str, set[str]] | None = None  # filled at the first name asked for


class _AnyOf:
    """A name is in it when it is in any of its sets (no union built per name asked for)."""

    __slots__ = ("sets",)

    def __init__(self, *sets: Container[str]) -> None:
        self.sets = sets

    def __contains__(self, name: object) -> bool:
        return any(name in names for names in self.sets)


@dataclass(frozen=True, slots=True)
class Snapshot:
    database: str
    statistics: DatabaseStatistics
    indexes: list[IndexInfo] = field(hash=False)
    tables: list[TableHealth] = field(hash=False)
    foreign_keys: list[ForeignKey] = field(hash=False)
    vector_columns: list[VectorColumn] = field(hash=False)
    bloat: dict[str, BtreeBloat] = field(hash=False)  # qualified index name -> measurement
    nodes: list[NodeUsage] = field(hash=False)
    # Sessions and connection slots for the activity findings; None where a caller builds a snapshot without them.
    activity: ActivityFacts | None = field(default=None, hash=False)
    table_bloat: dict[str, TableBloat] = field(hash=False, default_factory=dict)  # qualified table name -> it
    # qualified index name -> its leading key's NULL share and the NOT NULL columns its predicate names
    key_facts: dict[str, RelationStatistics] = field(hash=False, default_factory=dict)
    sequences: list[SequenceUsage] = field(hash=False, default_factory=list)
    unvalidated_constraints: list[UnvalidatedConstraint] = field(hash=False, default_factory=list)
    databases: list[DatabaseAge] = field(hash=False, default_factory=list)
    replication_slots: list[ReplicationSlot] = field(hash=False, default_factory=list)
    extension_updates: list[ExtensionUpdate] = field(hash=False, default_factory=list)
    # Relations another session holds or waits to take ACCESS EXCLUSIVE when the indexes were read: their indexes are
    # not among them and their sizes are pg_class's counts (pg/locked.py), which the pages say.
    locked: list[LockedRelation] = field(hash=False, default_factory=list)
    # What the rules about one index judge: every index but a partition's attached one, which cannot be dropped or
    # rebuilt alone; its partitioned index is judged instead, on the sizes and scans of all of them.
    judged_indexes: list[IndexInfo] = field(init=False, hash=False, repr=False, compare=False)
    # schema -> names of its relations besides the snapshot's indexes that a new index name could collide with
    taken_names: dict[str, frozenset[str]] = field(hash=False, default_factory=dict)
    _new_names: _NewIndexNames = field(init=False, hash=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "judged_indexes", [i for i in self.indexes if i.partition_of is None])
        object.__setattr__(self, "_new_names", _NewIndexNames())

    def new_index_name(self, schema: str, table: str, *parts: str, suffix: str, owner: str) -> str:
        """Return the name of the new index a fix builds on schema.table for owner (the object the finding is
        about): PostgreSQL's pattern, numbered past a relation of that name and past the names given to other
        fixes of this snapshot; the same name each time for the same owner."""
        if suffix not in NEW_INDEX_SUFFIXES:
            raise ValueError(f"{suffix!r} is not in NEW_INDEX_SUFFIXES, which taken_names are read for.")
        names = self._new_names
        key = (schema, table, parts, suffix, owner)
        if key not in names.by_owner:
            if names.indexes is None:
                names.indexes = defaultdict(set)
                for index in self.indexes:
                    names.indexes[index.schema].add(index.name)
            given = names.given[schema]
            taken = _AnyOf(self.taken_names.get(schema, frozenset()), names.indexes[schema], given)
            name = names.by_owner[key] = identifiers.index_name_for(table, *parts, suffix=suffix, taken=taken)
            given.add(name)
        return names.by_owner[key]

    def scans_by_node(self, index: IndexInfo) -> dict[str, int]:
        """Return the index's scan count on each node (0 where a node does not know the index)."""
        return {usage.node: usage.scans.get(index.qualified_name, 0) for usage in self.nodes}


def take_snapshot(
    *,
    using: str = "default",
    nodes: list[str] | None = None,
    table_bloat_min_bytes: int | None = None,
    bloat_min_bytes: int | None = None,
) -> Snapshot:
    """Read indexes, tables, constraints, sequences, ages and bloat from using, and index usage from every node.

    Heaps smaller than table_bloat_min_bytes, and btrees smaller than bloat_min_bytes, are not measured for bloat
    (defaults: the settings): they cannot waste that much.
    """
    return start_snapshot(
        using=using, nodes=nodes, table_bloat_min_bytes=table_bloat_min_bytes, bloat_min_bytes=bloat_min_bytes
    )[1]()


def start_snapshot(
    *,
    using: str = "default",
    nodes: list[str] | None = None,
    table_bloat_min_bytes: int | None = None,
    bloat_min_bytes: int | None = None,
) -> tuple[Snapshot, Callable[[], Snapshot]]:
    """Return take_snapshot()'s index part (take_index_snapshot's) now, and a function that returns the whole snapshot.

    The tables are read on the side connection meanwhile: the caller can judge the indexes while they are read. The
    whole snapshot gives new index names (Snapshot.new_index_name) past those the index part gave.
    """
    # The tables' sizes are read on the side connection while this one reads the indexes' (each ~0.4 s at 30,000).
    read_tables = read_beside(lambda: tables(measure_indexes=False, using=using), using=using)
    # The side connection has the longer read already: the names are read here.
    index_part, row_statistics = _index_part(using, nodes, bloat_min_bytes, side_is_free=False)
    # What no table is needed for, read here while the side connection still reads the tables.
    sequence_list = sequences(using=using)
    constraints = unvalidated_constraints(using=using)
    ages = database_ages(using=using)
    slots = replication_slots(using=using)
    updates = extension_updates(using=using)
    min_bytes = app_settings()["TABLE_BLOAT_MIN_BYTES"] if table_bloat_min_bytes is None else table_bloat_min_bytes

    def whole() -> Snapshot:
        table_list = read_tables()
        if index_part.statistics.pgstattuple_approx_usable:
            heap_bloat = table_bloat_exact(min_bytes=min_bytes, using=using)
        else:
            heap_bloat = table_bloat_estimates(table_list, row_statistics, min_bytes=min_bytes)
        snapshot = dataclasses.replace(
            index_part,
            tables=tables_with_partition_totals(_with_index_figures(table_list, index_part.indexes)),
            table_bloat={qualify(b.schema, b.name): b for b in heap_bloat},
            # Read once the side connection is idle again: the sessions are counted by state.
            activity=activity_facts(using=using),
            sequences=sequence_list,
            unvalidated_constraints=constraints,
            databases=ages,
            replication_slots=slots,
            extension_updates=updates,
        )
        # One snapshot for the fixes' new index names: those the index part gave stay taken.
        object.__setattr__(snapshot, "_new_names", index_part._new_names)
        return snapshot

    return index_part, whole


def take_index_snapshot(
    *, using: str = "default", nodes: list[str] | None = None, bloat_min_bytes: int | None = None
) -> Snapshot:
    """Read what the findings about indexes are made of: every index, its usage on every node, bloat, key facts,
    foreign keys and vector columns.

    What /indexes/ shows. Tables (their sizes are half the reading at 30,000 indexes), their bloat, sequences,
    constraints, ages, slots and sessions are left out (empty): no finding about an index is made from them.
    """
    return _index_part(using, nodes, bloat_min_bytes, side_is_free=True)[0]


def _index_part(
    using: str, nodes: list[str] | None, bloat_min_bytes: int | None, *, side_is_free: bool
) -> tuple[Snapshot, StatisticsByRelation]:
    """Return the index snapshot (see take_index_snapshot) and the row statistics it was made with.

    side_is_free: nothing else is read on the side connection (pg/beside.py): the names new indexes must not take
    (~17 ms at 10,000 tables) and half the indexes' activity are read there.
    """
    validated_alias(using)

    def taken_names() -> dict[str, frozenset[str]]:
        return _by_schema(other_relation_names_ending(NEW_INDEX_SUFFIXES, using=using))

    node_aliases = _node_aliases(using, nodes)
    statistics = database_statistics(using=using)
    index_list, fingerprint = index_cache.indexes_and_fingerprint(using=using, halves=side_is_free)
    index_list = indexes_with_partition_totals(index_list)
    read_taken_names = read_beside(taken_names, using=using) if side_is_free else taken_names
    if bloat_min_bytes is None:
        bloat_min_bytes = app_settings()["BLOAT_MIN_BYTES"]
    usage = _node_usage(using, node_aliases, statistics, index_list)
    # pg_stats changes only with ANALYZE or DDL: its rows are kept under the fingerprint the indexes were read with.
    row_statistics = (
        kept_statistics(fingerprint, using=using)
        if fingerprint is not None
        else by_relation(relation_statistics(using=using))
    )
    if statistics.pgstatindex_usable:
        bloat = btree_bloat_exact(min_bytes=bloat_min_bytes, using=using)
    else:
        bloat = btree_bloat_estimates(index_list, row_statistics, min_bytes=bloat_min_bytes)
    snapshot = Snapshot(
        database=using,
        statistics=statistics,
        indexes=index_list,
        tables=[],
        foreign_keys=foreign_keys(using=using),
        vector_columns=vector_columns(using=using),
        bloat={qualify(b.schema, b.name): b for b in bloat},
        nodes=usage,
        key_facts=_key_facts(row_statistics),
        taken_names=read_taken_names(),
        locked=locked_relations(using=using),
    )
    return snapshot, row_statistics


def _key_facts(row_statistics: dict[tuple[bool, str], RelationStatistics]) -> dict[str, RelationStatistics]:
    return {name: row for (is_index, name), row in row_statistics.items() if is_index}


def _node_aliases(using: str, nodes: list[str] | None) -> list[str]:
    node_aliases = list(nodes if nodes is not None else app_settings()["NODES"])
    if using not in node_aliases:
        node_aliases.insert(0, using)
    return node_aliases


def _node_usage(
    using: str,
    node_aliases: list[str],
    statistics: DatabaseStatistics,
    index_list: list[IndexInfo],
    table: tuple[str, str] | None = None,
) -> list[NodeUsage]:
    """Return each node's scan counts: using's from index_list, the others' read from them (of table, if given)."""
    usage = [
        NodeUsage(
            node=using,
            scans={index.qualified_name: index.scans for index in index_list},
            stats_age=statistics.now - statistics.stats_since,
        )
    ]
    for node in node_aliases:
        if node == using:
            continue
        node_statistics = database_statistics(using=node)
        usage.append(
            NodeUsage(
                node=node,
                scans={qualify(u.schema, u.name): u.scans for u in index_usage(table=table, using=node)},
                stats_age=node_statistics.now - node_statistics.stats_since,
            )
        )
    return usage


def take_table_index_snapshot(
    schema: str, table: str, *, using: str = "default", nodes: list[str] | None = None
) -> Snapshot:
    """Read what the findings about one table's indexes need: those indexes, their bloat and key facts, usage.

    One index's page shows its findings; duplicates and redundancy are found among its table's indexes, so those are
    read, not every index, and the table's foreign keys (an index that is the only one serving a key is never
    unused). Tables, other tables' keys, vector columns, sequences and sessions are left out (empty).
    """
    validated_alias(using)
    statistics = database_statistics(using=using)
    own = indexes_of_table(schema, table, using=using)
    # A partitioned index's figures are those of the indexes attached below it, on its partitions (partitions.py).
    below = indexes_below([index for index in own if index.is_partitioned], using=using)
    index_list = indexes_with_partition_totals(own + below)[: len(own)]
    row_statistics = by_relation(relation_statistics(table=(schema, table), using=using))
    if statistics.pgstatindex_usable:
        bloat = btree_bloat_exact(table=(schema, table), using=using)
    else:
        bloat = btree_bloat_estimates(index_list, row_statistics)
    return Snapshot(
        database=using,
        statistics=statistics,
        indexes=index_list,
        tables=[],
        foreign_keys=foreign_keys(table=(schema, table), using=using),
        vector_columns=[],
        bloat={qualify(b.schema, b.name): b for b in bloat},
        nodes=_node_usage(using, _node_aliases(using, nodes), statistics, index_list, table=(schema, table)),
        key_facts=_key_facts(row_statistics),
        # A new index name on this table starts with the table's name, or its first 48 bytes when cut to 63.
        taken_names=_by_schema(relation_names_starting(schema, identifiers.first_bytes(table, 48), using=using)),
    )


def _by_schema(relations: list[RelationName]) -> dict[str, frozenset[str]]:
    names: dict[str, set[str]] = defaultdict(set)
    for relation in relations:
        names[relation.schema].add(relation.name)
    return {schema: frozenset(found) for schema, found in names.items()}


def _with_index_figures(table_list: list[TableHealth], index_list: list[IndexInfo]) -> list[TableHealth]:
    """Return the tables with index_bytes (and total_bytes) and index_scans summed from the indexes just read, not
    read again (tables(measure_indexes=False) leaves them 0).

    The rows were read for this snapshot alone and nothing else holds them yet, so they are completed in place
    (as a frozen dataclass's own __post_init__ would): building a copy of each cost ~60 ms at 10,000 tables.
    """
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    scans: dict[tuple[str, str], int] = defaultdict(int)
    for index in index_list:
        if index.is_partitioned:
            continue  # its figures are its partitions' indexes' (partitions.py): those are counted on their tables
        key = (index.schema, index.table)
        sizes[key] += index.size_bytes
        scans[key] += index.scans
    for table in table_list:
        key = (table.schema, table.name)
        size = sizes.get(key, 0)
        if size:
            object.__setattr__(table, "index_bytes", size)
            object.__setattr__(table, "total_bytes", table.total_bytes + size)
        count = scans.get(key, 0)
        if count:
            object.__setattr__(table, "index_scans", count)
    return table_list
