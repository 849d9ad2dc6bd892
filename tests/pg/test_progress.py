"""pg_stat_progress_create_index for a build under way, read from another connection."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from schemaadmin.models import IndexRebuild, JobState
from schemaadmin.pg.connection import connection_params
from schemaadmin.pg.index_builds import cancel_build, leftover_indexes, open_build_connection
from schemaadmin.pg.indexes import index as index_state
from schemaadmin.pg.progress import index_build_progress
from schemaadmin.services.rebuilds import build_progress
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


def test_a_build_waiting_for_an_old_snapshot_counts_the_transactions_it_waits_for_not_the_last_scan(planter):
    """After its scans, CREATE INDEX CONCURRENTLY waits for transactions older than its snapshot. PostgreSQL leaves
    the last scan's block counters in the row, so a waiting build read 100%; the wait counts the transactions."""
    table = planter.table("t", "id int, v int", rows=20_000, fill="i, i % 97")
    readers = [psycopg.connect(**connection_params("default"), autocommit=True) for _ in range(2)]
    builder_conn = open_build_connection(application_name="test progress wait")
    failure: list[BaseException] = []

    def build() -> None:
        try:
            builder_conn.execute(f"CREATE INDEX CONCURRENTLY t_v ON {table} (v)")
        except BaseException as exc:
            failure.append(exc)

    for reader in readers:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT count(*) FROM pg_class")  # holds a snapshot older than the build's
    builder = threading.Thread(target=build)
    builder.start()
    try:
        pid = builder_conn.info.backend_pid
        row = wait_for(
            lambda: (p := index_build_progress(pid)) and p.phase == "waiting for old snapshots" and p,
            timeout=60,
            interval=0.05,
            what="the build waiting for the readers' snapshots",
        )
        assert (row.blocks_done, row.blocks_total) != (0, 0)  # the validation scan's, left in the row
        # Both readers are among the transactions it waits for (on a busy server, others may be too).
        assert row.waiting and row.lockers_total >= 2 and row.fraction == row.lockers_done / row.lockers_total < 1
        pids = {reader.info.backend_pid: reader for reader in readers}
        row = wait_for(
            lambda: (p := index_build_progress(pid)) and p.current_locker_pid in pids and p,
            timeout=60,
            interval=0.05,
            what="the build to wait for one of the readers",
        )
        first = pids.pop(row.current_locker_pid)
        first.execute("COMMIT")
        row = wait_for(
            lambda: (p := index_build_progress(pid)) and p.lockers_done >= 1 and p.current_locker_pid in pids and p,
            timeout=60,
            interval=0.05,
            what="the build to wait for the other reader",
        )
        assert row.current_locker_pid != first.info.backend_pid
        assert 0 < row.fraction == row.lockers_done / row.lockers_total < 1
        # The rebuild page's reading of it: half the wait done, and no ETA (its pace says nothing of what is left).
        rebuild = IndexRebuild(
            state=JobState.RUNNING,
            backend_pid=pid,
            started_at=timezone.now() - timedelta(minutes=5),
            progress={"phase": row.phase, "phase_started_at": (timezone.now() - timedelta(minutes=1)).isoformat()},
        )
        shown = build_progress(rebuild)
        assert shown is not None and shown.live and shown.waiting
        assert (shown.percent, shown.eta_seconds) == (round(row.fraction * 100, 1), None)
        assert shown.current_locker_pid == row.current_locker_pid
    finally:
        for reader in readers:
            reader.execute("COMMIT")
        builder.join(timeout=60)
        builder_conn.close()
        for reader in readers:
            reader.close()
    assert failure == []
