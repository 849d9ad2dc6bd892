"""Everything the findings are computed from, read from the catalog in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from schemaadmin.conf import app_settings
from schemaadmin.pg.connection import validated_alias
from schemaadmin.pg.indexes import (
    BtreeBloat,
    ForeignKey,
    IndexInfo,
    btree_bloat,
    btree_bloat_exact,
    foreign_keys,
    index_usage,
    indexes,
)
from schemaadmin.pg.relations import DatabaseStatistics, TableHealth, database_statistics, tables
from schemaadmin.pg.vectors import VectorColumn, vector_columns
from schemaadmin.services.workload.activity import ActivityFacts, activity_facts

__all__ = ["NodeUsage", "Snapshot", "take_snapshot"]


@dataclass(frozen=True, slots=True)
class NodeUsage:
    """One database node's own index scan counts (each replica counts the scans it served)."""

    node: str
    scans: dict[str, int] = field(hash=False)  # qualified index name -> idx_scan
    stats_age: timedelta


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

    def scans_by_node(self, index: IndexInfo) -> dict[str, int]:
        """Return the index's scan count on each node (0 where a node does not know the index)."""
        return {usage.node: usage.scans.get(index.qualified_name, 0) for usage in self.nodes}


def take_snapshot(*, using: str = "default", nodes: list[str] | None = None) -> Snapshot:
    """Read indexes, tables, foreign keys, vector columns and bloat from using, and index usage from every node."""
    validated_alias(using)
    node_aliases = list(nodes if nodes is not None else app_settings()["NODES"])
    if using not in node_aliases:
        node_aliases.insert(0, using)
    statistics = database_statistics(using=using)
    index_list = indexes(using=using)
    measure = btree_bloat_exact if statistics.pgstattuple_installed else btree_bloat
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
                scans={f"{u.schema}.{u.name}": u.scans for u in index_usage(using=node)},
                stats_age=node_statistics.now - node_statistics.stats_since,
            )
        )
    return Snapshot(
        database=using,
        statistics=statistics,
        indexes=index_list,
        tables=tables(using=using),
        foreign_keys=foreign_keys(using=using),
        vector_columns=vector_columns(using=using),
        bloat={f"{b.schema}.{b.name}": b for b in measure(using=using)},
        nodes=usage,
        activity=activity_facts(using=using),
    )
