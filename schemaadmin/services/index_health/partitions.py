"""Partitioned tables and indexes store nothing and are never scanned themselves: their partitions are.

A report shows a partitioned table's sizes, and a partitioned index's size and scans, as the sums over the
partitions below it (every level), added up here from the rows already read: measuring them again on the server
would read each partition's files once more (pg_partition_tree() beside pg_relation_size()), doubling the size reads
of a partitioned schema, the largest there are.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence

from schemaadmin.pg.indexes import IndexInfo, indexes_below
from schemaadmin.pg.relations import TableHealth

__all__ = ["index_with_partition_totals", "indexes_with_partition_totals", "tables_with_partition_totals"]


def _summed_below[Row, Key: Hashable](
    rows: Sequence[Row], key: Callable[[Row], Key], parent: Callable[[Row], Key | None], fields: tuple[str, ...]
) -> dict[Key, tuple[int, ...]]:
    """Return, for each row that has rows below it, the sums of fields over itself and every row below it."""
    children: dict[Key, list[Row]] = defaultdict(list)
    for row in rows:
        above = parent(row)
        if above is not None:
            children[above].append(row)
    totals: dict[Key, tuple[int, ...]] = {}

    def total(row: Row) -> tuple[int, ...]:
        if key(row) in totals:
            return totals[key(row)]
        own = tuple(getattr(row, name) for name in fields)
        below = [total(child) for child in children.get(key(row), ())]
        if not below:
            return own
        totals[key(row)] = tuple(sum(values) for values in zip(own, *below, strict=True))
        return totals[key(row)]

    for row in rows:
        if key(row) in children:
            total(row)
    return totals


_INDEX_FIELDS = ("size_bytes", "scans", "tuples_read", "tuples_fetched")


def indexes_with_partition_totals(indexes: list[IndexInfo]) -> list[IndexInfo]:
    """Return indexes with each partitioned index's size, scans and tuples the sums over the indexes attached below
    it. Those rows are copies: the others may be pg.index_cache's kept objects, never changed."""
    if not any(index.is_partitioned for index in indexes):
        return indexes
    totals = _summed_below(
        indexes, key=lambda index: index.qualified_name, parent=lambda index: index.partition_of, fields=_INDEX_FIELDS
    )
    return [
        _with_totals(index, totals[index.qualified_name]) if index.qualified_name in totals else index
        for index in indexes
    ]


def index_with_partition_totals(index: IndexInfo, *, using: str = "default") -> IndexInfo:
    """Return one index read alone with its partitions' figures when it is partitioned (one more statement)."""
    if not index.is_partitioned:
        return index
    return indexes_with_partition_totals([index, *indexes_below([index], using=using)])[0]


def _with_totals(index: IndexInfo, totals: tuple[int, ...]) -> IndexInfo:
    size_bytes, scans, tuples_read, tuples_fetched = totals
    return dataclasses.replace(
        index, size_bytes=size_bytes, scans=scans, tuples_read=tuples_read, tuples_fetched=tuples_fetched
    )


_TABLE_FIELDS = ("total_bytes", "table_bytes", "index_bytes", "index_scans")


def tables_with_partition_totals(tables: list[TableHealth]) -> list[TableHealth]:
    """Return tables with each partitioned table's sizes and index scans the sums over its partitions, every level.

    The rows were read for one snapshot alone and nothing else holds them yet: completed in place, as
    snapshot._with_index_figures completes them."""
    totals = _summed_below(
        tables,
        key=lambda table: (table.schema, table.name),
        parent=lambda table: table.partition_of,
        fields=_TABLE_FIELDS,
    )
    for table in tables:
        summed = totals.get((table.schema, table.name))
        if summed is not None:
            for name, value in zip(_TABLE_FIELDS, summed, strict=True):
                object.__setattr__(table, name, value)
    return tables
