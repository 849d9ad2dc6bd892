"""Findings about how an index is built: over mostly NULL values, with a predicate that never filters, on a
boolean alone, or a btree over an array."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterator

from schemaadmin.pg import ddl
from schemaadmin.pg.identifiers import qualified
from schemaadmin.pg.indexes import IndexInfo
from schemaadmin.services.index_health.findings import Finding, index_finding
from schemaadmin.services.index_health.predicates import conjuncts, not_null_column, predicate_text
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.index_health.thresholds import Thresholds

__all__ = ["index_shape_findings"]


def _replace(snapshot: Snapshot, index: IndexInfo, *, suffix: str, predicate: str | None) -> str:
    """Return the fix that builds a copy of index with another predicate, then drops the index."""
    name = snapshot.new_index_name(index.schema, index.table, *index.columns, suffix=suffix, owner=index.name)
    copy = dataclasses.replace(ddl.index_definition_of(index, name=name), predicate=predicate)
    return ddl.script(*_create(copy, index), *ddl.drop_index_fix(index))


def _create(definition: ddl.IndexDefinition, beside: IndexInfo) -> tuple[ddl.Statement | str, ...]:
    return ddl.create_index_fix(definition, partitioned=beside.is_partitioned)


def _plain_btree(index: IndexInfo) -> bool:
    """Return whether index is a valid btree that serves lookups only (no constraint), over columns, not expressions."""
    return index.is_valid and index.method == "btree" and not index.backs_constraint and all(index.key_attnums)


_is_array_type = operator.methodcaller("endswith", "[]")  # e.g. text[]: one C call per key, not a generator


def _plain_btrees(snapshot: Snapshot) -> list[IndexInfo]:
    """Return the snapshot's plain btrees (what three of these rules look at), picked once from every index."""
    return [index for index in snapshot.judged_indexes if _plain_btree(index)]


def mostly_null(snapshot: Snapshot, thresholds: Thresholds, plain: list[IndexInfo]) -> Iterator[Finding]:
    for index in plain:
        if index.predicate is not None:
            continue
        facts = snapshot.key_facts.get(index.qualified_name)
        if facts is None:
            continue
        fraction = facts.leading_null_fraction
        if fraction is None or fraction < thresholds.mostly_null_min_fraction:
            continue
        column = index.columns[0]
        message = (
            f"{fraction:.0%} of {index.qualified_table}'s rows have {column} NULL, and {index.qualified_name} "
            f"stores every one of them. A partial index WHERE {column} IS NOT NULL is smaller and serves the same "
            f"lookups of values (not searches for {column} IS NULL)."
        )
        fix_sql = _replace(snapshot, index, suffix="not_null", predicate=f"{column} IS NOT NULL")
        yield index_finding("index_on_mostly_null_column", snapshot.database, index, message, fix_sql)


def needless_predicate(snapshot: Snapshot) -> Iterator[Finding]:
    for index in snapshot.judged_indexes:
        if index.predicate is None or not index.is_valid:
            continue
        facts = snapshot.key_facts.get(index.qualified_name)
        if facts is None:
            continue
        parts = conjuncts(index.predicate)
        if parts is None:
            continue
        not_null = set(facts.not_null_columns)
        needless = [part for part in parts if not_null_column(part) in not_null]
        if not needless:
            continue
        names = ", ".join(f"{not_null_column(part)} IS NOT NULL" for part in needless)
        kept = [part for part in parts if part not in needless]
        message = (
            f"{index.qualified_name} has WHERE {names}, but the column cannot be NULL: the condition filters "
            "nothing, and queries that do not repeat it cannot use the index."
        )
        fix_sql = _replace(snapshot, index, suffix="idx", predicate=predicate_text(kept))
        yield index_finding("needless_index_predicate", snapshot.database, index, message, fix_sql)


def boolean_index(snapshot: Snapshot, plain: list[IndexInfo]) -> Iterator[Finding]:
    for index in plain:
        if index.key_types != ("boolean",):
            continue
        column = index.columns[0]
        message = (
            f"{index.qualified_name} indexes only the boolean {column}: with two values, the planner reads the "
            "table instead for the common one. Index the rare value as a partial index over a useful column "
            f"(… WHERE {column}), or drop it."
        )
        fix_sql = ddl.script(
            *ddl.drop_index_fix(index),
            "-- or, if queries look for the rare value: CREATE INDEX CONCURRENTLY … ON "
            f"{qualified(index.schema, index.table)} (<a column they filter or sort by>) WHERE {column};",
        )
        yield index_finding("boolean_index", snapshot.database, index, message, fix_sql)


def btree_on_array(snapshot: Snapshot, plain: list[IndexInfo]) -> Iterator[Finding]:
    for index in plain:
        if not any(map(_is_array_type, index.key_types)):
            continue
        keys = zip(index.columns, index.key_types, strict=False)
        arrays = [column for column, key_type in keys if key_type.endswith("[]")]
        if not arrays:
            continue
        gin = ddl.IndexDefinition(
            schema=index.schema,
            table=index.table,
            name=snapshot.new_index_name(index.schema, index.table, *arrays, suffix="gin", owner=index.name),
            keys=tuple(ddl.IndexKey(expression=column) for column in arrays),
            method="gin",
        )
        message = (
            f"{index.qualified_name} is a btree over the array {', '.join(arrays)}: it serves only whole-array "
            "equality and ordering, not the containment and overlap searches (@>, <@, &&) arrays are queried "
            "with; a GIN index does, and btree entries of large arrays can exceed the page limit and fail inserts."
        )
        fix_sql = ddl.script(*_create(gin, index), *ddl.drop_index_fix(index))
        yield index_finding("btree_on_array_column", snapshot.database, index, message, fix_sql)


def index_shape_findings(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    """Yield every finding about how an index is built."""
    plain = _plain_btrees(snapshot)
    yield from mostly_null(snapshot, thresholds, plain)
    yield from needless_predicate(snapshot)
    yield from boolean_index(snapshot, plain)
    yield from btree_on_array(snapshot, plain)
