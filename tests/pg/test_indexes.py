"""schemaadmin/pg/indexes.py against planted objects: definitions read part by part, one query for all."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schemaadmin.pg.bulk import index_definition
from schemaadmin.pg.connection import RowMismatch, fetch_only_row, fetch_row, fetch_rows, fetch_tuples
from schemaadmin.pg.constraints import foreign_keys
from schemaadmin.pg.index_lookups import IndexUsage, index_usage
from schemaadmin.pg.indexes import index, indexes
from schemaadmin.pg.indexes import index as index_state
from schemaadmin.pg.recall import index_target
from schemaadmin.pg.row_statistics import btree_bloat, relation_statistics


def by_name(schema):
    return {i.name: i for i in indexes() if i.schema == schema}


def test_hnsw_options_expressions_opclasses_and_predicates_are_read_from_the_catalog(plant):
    s = plant.schema
    plant.table("docs", "id int PRIMARY KEY, title text, embedding vector(3072), lang text")
    plant.sql(
        f"CREATE INDEX docs_hnsw ON {s}.docs USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops) "
        "WITH (m = 24, ef_construction = 100) WHERE lang = 'en'"
    )
    plant.sql(f"CREATE INDEX docs_title ON {s}.docs (lower(title) text_pattern_ops, id DESC) INCLUDE (lang)")
    found = by_name(s)

    hnsw = found["docs_hnsw"]
    assert hnsw.method == "hnsw" and hnsw.is_vector
    assert hnsw.columns == ("(embedding::halfvec(3072))",)
    assert hnsw.opclasses == ("halfvec_cosine_ops",)
    assert hnsw.key_types == ("halfvec(3072)",) and hnsw.dimensions == 3072
    assert hnsw.options == {"m": "24", "ef_construction": "100"}
    assert hnsw.option("m") == 24 and hnsw.option("lists") is None
    assert hnsw.predicate == "lang = 'en'::text"
    assert hnsw.key_attnums == (0,) and set(hnsw.referenced_attnums) == {3, 4}  # embedding, and lang in WHERE

    title = found["docs_title"]
    assert title.columns == ("lower(title)", "id")
    assert title.key_flags == (0, 3)  # DESC (and so NULLS FIRST) on the second key
    assert title.included == ("lang",)
    assert title.opclasses == ("text_pattern_ops", "int4_ops")

    pkey = found["docs_pkey"]
    assert pkey.is_primary and pkey.constraint == "docs_pkey" and pkey.backs_constraint
    assert not title.backs_constraint


def test_usage_counters_and_validity(plant):
    s = plant.schema
    plant.table("t", "id int PRIMARY KEY, x int", rows=100, fill="i, 1")
    plant.sql("SET enable_seqscan = off")
    plant.sql(f"SELECT * FROM {s}.t WHERE id = 3")  # noqa: S608 -- a test schema name
    plant.flush_stats()
    try:
        plant.sql(f"CREATE UNIQUE INDEX CONCURRENTLY t_x ON {s}.t (x)")
    except Exception:
        pass
    found = by_name(s)
    assert found["t_pkey"].scans == 1
    assert (found["t_pkey"].last_scan is not None) == (connection.pg_version >= 160000)  # last_idx_scan: 16's
    assert found["t_pkey"].tuples_fetched == 1
    assert not found["t_x"].is_valid and not found["t_x"].build_running
    assert {(u.name, u.scans) for u in index_usage() if u.schema == s} >= {("t_pkey", 1)}


def _indexed_table(plant, name: str, rows: int, *, analyzed: bool = True) -> None:
    """Plant table name with rows ids and a btree name_id over them, analyzed unless told otherwise."""
    plant.table(name, "id int", rows=rows, fill="i")
    plant.sql(f"CREATE INDEX {name}_id ON {plant.schema}.{name} (id)")
    if analyzed:
        plant.sql(f"ANALYZE {plant.schema}.{name}")


def test_btree_bloat_skips_indexes_without_statistics(plant):
    _indexed_table(plant, "a", 1000)
    _indexed_table(plant, "b", 1000, analyzed=False)
    measured = {b.name: b for b in btree_bloat() if b.schema == plant.schema}
    assert set(measured) == {"a_id"}
    assert measured["a_id"].real_bytes > 0 and 0 <= measured["a_id"].wasted_ratio < 0.5


def test_btree_bloat_measures_only_indexes_big_enough_to_matter(plant):
    _indexed_table(plant, "small", 100)
    _indexed_table(plant, "big", 20_000)
    sizes = {b.name: b.real_bytes for b in btree_bloat() if b.schema == plant.schema}
    assert sizes["small_id"] < sizes["big_id"]
    kept = {b.name for b in btree_bloat(min_bytes=sizes["big_id"]) if b.schema == plant.schema}
    assert kept == {"big_id"}


def test_each_question_is_one_query_however_many_indexes(plant):
    s = plant.schema
    for n in range(30):
        plant.table(f"t{n}", "id int PRIMARY KEY, x int, y int")
        plant.sql(f"CREATE INDEX t{n}_x ON {s}.t{n} (x, y)")
    for question in (indexes, foreign_keys, relation_statistics, index_usage):
        with CaptureQueriesContext(connection) as queries:
            question()
        assert len(queries) == 1, question.__name__


def test_one_index_is_the_same_row_as_in_the_list_of_all(plant):
    s = plant.schema
    plant.table(
        "docs",
        "id int PRIMARY KEY, title text, embedding vector(3), lang text",
        rows=10,
        fill="i, 't' || i, NULL, 'en'",
    )
    plant.sql(
        f"CREATE INDEX docs_hnsw ON {s}.docs USING hnsw ((embedding::halfvec(3)) halfvec_cosine_ops) "
        "WITH (m = 24) WHERE lang = 'en'"
    )
    plant.sql(f"CREATE INDEX docs_title ON {s}.docs (lower(title) text_pattern_ops, id DESC) INCLUDE (lang)")
    plant.sql(f'CREATE UNIQUE INDEX "odd Name" ON {s}.docs (title)')
    plant.sql(f"ANALYZE {s}.docs")
    listed = by_name(s)
    assert set(listed) == {"docs_pkey", "docs_hnsw", "docs_title", "odd Name"}
    for name, row in listed.items():
        assert index(s, name) == row, name
    hnsw = listed["docs_hnsw"]
    assert hnsw.table_rows == 10
    assert hnsw.shape == hnsw.definition.replace(" docs_hnsw ", " ")
    assert listed["odd Name"].shape == listed["odd Name"].definition.replace(' "odd Name" ', " ")
    assert index(s, "nope") is None and index("nope", "docs_pkey") is None
    # Like indexes(), index() reads user schemas only.
    assert index("pg_catalog", "pg_class_oid_index") is None


def test_one_index_is_one_query_however_many_indexes_there_are(plant):
    s = plant.schema
    for t in range(20):
        plant.table(f"t{t}", ", ".join(f"c{c} int" for c in range(10)))
        plant.sql("; ".join(f"CREATE INDEX t{t}_c{c} ON {s}.t{t} (c{c})" for c in range(10)))
    assert len(by_name(s)) == 200
    lookups = {
        "index": lambda: index(s, "t13_c7"),
        "index_state": lambda: index_state(s, "t13_c7"),
        "index_target": lambda: index_target(s, "t13_c7"),
        "index_definition": lambda: index_definition("t13_c7", schema=s),
    }
    for lookup_name, lookup in lookups.items():
        with CaptureQueriesContext(connection) as queries:
            found = lookup()
        assert found is not None, lookup_name
        assert len(queries) == 1, lookup_name
        # The server picks the index: the statement names it (as a parameter), nothing is filtered in Python.
        assert "'t13_c7'" in queries[0]["sql"], lookup_name
    assert index(s, "t13_c7").columns == ("c7",)


def test_rows_are_filled_by_column_name_and_a_misnamed_alias_fails_loudly(db):
    (usage,) = fetch_rows(IndexUsage, "SELECT 3 AS scans, NULL::timestamptz AS last_scan, 'n' AS name, 's' AS schema")
    assert usage == IndexUsage(schema="s", name="n", scans=3, last_scan=None)
    with pytest.raises(RowMismatch, match=r"columns without a field: nmae; fields without a column: name"):
        fetch_rows(IndexUsage, "SELECT 's' AS schema, 'n' AS nmae, 3 AS scans, NULL::timestamptz AS last_scan")
    # Checked against the statement's columns, so a misnamed alias fails even when no row comes back.
    with pytest.raises(RowMismatch, match=r"fields without a column: last_scan"):
        fetch_row(IndexUsage, "SELECT 's' AS schema, 'n' AS name, 3 AS scans WHERE false")
    with pytest.raises(RowMismatch, match=r"columns named twice: name"):
        fetch_rows(IndexUsage, "SELECT 's' AS schema, 'n' AS name, 'm' AS name, 3 AS scans, now() AS last_scan")
    with pytest.raises(RowMismatch, match=r"at most one IndexUsage"):
        fetch_row(
            IndexUsage,
            "SELECT 's' AS schema, 'n' AS name, i AS scans, now() AS last_scan FROM generate_series(1, 2) AS i",
        )
    assert (
        fetch_row(IndexUsage, "SELECT 's' AS schema, 'n' AS name, 1 AS scans, now() AS last_scan WHERE false") is None
    )
    # A statement that must return its one row (an aggregate, settings) says so when it returns none.
    with pytest.raises(RowMismatch, match=r"Expected one IndexUsage row, the statement returned none"):
        fetch_only_row(IndexUsage, "SELECT 's' AS schema, 'n' AS name, 1 AS scans, now() AS last_scan WHERE false")
    one = fetch_only_row(IndexUsage, "SELECT 's' AS schema, 'n' AS name, 1 AS scans, NULL::timestamptz AS last_scan")
    assert one == IndexUsage(schema="s", name="n", scans=1, last_scan=None)


def test_rows_as_tuples_keep_the_fields_order_and_refuse_another_or_an_array(db):
    # IndexUsage's fields: schema, name, scans, last_scan. The kept index rows compare activity read this way.
    rows = fetch_tuples(IndexUsage, "SELECT 's' AS schema, 'n' AS name, 3 AS scans, NULL::timestamptz AS last_scan")
    assert rows == [("s", "n", 3, None)]
    with pytest.raises(RowMismatch, match="in order"):
        fetch_tuples(IndexUsage, "SELECT 'n' AS name, 's' AS schema, 3 AS scans, NULL::timestamptz AS last_scan")
    with pytest.raises(RowMismatch, match="fields without a column: last_scan"):
        fetch_tuples(IndexUsage, "SELECT 's' AS schema, 'n' AS name, 3 AS scans")
    with pytest.raises(RowMismatch, match="an array"):
        fetch_tuples(IndexUsage, "SELECT 's' AS schema, 'n' AS name, ARRAY[3] AS scans, now() AS last_scan")
    # fetch_rows turns arrays into tuples (rows are frozen), whatever the column's position.
    (usage,) = fetch_rows(IndexUsage, "SELECT ARRAY[1, 2] AS scans, now() AS last_scan, 'n' AS name, 's' AS schema")
    assert usage.scans == (1, 2)


def test_a_partition_s_index_and_vector_column_name_their_parent_by_its_own_key(plant):
    from schemaadmin.pg.vectors import vector_columns

    s = plant.schema
    plant.sql(f'CREATE TABLE {s}."p.t" (id int, at int, e vector(3)) PARTITION BY RANGE (at)')
    plant.sql(f'CREATE TABLE {s}."p.t 1" PARTITION OF {s}."p.t" FOR VALUES FROM (0) TO (10)')
    plant.sql(f'CREATE INDEX "p.t_at" ON {s}."p.t" (at)')
    found = by_name(s)
    (child,) = [i for i in found.values() if i.partition_of is not None]
    assert child.partition_of == found["p.t_at"].qualified_name == f'{s}."p.t_at"'
    columns = {(c.table, c.column): c for c in vector_columns() if c.schema == s}
    assert columns[("p.t 1", "e")].partition_of == columns[("p.t", "e")].qualified_table
