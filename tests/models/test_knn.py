"""kNN search over chunks goes through the halfvec HNSW expression index."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection

from schemaadmin.models import KnowledgeBaseChunk, KnowledgeBaseDocument

ROWS = 1000  # enough that, once analyzed, the planner prefers the index to a sequential scan


@pytest.fixture
def chunks(db):
    document = KnowledgeBaseDocument.objects.create(title="Guide", content_hash="d" * 64)
    with connection.cursor() as cur:
        # Random vectors made by the server: 1,000 x 3,072 floats are slow to build in Python.
        cur.execute(
            """
            INSERT INTO knowledge_base_chunks (document_id, chunk_index, content, token_count, embedding, created_at)
            SELECT %s, i, 'chunk ' || i, 0,
                   (SELECT array_agg(random() - 0.5) FROM generate_series(1, 3072) AS g WHERE g > -i)::vector,
                   now()
            FROM generate_series(0, %s - 1) AS i
            """,
            [document.pk, ROWS],
        )
        # Rows of earlier tests' rolled-back inserts stay in the index until vacuumed, and a bigger index costs more
        # to the planner: rebuilt on these rows alone, it is the index a table of 1,000 chunks would have.
        cur.execute("REINDEX INDEX kb_chunks_embedding_hnsw")
        cur.execute("ANALYZE knowledge_base_chunks")
    return document


def test_nearest_finds_the_closest_chunk_through_the_hnsw_index(chunks):
    probe = KnowledgeBaseChunk.objects.get(document=chunks, chunk_index=42)
    query = KnowledgeBaseChunk.objects.nearest(list(probe.embedding), k=5)

    plan = query.explain()
    assert "Index Scan using kb_chunks_embedding_hnsw" in plan, plan[:300]

    results = list(query)
    assert results[0].chunk_index == 42
    assert results[0].distance == pytest.approx(0, abs=1e-3)
    # In the index's order: HNSW's cosine compares the vectors it stored normalized as halfvec, so two chunks whose
    # distances differ by less than that rounding (~1e-5, seen at 0.950873 / 0.950878) may come either way round.
    distances = [r.distance for r in results]
    assert all(later >= earlier - 1e-4 for earlier, later in itertools.pairwise(distances)), distances

    # Why the cast matters: the same ORDER BY over the uncast `vector` column cannot use the index.
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN SELECT id FROM knowledge_base_chunks ORDER BY embedding <=> %s::vector LIMIT 5",
            [str(list(probe.embedding))],
        )
        uncast_plan = "\n".join(row[0] for row in cur.fetchall())
    assert "kb_chunks_embedding_hnsw" not in uncast_plan


def test_nearest_refuses_a_vector_of_the_wrong_size(db):
    with pytest.raises(ValueError, match="3072-dimensional"):
        KnowledgeBaseChunk.objects.nearest([0.1] * 768)
