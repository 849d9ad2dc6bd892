"""The kNN preset's one-click comparison: the planner's choice beside the plan with enable_seqscan = off."""

from __future__ import annotations

import pytest

from schemaadmin.models import AuditEvent, ExplainRun
from schemaadmin.services.explain.run import explain
from schemaadmin.services.explain.summary import plan_summary, planner_choice, same_query

KNN = (
    "SELECT id FROM {table} WHERE embedding IS NOT NULL "
    "ORDER BY (embedding::halfvec(3)) <=> '[1,0,0]'::halfvec(3) LIMIT 5"
)


@pytest.fixture
def chunks(plant):
    """A small, analyzed table with a halfvec HNSW index: the planner reads it all rather than use the index."""
    table = plant.table("chunks", "id bigint PRIMARY KEY, embedding vector(3)", rows=200, fill="i, '[1,2,3]'")
    plant.sql(f"CREATE INDEX chunks_hnsw ON {table} USING hnsw ((embedding::halfvec(3)) halfvec_cosine_ops)")
    plant.sql(f"ANALYZE {table}")
    return table


def test_the_statement_is_explained_again_with_seqscan_off_in_the_same_run(chunks, role_user):
    dba = role_user("dba")
    result = explain(KNN.format(table=chunks), user=dba, options={"ANALYZE": True}, compare="seqscan_off")
    assert result.ok, result.message
    assert result.summary.vector_index_used is False  # the planner's choice on 200 rows
    assert result.compared_summary.vector_index_used is True
    assert result.compared_summary.vector_index == "chunks_hnsw"

    first, second = result.run, result.compared
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.options["compared_with"] == second.pk
    assert second.options["compared_to"] == first.pk and second.options["enable_seqscan"] == "off"
    assert second.outcome == "ok" and second.sql == first.sql and second.user == dba
    assert ExplainRun.objects.count() == 2
    event = AuditEvent.objects.get(action="explain.run")
    assert event.detail["compared_with"] == f"explain:{second.pk}"

    sentence = planner_choice(result.summary, result.compared_summary)
    assert "enable_seqscan = off the planner uses chunks_hnsw" in sentence and "Measured:" in sentence


def test_a_run_without_the_comparison_records_one_run(chunks, role_user):
    result = explain(KNN.format(table=chunks), user=role_user("dba"))
    assert result.ok and result.compared is None and ExplainRun.objects.count() == 1


SORTED = {
    "Plan": {
        "Node Type": "Limit",
        "Total Cost": 900.0,
        "Plans": [
            {
                "Node Type": "Sort",
                "Sort Key": ["((embedding)::halfvec(3072) <=> $1)"],
                "Plans": [{"Node Type": "Seq Scan", "Relation Name": "knowledge_base_chunks", "Plan Rows": 5000}],
            }
        ],
    }
}
INDEXED = {
    "Plan": {
        "Node Type": "Limit",
        "Total Cost": 1200.0,
        "Plans": [
            {
                "Node Type": "Index Scan",
                "Index Name": "chunk_embedding_hnsw",
                "Order By": "((embedding)::halfvec(3072) <=> $1)",
            }
        ],
    }
}


def test_the_summary_never_gives_the_all_clear_beside_a_sorted_vector_order():
    sorted_summary = plan_summary([SORTED])
    # 5,000 rows is below the large-table threshold, so no seq-scan warning: the all-clear must still not show.
    assert sorted_summary.seq_scans == [] and sorted_summary.vector_index_used is False
    assert not sorted_summary.all_clear
    assert "5,000 estimated" in sorted_summary.vector_order and "enable_seqscan = off" in sorted_summary.vector_order
    assert plan_summary([INDEXED]).all_clear
    sentence = planner_choice(sorted_summary, plan_summary([INDEXED]))
    assert "chunk_embedding_hnsw" in sentence and "1,200 against 900" in sentence
    assert planner_choice(plan_summary([INDEXED]), plan_summary([INDEXED])) == ""
    assert "no vector index serves" in planner_choice(sorted_summary, sorted_summary)


def test_same_query_ignores_layout_only():
    assert same_query("SELECT 1\nFROM t;", "SELECT 1 FROM t")
    assert not same_query("SELECT 1 FROM t", "SELECT 2 FROM t")
