"""Findings only pgvector knows about: unindexed vector columns, dimensions past the limits, ANN parameters."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

from schemaadmin.pg import ddl, identifiers
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.pg.vectors import VectorColumn
from schemaadmin.services.index_health.findings import Finding, column_finding, index_finding
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.index_health.thresholds import Thresholds
from schemaadmin.services.index_health.vectors import (
    IVFFLAT_DEFAULT_LISTS,
    hnsw_build_bytes,
    memory_setting,
    recommended_lists,
    stored_value_bytes,
)

__all__ = ["vector_findings"]

_OPCLASS_NOTE = "-- pick the operator class of your distance: _cosine_ops for <=>, _l2_ops for <->, _ip_ops for <#>"


def _covers(index: IndexInfo, column: VectorColumn) -> bool:
    return column.attnum in index.key_attnums or column.attnum in index.referenced_attnums


def _ann_indexes_by_table(snapshot: Snapshot) -> dict[tuple[str, str], list[IndexInfo]]:
    """Return (schema, table) -> its valid HNSW and IVFFlat indexes, picked once from every index."""
    found: dict[tuple[str, str], list[IndexInfo]] = defaultdict(list)
    for index in snapshot.indexes:
        if index.is_vector and index.is_valid:
            found[(index.schema, index.table)].append(index)
    return found


def _hnsw(
    snapshot: Snapshot, column: VectorColumn, *, name_parts: tuple[str, ...], key: ddl.IndexKey
) -> tuple[ddl.Statement | str, ...]:
    """Return CREATE INDEX CONCURRENTLY ... USING hnsw over one key of column's table (plain on a partitioned one)."""
    name = snapshot.new_index_name(
        column.schema, column.table, column.column, *name_parts, suffix="hnsw", owner=column.column
    )
    definition = ddl.IndexDefinition(schema=column.schema, table=column.table, name=name, keys=(key,), method="hnsw")
    return ddl.create_index_fix(definition, partitioned=column.is_partitioned)


def _unindexable_fix(snapshot: Snapshot, column: VectorColumn) -> str:
    name = identifiers.quote_identifier(column.column)
    dimensions = column.dimensions or 0
    if dimensions <= 4000:
        cast = f"halfvec({dimensions})"
        key = ddl.IndexKey(expression=f"({name}::{cast})", opclass="halfvec_cosine_ops")
        return ddl.script(
            *_hnsw(snapshot, column, name_parts=("halfvec",), key=key),
            _OPCLASS_NOTE,
            f"-- queries must use the same cast to reach it: ORDER BY {name}::{cast} <=> $1::{cast} LIMIT k",
        )
    bits = f"binary_quantize({name})::bit({dimensions})"
    key = ddl.IndexKey(expression=f"({bits})", opclass="bit_hamming_ops")
    return ddl.script(
        *_hnsw(snapshot, column, name_parts=("bq",), key=key),
        f"-- queries: ORDER BY {bits} <~> binary_quantize($1) LIMIT k * 10,",
        "-- then re-rank those candidates by the exact distance",
    )


def columns(snapshot: Snapshot) -> Iterator[Finding]:
    """Yield the vector columns no ANN index serves.

    A partition's column is judged through its partitioned table: served when the table's own index covers it, or
    when every partition's index does (queries through the partitioned table use the partitions' indexes).
    """
    ann = _ann_indexes_by_table(snapshot)
    partitions: dict[tuple[str, str], list[VectorColumn]] = defaultdict(list)
    for column in snapshot.vector_columns:
        if column.partition_of is not None:
            partitions[(column.partition_of, column.column)].append(column)

    def served(column: VectorColumn) -> bool:
        if any(_covers(index, column) for index in ann.get((column.schema, column.table), ())):
            return True
        parts = partitions.get((column.qualified_table, column.column), [])
        return column.is_partitioned and bool(parts) and all(map(served, parts))

    def populated(column: VectorColumn) -> bool:
        # Autovacuum never analyzes a partitioned table: its own statistics may be missing or long stale.
        if column.is_partitioned:
            return any(map(populated, partitions.get((column.qualified_table, column.column), [])))
        return column.populated

    for column in snapshot.vector_columns:
        if column.type not in ("vector", "halfvec") or column.partition_of is not None or served(column):
            continue
        where = f"{column.qualified_table}.{column.column}"
        if column.too_wide_to_index:
            message = (
                f"{where} is {column.type}({column.dimensions}), past the {column.indexable_dimensions:,} "
                "dimensions HNSW and IVFFlat accept, and no ANN index over an expression on it exists, "
                "so every nearest-neighbour query reads the whole table."
            )
            fix_sql = _unindexable_fix(snapshot, column)
            yield column_finding("vector_dims_unindexable", snapshot.database, column, column.column, message, fix_sql)
        elif populated(column):
            key = ddl.IndexKey(column=column.column, opclass=f"{column.type}_cosine_ops")
            # Before the first ANALYZE nothing says how many of its rows are NULL: it may hold none.
            holds = "holds vectors" if column.null_fraction is not None else "may hold vectors (not analyzed yet)"
            message = (
                f"{where} {holds} but no HNSW or IVFFlat index covers it"
                + (" on every partition" if column.is_partitioned else "")
                + ", so every nearest-neighbour query computes the distance to every row."
            )
            fix_sql = (
                ddl.script(*_hnsw(snapshot, column, name_parts=(), key=key), _OPCLASS_NOTE)
                if column.dimensions
                else _without_dimensions(column)
            )
            yield column_finding("vector_column_unindexed", snapshot.database, column, column.column, message, fix_sql)


