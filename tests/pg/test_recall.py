"""The recall check's SQL on planted ANN indexes: the key and operator read, plans, samples and distances."""

from __future__ import annotations

import math

import pytest

from schemaadmin.pg.recall import (
    ann_answers,
    exact_answers,
    index_target,
    sample_vectors,
    scanned_indexes,
    search_setting,
)
from tests.models.test_knn import chunks  # noqa: F401 -- 1,000 product chunks under the product's index
from tests.recall_data import DIMS, ROWS, plant_items


@pytest.fixture
def items(plant):
    return plant_items(plant)


def _vectors(plant, ids):
    rows = plant.sql(f"SELECT id, embedding::text FROM {plant.schema}.items WHERE id = ANY(%s) ORDER BY id", [ids])  # noqa: S608 -- a test schema name
    return [text for _id, text in rows]


def test_the_key_expression_type_and_operator_come_from_the_index(items):
    hnsw = index_target(items.schema, "items_hnsw")
    assert hnsw is not None
    assert (hnsw.method, hnsw.opclass, hnsw.operator) == ("hnsw", "halfvec_cosine_ops", "<=>")
    assert hnsw.expression == f"(embedding::halfvec({DIMS}))" and hnsw.key_type == f"halfvec({DIMS})"
    assert hnsw.table == "items" and hnsw.is_valid and hnsw.estimated_rows == ROWS
    ivf = index_target(items.schema, "items_ivf")
    assert ivf is not None
    assert (ivf.operator, ivf.key_type, ivf.lists) == ("<->", f"vector({DIMS})", 20)
    assert index_target(items.schema, "nope") is None
    pkey = index_target(items.schema, "items_pkey")
    assert pkey is not None and pkey.method == "btree" and pkey.operator is None


@pytest.mark.parametrize("name", ["items_hnsw", "items_ivf"])
def test_the_ann_query_walks_the_index_and_the_exact_one_does_not(items, name):
    target = index_target(items.schema, name)
    vector = _vectors(items, [7])[0]
    assert scanned_indexes(target, vector, k=10, exact=False) == [name]
    assert scanned_indexes(target, vector, k=10, exact=False, search_value=3) == [name]
    assert scanned_indexes(target, vector, k=10, exact=True) == []


def test_settings_end_with_the_check(items):
    target = index_target(items.schema, "items_ivf")
    before = search_setting("ivfflat")
    ann_answers(target, _vectors(items, [1]), k=5, search_value=7)
    exact_answers(target, _vectors(items, [1]), k=5)
    assert search_setting("ivfflat") == before == 1
    assert scanned_indexes(target, _vectors(items, [1])[0], k=5, exact=False) == ["items_ivf"]


def test_samples_are_distinct_rows_repeatable_for_a_seed(items):
    target = index_target(items.schema, "items_hnsw")
    drawn = sample_vectors(target, 50, seed=3)
    assert len(drawn) == 50 and len(set(drawn)) == 50
    assert sample_vectors(target, 50, seed=3) == drawn
    assert sample_vectors(target, 50, seed=4) != drawn
    # Every sample is a row of the table, as the index stores it.
    known = {row[0] for row in items.sql(f"SELECT (embedding::halfvec({DIMS}))::text FROM {items.schema}.items")}  # noqa: S608 -- a test schema name
    assert set(drawn) <= known
    # A table smaller than the samples asked for gives all of its rows.
    assert len(sample_vectors(target, ROWS + 500)) == ROWS


def test_samples_of_a_never_analyzed_table_and_of_an_empty_one(plant):
    # Indexed while empty, filled afterwards: no row estimate yet, so sampling is sized from the table's pages.
    table = plant.table("fresh", "embedding vector(3)")
    plant.sql(f"CREATE INDEX fresh_hnsw ON {table} USING hnsw (embedding vector_l2_ops)")
    plant.sql(f"INSERT INTO {table} SELECT ARRAY[i, 1, 2]::vector(3) FROM generate_series(1, 300) AS i")  # noqa: S608 -- a test schema name
    assert index_target(plant.schema, "fresh_hnsw").estimated_rows == -1
    empty = plant.table("empty", "embedding vector(3)")
    plant.sql(f"CREATE INDEX empty_hnsw ON {empty} USING hnsw (embedding vector_l2_ops)")
    assert len(sample_vectors(index_target(plant.schema, "fresh_hnsw"), 20)) == 20
    assert sample_vectors(index_target(plant.schema, "empty_hnsw"), 20) == []


def _cosine_distance(a, b):
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return 1 - dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_exact_distances_are_the_true_nearest(items):
    target = index_target(items.schema, "items_hnsw")
    rows = items.sql(f"SELECT (embedding::halfvec({DIMS}))::text FROM {items.schema}.items")  # noqa: S608 -- a test schema name
    table = [[float(x) for x in text.strip("[]").split(",")] for (text,) in rows]
    query = table[123]
    (answer,) = exact_answers(target, [rows[123][0]], k=5)
    expected = sorted(_cosine_distance(query, row) for row in table)[:5]
    assert answer.distances == pytest.approx(expected, abs=1e-6)
    assert answer.seconds > 0


def test_ivfflat_probes_change_the_answers(items):
    target = index_target(items.schema, "items_ivf")
    vectors = sample_vectors(target, 30)
    exact = exact_answers(target, vectors, k=10)
    all_lists = ann_answers(target, vectors, k=10, search_value=20)
    one_list = ann_answers(target, vectors, k=10, search_value=1)
    # Probing every list is an exhaustive search; one list of twenty misses neighbours.
    assert [a.distances for a in all_lists] == [e.distances for e in exact]
    assert [a.distances for a in one_list] != [e.distances for e in exact]


def test_the_product_s_halfvec_expression_index_is_queried_through_its_cast(chunks):  # noqa: F811
    target = index_target("public", "kb_chunks_embedding_hnsw")
    assert target is not None
    assert (target.expression, target.key_type, target.operator) == (
        "(embedding::halfvec(3072))",
        "halfvec(3072)",
        "<=>",
    )
    (vector,) = sample_vectors(target, 1)
    assert scanned_indexes(target, vector, k=10, exact=False) == ["kb_chunks_embedding_hnsw"]
    assert scanned_indexes(target, vector, k=10, exact=True) == []
    (answer,) = ann_answers(target, [vector], k=10)
    assert len(answer.distances) == 10 and answer.distances[0] == pytest.approx(0, abs=1e-6)  # itself first
