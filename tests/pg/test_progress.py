"""pg_stat_progress_create_index for a build under way, read from another connection."""

from __future__ import annotations

import threading

import psycopg
import pytest

from schemaadmin.pg.index_builds import cancel_build, leftover_indexes, open_build_connection
from schemaadmin.pg.indexes import index as index_state
from schemaadmin.pg.progress import index_build_progress
from tests.worker import wait_for

pytestmark = pytest.mark.usefixtures("transactional_db")


def test_progress_of_an_hnsw_build_then_cancel_leaves_an_invalid_leftover(planter):
    table = planter.table(
        "vectors",
        "id int, embedding vector(16)",
        rows=10_000,
        fill="i, (SELECT array_agg(random())::vector(16) FROM generate_series(1, 16) WHERE i > 0)",
    )
    planter.sql(f"CREATE INDEX vectors_hnsw ON {table} USING hnsw (embedding vector_l2_ops)")
    notices: list[str] = []
    conn = open_build_connection(application_name="test progress", on_notice=notices.append)
    conn.execute("SET maintenance_work_mem = '1MB'")  # the graph spills: a build of several seconds
    failure: list[BaseException] = []

    def build() -> None:
        try:
            conn.execute(f"REINDEX INDEX CONCURRENTLY {planter.schema}.vectors_hnsw")
        except BaseException as exc:
            failure.append(exc)

    builder = threading.Thread(target=build)
    builder.start()
    try:
        pid = conn.info.backend_pid
        # The graph outgrows 1 MB early; the build then goes on, on disk, for seconds.
        row = wait_for(
            lambda: notices and (p := index_build_progress(pid)) and p.blocks_done > 0 and p,
            timeout=30,
            interval=0.05,
            what="the memory NOTICE and a progress row with blocks counted",
        )
        assert row.command == "REINDEX CONCURRENTLY"
        assert row.table == f"{planter.schema}.vectors"
        assert row.phase == "building index: loading tuples"
        assert 0 < row.blocks_done <= row.blocks_total
        assert 0 < row.fraction <= 1
        assert cancel_build(pid) is True
    finally:
        builder.join(timeout=30)
        conn.close()
    assert isinstance(failure[0], psycopg.errors.QueryCanceled)
    assert "hnsw graph no longer fits into maintenance_work_mem after" in notices[0]
    assert index_build_progress(pid) is None
    # The original stays valid; the cancelled copy is an INVALID leftover to drop.
    assert index_state(planter.schema, "vectors_hnsw").is_valid
    assert leftover_indexes(planter.schema, "vectors", "vectors_hnsw") == ["vectors_hnsw_ccnew"]


def test_no_progress_for_a_backend_that_does_not_build():
    assert index_build_progress(999_999) is None