def _without_dimensions(column: VectorColumn) -> str:
    """Return the advice for a vector column declared without dimensions, which no ANN index accepts as it is."""
    name, table, kind = (
        identifiers.quote_identifier(column.column),
        identifiers.qualified(column.schema, column.table),
        column.type,
    )
    sizes = f"SELECT DISTINCT vector_dims({name}) FROM {table}"  # noqa: S608 -- quoted names, in a comment to read
    return "\n".join(
        [
            f'-- {kind} without dimensions: HNSW and IVFFlat refuse it ("column does not have dimensions").',
            f"-- If every row has the same size N ({sizes}), declare it; the ALTER rewrites the table under an",
            "-- ACCESS EXCLUSIVE lock:",
            f"-- ALTER TABLE {table} ALTER COLUMN {name} TYPE {kind}(N);",
            "-- Or index the rows of one size through a cast, and query with the same cast and condition:",
            f"-- CREATE INDEX CONCURRENTLY ON {table} USING hnsw (({name}::{kind}(N)) {kind}_cosine_ops)",
            f"--     WHERE vector_dims({name}) = N;",
        ]
    )


def ivfflat_lists(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for index in snapshot.indexes:
        # A partitioned index stores nothing: each partition's index has its own lists, for its own rows.
        if index.method != "ivfflat" or not index.is_valid or not index.table_rows or index.is_partitioned:
            continue
        lists = index.option("lists") or IVFFLAT_DEFAULT_LISTS
        advised = recommended_lists(index.table_rows)
        ratio = max(lists / advised, advised / lists)
        if ratio <= thresholds.ivfflat_lists_tolerance:
            continue
        message = (
            f"{index.qualified_name} has lists = {lists} for ≈{index.table_rows:,} rows, where about "
            f"{advised:,} fits (rows/1000 up to 1M rows, √rows above); it was likely built on too little data, "
            "so recall or speed suffers."
        )
        fix_sql = ddl.script(
            ddl.set_index_options(index.schema, index.name, {"lists": advised}),
            ddl.reindex_index(index.schema, index.name),
            f"-- then query with SET ivfflat.probes = {max(1, round(math.sqrt(advised)))};",
            *_inherited_lists_note(index),
        )
        yield index_finding("ivfflat_lists_mismatch", snapshot.database, index, message, fix_sql)


def _inherited_lists_note(index: IndexInfo) -> tuple[str, ...]:
    """Return what to know of a partition's index: new partitions take their options from the partitioned index."""
    if index.partition_of is None:
        return ()
    return (
        f"-- new partitions get their index, and its lists, from {index.partition_of}, whose options cannot be "
        "altered: create a new partition's index with its own lists before ATTACH PARTITION",
    )


def hnsw_memory(snapshot: Snapshot) -> Iterator[Finding]:
    available = snapshot.statistics.maintenance_work_mem_bytes
    for index in snapshot.indexes:
        # Each partition's index is built on its own, for its own rows; a partitioned index builds nothing.
        if index.method != "hnsw" or not index.table_rows or not index.key_types or index.is_partitioned:
            continue
        value_bytes = stored_value_bytes(index.key_types[0])
        if value_bytes is None:
            continue
        m = index.option("m") or 16
        needed = hnsw_build_bytes(index.table_rows, value_bytes, m)
        if needed <= available:
            continue
        setting = memory_setting(needed)
        message = (
            f"Rebuilding {index.qualified_name} needs about {needed / 2**20:,.0f} MB for its graph "
            f"(≈{index.table_rows:,} rows of {index.key_types[0]}, m = {m}) but maintenance_work_mem is "
            f"{available / 2**20:,.0f} MB, so the build would spill and run several times slower."
        )
        fix_sql = ddl.script(
            f"SET maintenance_work_mem = {identifiers.literal(setting)};  -- in the session that rebuilds",
            ddl.reindex_index(index.schema, index.name),
        )
        yield index_finding("hnsw_build_memory", snapshot.database, index, message, fix_sql)


def vector_findings(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    """Yield every pgvector finding of the snapshot."""
    yield from columns(snapshot)
    yield from ivfflat_lists(snapshot, thresholds)
    yield from hnsw_memory(snapshot)
