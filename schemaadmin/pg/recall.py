"""The SQL of a recall check: an ANN index's key and operator, sample vectors, and timed top-k queries.

Every query orders by exactly the index's key expression (pg_get_indexdef(oid, 1, true)), cast the query vector
to the key's stored type, and uses the operator of the index's operator class, so the planner can walk the
index. The exact answers come from the same statement with index scans disabled; both run in transactions that
are rolled back, so SET LOCAL never leaks into the connection. Expression, type and predicate texts come from
the catalog (never from input); values are parameters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from psycopg import sql

from schemaadmin.pg.connection import cursor, fetch_one
from schemaadmin.pg.indexes import IndexInfo, index, indexes_below

__all__ = [
    "SEARCH_SETTINGS",
    "IndexTarget",
    "TimedAnswer",
    "ann_answers",
    "attached_index_names",
    "exact_answers",
    "index_target",
    "sample_vectors",
    "scanned_indexes",
    "search_setting",
    "unreadable_by",
]

# The query-time setting each ANN access method reads, and pgvector's default for it.
SEARCH_SETTINGS: dict[str, tuple[str, int]] = {"hnsw": ("hnsw.ef_search", 40), "ivfflat": ("ivfflat.probes", 1)}

# Distance operator of each pgvector operator class family (vector_, halfvec_, sparsevec_ share them).
OPERATORS: dict[str, str] = {
    "l2_ops": "<->",
    "ip_ops": "<#>",
    "cosine_ops": "<=>",
    "l1_ops": "<+>",
    "bit_hamming_ops": "<~>",
    "bit_jaccard_ops": "<%>",
}
VECTOR_TYPES = ("vector_", "halfvec_", "sparsevec_")

# Sampling: ask TABLESAMPLE for this many times the rows wanted, and grow the share this much per retry.
SAMPLE_OVERSHOOT = 3
SAMPLE_GROWTH = 4
SAMPLE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class IndexTarget:
    """What a recall check reads of an index (its first key, that key's operator and stored type), from IndexInfo."""

    index: IndexInfo

    @property
    def schema(self) -> str:
        return self.index.schema

    @property
    def name(self) -> str:
        return self.index.name

    @property
    def table(self) -> str:
        return self.index.table

    @property
    def method(self) -> str:
        return self.index.method

    @property
    def expression(self) -> str:
        """Return the first key as pg_get_indexdef(oid, 1, true) writes it, e.g. (embedding::halfvec(3072))."""
        return self.index.columns[0]

    @property
    def opclass(self) -> str | None:
        return self.index.opclasses[0]

    @property
    def key_type(self) -> str:
        """Return the first key's stored type, e.g. halfvec(3072): what a query vector is cast to."""
        return self.index.key_types[0]

    @property
    def predicate(self) -> str | None:
        return self.index.predicate

    @property
    def is_valid(self) -> bool:
        return self.index.is_valid

    @property
    def estimated_rows(self) -> float:
        """Return the planner's row estimate of the table: -1 before the first VACUUM or ANALYZE."""
        return -1.0 if self.index.table_rows is None else float(self.index.table_rows)

    @property
    def qualified_name(self) -> str:
        return self.index.qualified_name

    @property
    def operator(self) -> str | None:
        """Return the distance operator of the index's operator class, or None if it is not pgvector's."""
        if self.opclass is None:
            return None
        if self.opclass.startswith("bit_"):
            return OPERATORS.get(self.opclass)
        for prefix in VECTOR_TYPES:
            if self.opclass.startswith(prefix):
                return OPERATORS.get(self.opclass.removeprefix(prefix))
        return None

    @property
    def lists(self) -> int | None:
        """Return an IVFFlat index's lists (pgvector's default 100 when not set), None for other methods."""
        if self.method != "ivfflat":
            return None
        lists = self.index.option("lists")
        return 100 if lists is None else lists


@dataclass(frozen=True, slots=True)
class TimedAnswer:
    distances: tuple[float, ...]  # the top-k distances, nearest first
    seconds: float  # wall time of the query as the client saw it


def index_target(schema: str, name: str, *, using: str = "default") -> IndexTarget | None:
    """Return what a recall check needs to know about index schema.name, or None if there is no such index."""
    found = index(schema, name, using=using)
    return None if found is None else IndexTarget(found)


def unreadable_by(target: IndexTarget, *, using: str = "default") -> str | None:
    """Return this role's name when it may not read what a recall check samples and searches: USAGE on the index's
    schema, and SELECT on its table or at least on the columns the index reads (its key, expressions and predicate,
    which pg_depend records) and ctid (the samples are picked by it); None when it may."""
    row = fetch_one(
        """
        SELECT current_user::text,
               has_schema_privilege(n.oid, 'USAGE')
               AND (has_table_privilege(t.oid, 'SELECT')
                    OR (has_column_privilege(t.oid, 'ctid', 'SELECT')
                        AND NOT EXISTS (
                            SELECT FROM pg_depend AS d
                            WHERE d.classid = 'pg_class'::regclass
                              AND d.objid = i.oid
                              AND d.refclassid = 'pg_class'::regclass
                              AND d.refobjid = t.oid
                              AND d.refobjsubid > 0
                              AND NOT has_column_privilege(t.oid, d.refobjsubid::smallint, 'SELECT')
                        )))
        FROM pg_class AS i
        JOIN pg_namespace AS n ON n.oid = i.relnamespace
        JOIN pg_index AS x ON x.indexrelid = i.oid
        JOIN pg_class AS t ON t.oid = x.indrelid
        WHERE n.nspname = %s AND i.relname = %s
        """,
        [target.schema, target.name],
        using=using,
    )
    return None if row is None or row[1] else str(row[0])


def _table(target: IndexTarget) -> sql.Composable:
    return sql.Identifier(target.schema, target.table)


def _key(target: IndexTarget) -> sql.Composable:
    # Catalog text, not input: pg_get_indexdef wrote it from the index's own expression tree.
    return sql.SQL("({})").format(sql.SQL(target.expression))


def _where(target: IndexTarget) -> sql.Composable:
    """Return the WHERE clause every query needs: a key to compare, and a partial index's predicate."""
    clause = sql.SQL("WHERE {key} IS NOT NULL").format(key=_key(target))
    if target.predicate:
        clause = sql.SQL("{clause} AND ({predicate})").format(clause=clause, predicate=sql.SQL(target.predicate))
    return clause


def _knn_statement(target: IndexTarget) -> sql.Composed:
    """Return the top-k statement: the index's key, its operator, the query vector cast to the key's type."""
    if target.operator is None:
        raise ValueError(f"Index {target.qualified_name} has no pgvector distance operator.")
    return sql.SQL(
        """
        SELECT {key} {operator} %(vector)s::{key_type} AS distance
        FROM {table}
        {where}
        ORDER BY distance
        LIMIT %(k)s
        """
    ).format(
        key=_key(target),
        operator=sql.SQL(target.operator),
        key_type=sql.SQL(target.key_type),
        table=_table(target),
        where=_where(target),
    )


def _table_pages(target: IndexTarget, *, using: str) -> int:
    """Return the pages of the index's table on disk now (what sampling a never-analyzed table is sized from)."""
    row = fetch_one(
        """
        SELECT pg_relation_size(t.oid) / current_setting('block_size')::bigint
        FROM pg_class AS t
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        WHERE n.nspname = %(schema)s AND t.relname = %(table)s
        """,
        {"schema": target.schema, "table": target.table},
        using=using,
    )
    return 0 if row is None else int(row[0])


def sample_vectors(target: IndexTarget, samples: int, *, seed: int = 0, using: str = "default") -> list[str]:
    """Return up to `samples` keys of the index's table as text, picked with TABLESAMPLE SYSTEM, never a full sort.

    The share of blocks asked for is sized from the table's row estimate (its page count when never analyzed)
    and grown until enough rows come back; the rows drawn are then picked by a hash of their ctid and the seed,
    so the same seed on an unchanged table gives the same samples.
    """
    if target.estimated_rows > 0:
        percent = 100.0 * SAMPLE_OVERSHOOT * samples / target.estimated_rows
    else:  # never analyzed: every non-empty page holds at least one row
        percent = 100.0 * SAMPLE_OVERSHOOT * samples / max(_table_pages(target, using=using), 1)
    statement = sql.SQL(
        """
        SELECT drawn.key::text AS vector
        FROM (
            SELECT {key} AS key, ctid
            FROM {table} TABLESAMPLE SYSTEM (%(percent)s) REPEATABLE (%(seed)s)
            {where}
        ) AS drawn
        ORDER BY md5(drawn.ctid::text || %(seed)s::text)
        LIMIT %(samples)s
        """
    ).format(key=_key(target), table=_table(target), where=_where(target))
    rows: list[str] = []
    with cursor(using) as cur:
        for _attempt in range(SAMPLE_ATTEMPTS):
            percent = min(percent, 100.0)
            cur.cursor.execute(statement, {"percent": percent, "seed": seed, "samples": samples}, prepare=False)
            rows = [row[0] for row in cur.cursor.fetchall()]
            if len(rows) >= samples or percent >= 100.0:
                break
            percent *= SAMPLE_GROWTH
    return rows


def search_setting(method: str, *, using: str = "default") -> int:
    """Return this session's hnsw.ef_search or ivfflat.probes (pgvector's default if the library is not loaded)."""
    name, default = SEARCH_SETTINGS[method]
    row = fetch_one("SELECT current_setting(%s, true) AS value", [name], using=using)
    value = row[0] if row else None
    return int(value) if value not in (None, "") else default


@contextmanager
def _rolled_back(
    target: IndexTarget, *, exact: bool, search_value: int | None, timeout_ms: int, using: str
) -> Iterator[Any]:
    """Yield a raw cursor in a transaction set up for exact or ANN search; roll the transaction back after."""
    with transaction.atomic(using=using), cursor(using) as wrapper:
        cur = wrapper.cursor
        settings: list[tuple[str, str]] = [("statement_timeout", f"{timeout_ms}ms")]
        if exact:
            settings += [("enable_indexscan", "off"), ("enable_indexonlyscan", "off"), ("enable_bitmapscan", "off")]
        else:
            # Small or unanalyzed tables look cheaper to scan; a recall check is about the index.
            settings.append(("enable_seqscan", "off"))
            if search_value is not None:
                settings.append((SEARCH_SETTINGS[target.method][0], str(search_value)))
        for name, value in settings:
            cur.execute("SELECT set_config(%s, %s, true) AS value", [name, value], prepare=False)
        try:
            yield cur
        finally:
            transaction.set_rollback(True, using=using)


def _answers(
    target: IndexTarget,
    vectors: Sequence[str],
    *,
    k: int,
    exact: bool,
    search_value: int | None,
    timeout_ms: int,
    using: str,
) -> list[TimedAnswer]:
    statement = _knn_statement(target)
    answers = []
    with _rolled_back(target, exact=exact, search_value=search_value, timeout_ms=timeout_ms, using=using) as cur:
        for vector in vectors:
            started = time.perf_counter()
            # prepare=False: a prepared plan would keep the first settings it saw.
            cur.execute(statement, {"vector": vector, "k": k}, prepare=False)
            rows = cur.fetchall()
            answers.append(TimedAnswer(tuple(float(row[0]) for row in rows), time.perf_counter() - started))
    return answers


def ann_answers(
    target: IndexTarget,
    vectors: Sequence[str],
    *,
    k: int,
    search_value: int | None = None,
    timeout_ms: int = 60_000,
    using: str = "default",
) -> list[TimedAnswer]:
    """Return the index's top-k distances for each query vector at a search setting (None: the session's)."""
    return _answers(target, vectors, k=k, exact=False, search_value=search_value, timeout_ms=timeout_ms, using=using)


def exact_answers(
    target: IndexTarget, vectors: Sequence[str], *, k: int, timeout_ms: int = 60_000, using: str = "default"
) -> list[TimedAnswer]:
    """Return the exact top-k distances for each query vector, computed with index scans disabled."""
    return _answers(target, vectors, k=k, exact=True, search_value=None, timeout_ms=timeout_ms, using=using)


def _plan_indexes(node: dict[str, Any]) -> Iterator[str]:
    if "Index Name" in node:
        yield node["Index Name"]
    for child in node.get("Plans", ()):
        yield from _plan_indexes(child)


def attached_index_names(target: IndexTarget, *, using: str = "default") -> frozenset[str]:
    """Return the names of the leaf partitions' indexes attached below a partitioned index, at every level: a plan
    of the partitioned table walks those (one per partition), never a partitioned index, which stores nothing.
    Empty for an index of a plain table."""
    if not target.index.is_partitioned:
        return frozenset()
    return frozenset(below.name for below in indexes_below([target.index], using=using) if not below.is_partitioned)


def scanned_indexes(
    target: IndexTarget,
    vector: str,
    *,
    k: int,
    exact: bool,
    search_value: int | None = None,
    using: str = "default",
) -> list[str]:
    """Return the indexes the plan of the ANN (or exact) top-k statement scans, under the same settings."""
    explain = sql.SQL("EXPLAIN (FORMAT JSON) {statement}").format(statement=_knn_statement(target))
    with _rolled_back(target, exact=exact, search_value=search_value, timeout_ms=60_000, using=using) as cur:
        cur.execute(explain, {"vector": vector, "k": k}, prepare=False)
        row = cur.fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return list(_plan_indexes(plan[0]["Plan"]))
