"""Index rebuilds in a real worker: the lock per index, progress, the swap under queries, cancel, crash recovery."""

# ruff: noqa: S608, F811 -- the SQL names tables planted by the test itself; `worker` is a fixture

from __future__ import annotations

import os
import pwd
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django import app
from procrastinate.jobs import Status

from schemaadmin.models import AuditEvent, IndexRebuild, JobState
from schemaadmin.pg.connection import connection_params
from schemaadmin.pg.index_builds import leftover_indexes
from schemaadmin.pg.indexes import index as index_state
from schemaadmin.pg.progress import index_build_progress
from schemaadmin.pg.sessions import session_pids
from schemaadmin.services import jobs
from schemaadmin.services.rebuilds import (
    RebuildAlreadyActive,
    RebuildRefused,
    build_progress,
    cancel_rebuild,
    plan_rebuild,
    rebuildable_index,
    retry_rebuild,
    start_rebuild,
)
from schemaadmin.services.rebuilds.control import WORKER_STOPPED
from schemaadmin.services.rebuilds.plan import find_index
from schemaadmin.services.rebuilds.run import REBUILD, application_name
from tests.blocking import holding
from tests.conftest import make_user
from tests.versions import skip_below
from tests.worker import recovered_after_kill, wait_for, worker  # noqa: F401

DIMENSIONS = 16
# ef_construction this high makes a build of 10,000 rows last several seconds: long enough to cancel or crash.
SLOW_EF = 500


@pytest.fixture
def items(planter, transactional_db):
    """A committed table of 10,000 random 16-d vectors with an HNSW index, analyzed."""
    table = planter.table(
        "items",
        f"id bigint PRIMARY KEY, embedding vector({DIMENSIONS}), label text",
        rows=10_000,
        fill=f"i, (SELECT array_agg(random())::vector({DIMENSIONS}) FROM generate_series(1, {DIMENSIONS}) "
        "WHERE i > 0), 'item ' || i",
    )
    planter.sql(f"CREATE INDEX items_hnsw ON {table} USING hnsw (embedding vector_l2_ops) WITH (m = 8)")
    planter.sql(f"CREATE INDEX items_label ON {table} (label)")
    planter.sql(f"ANALYZE {table}")
    return planter


def _ended(rebuild: IndexRebuild) -> IndexRebuild | None:
    rebuild.refresh_from_db()
    return None if rebuild.is_active else rebuild


def _options(schema: str, name: str) -> list[str]:
    from schemaadmin.pg.connection import fetch_one

    row = fetch_one(
        "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        [schema, name],
    )
    return list(row[0] or []) if row else []


def _no_leftovers(schema: str) -> bool:
    return leftover_indexes(schema, "items", "items_hnsw") == [] and index_state(schema, "items_hnsw_sa_new") is None


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qualified", "options", "message"),
    [
        ("{s}.nope", {}, "There is no index {s}.nope"),
        ("pg_catalog.pg_class_oid_index", {}, "There is no index pg_catalog.pg_class_oid_index in a user schema"),
        ("nodot", {}, "Name the index as schema.name"),
        ("{s}.items_hnsw", {"kind": "reindex", "m": 16}, "REINDEX CONCURRENTLY keeps the index's method"),
        ("{s}.items_hnsw", {"kind": "sideways"}, "Unknown kind of rebuild"),
        ("{s}.items_hnsw", {"kind": "replace", "m": 1}, "m must be a whole number from 2 to 100; got 1"),
        ("{s}.items_hnsw", {"kind": "replace", "m": 16, "ef_construction": 20}, "at least twice m (32 for m = 16)"),
        ("{s}.items_hnsw", {"kind": "replace", "lists": 10}, "lists is an IVFFlat option"),
        ("{s}.items_label", {"kind": "replace", "m": 16}, "m is an option of vector indexes"),
        ("{s}.items_label", {"kind": "replace", "method": "hnsw"}, "not make it hnsw"),
        ("{s}.items_pkey", {"kind": "replace"}, "enforces the primary key items_pkey; swapping it for a new index"),
    ],
)
def test_bad_requests_are_refused_with_a_sentence(items, qualified, options, message):
    with pytest.raises(RebuildRefused, match=message.format(s=items.schema).replace("(", r"\(").replace(")", r"\)")):
        plan_rebuild(qualified.format(s=items.schema), **options)
    assert not IndexRebuild.objects.exists()


def test_a_partitioned_table_s_indexes_are_not_swapped(planter, transactional_db):
    # CREATE INDEX CONCURRENTLY is refused on a partitioned table, and a partition's attached index cannot be
    # dropped alone: a swap would fail in the worker, after the review promised it.
    s = planter.schema
    planter.sql(f"CREATE TABLE {s}.events (at date NOT NULL, id int) PARTITION BY RANGE (at)")
    planter.sql(
        f"CREATE TABLE {s}.events_2026 PARTITION OF {s}.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
    )
    planter.sql(f"CREATE INDEX events_id ON {s}.events (id)")
    with pytest.raises(RebuildRefused, match="partitioned table's index: PostgreSQL cannot build one CONCURRENTLY"):
        plan_rebuild(f"{s}.events_id", kind="replace")
    with pytest.raises(RebuildRefused, match=f"attached to the partitioned index {s}.events_id"):
        plan_rebuild(f"{s}.events_2026_id_idx", kind="replace")
    assert not IndexRebuild.objects.exists()
    # REINDEX CONCURRENTLY works on both.
    for name in ("events_id", "events_2026_id_idx"):
        assert plan_rebuild(f"{s}.{name}").script.build.text.startswith("REINDEX INDEX CONCURRENTLY")


def test_the_index_to_rebuild_is_read_in_one_query(items):
    with CaptureQueriesContext(connection) as queries:
        index = find_index(f"{items.schema}.items_hnsw")
    assert (index.name, index.method, index.table) == ("items_hnsw", "hnsw", "items")
    assert len(queries) == 1 and "'items_hnsw'" in queries[0]["sql"]  # the server picks it, not a loop over all


def test_plan_estimates_memory_and_keeps_unchanged_parameters(items):
    plan = plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", ef_construction=100)
    assert plan.current_parameters == {"m": 8, "ef_construction": 64}
    assert plan.parameters == {"m": 8, "ef_construction": 100}
    assert plan.new_definition is not None and "WITH (m = 8, ef_construction = 100)" in plan.new_definition
    estimate = plan.estimate
    assert estimate.rows == 10_000 and estimate.dimensions == DIMENSIONS
    assert estimate.graph_memory_bytes and estimate.fits_in_memory is True
    assert estimate.planned_maintenance_work_mem_bytes >= estimate.server_maintenance_work_mem_bytes
    assert estimate.estimated_seconds is None and "No earlier rebuild" in estimate.basis


def test_the_time_estimate_says_how_it_scaled_the_last_rebuild_and_only_that(items):
    from django.utils import timezone

    now = timezone.now()
    past = IndexRebuild.objects.create(
        schema_name=items.schema,
        index_name="items_hnsw",
        table_name="items",
        method="hnsw",
        state=JobState.SUCCEEDED,
        parameters={"m": 8, "ef_construction": 64},
        estimate={"rows": 10_000},
        started_at=now - timezone.timedelta(seconds=0.4),
        finished_at=now,
    )
    same = plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", ef_construction=64).estimate
    assert same.estimated_seconds == pytest.approx(0.4)
    assert (
        same.basis == f"From the last rebuild like it: rebuild {past.pk} on {now:%Y-%m-%d} took 0.4 s for 10,000 rows."
    )
    past.estimate = {"rows": 5_000}
    past.save()
    more = plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", ef_construction=128).estimate
    assert more.estimated_seconds == pytest.approx(0.4 * 2 * 2)
    assert "took 0.4 s for 5,000 rows, scaled to 10,000 rows and to ef_construction 128." in more.basis


def test_a_second_request_for_the_same_index_names_the_first(items):
    dba = make_user("dba-lock")
    first = start_rebuild(plan_rebuild(f"{items.schema}.items_hnsw"), user=dba)
    with pytest.raises(RebuildAlreadyActive, match=f"already queued \\(rebuild {first.pk}\\)") as refused:
        start_rebuild(plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", m=12), user=dba)
    assert refused.value.rebuild == first
    # Whoever asks (here no page), the service audits the refusal.
    event = AuditEvent.objects.get(action="rebuild.start_refused")
    assert (event.actor_username, event.target) == ("dba-lock", f"{items.schema}.items_hnsw")
    assert (event.detail["reason"], event.detail["kind"]) == (str(refused.value), "replace")
    # Another index of the same table is free.
    other = start_rebuild(plan_rebuild(f"{items.schema}.items_label"), user=dba)
    assert other.job_id and first.job_id and other.job_id != first.job_id
    # A queued rebuild cancels at once.
    cancel_rebuild(first, user=dba)
    first.refresh_from_db()
    assert first.state == JobState.CANCELLED and first.error == "Cancelled by dba-lock."
    actions = list(AuditEvent.objects.filter(detail__rebuild=first.pk).values_list("action", flat=True).order_by("id"))
    assert actions == ["rebuild.requested", "rebuild.cancel_requested", "rebuild.cancelled"]


# --- in the worker --------------------------------------------------------------------------------------------


def test_swap_keeps_knn_queries_working_and_progress_is_recorded(items, worker):
    dba = make_user("dba-swap")
    stop = threading.Event()
    errors: list[BaseException] = []
    answered = [0]

    def knn_loop() -> None:
        with psycopg.connect(**connection_params("default"), autocommit=True) as conn:
            conn.execute("SET enable_seqscan = off")
            query = f"SELECT id FROM {items.schema}.items ORDER BY embedding <-> %s::vector LIMIT 5"
            while not stop.is_set():
                try:
                    rows = conn.execute(query, ["[" + ",".join(["0.5"] * DIMENSIONS) + "]"], prepare=False).fetchall()
                    assert len(rows) == 5
                    answered[0] += 1
                except BaseException as exc:
                    errors.append(exc)
                    return

    loop = threading.Thread(target=knn_loop)
    loop.start()
    try:
        plan = plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", m=16, ef_construction=200)
        rebuild = start_rebuild(plan, user=dba)
        seen = wait_for(lambda: rebuild.refresh_from_db() or build_progress(rebuild), timeout=60, what="live progress")
        assert seen.phase
        done = wait_for(lambda: _ended(rebuild), timeout=90, what="the rebuild to end")
    finally:
        stop.set()
        loop.join()
    assert done.state == JobState.SUCCEEDED, done.error + worker.output()[-3000:]
    assert errors == [] and answered[0] > 10
    state = index_state(items.schema, "items_hnsw")
    assert state is not None and state.is_valid and state.method == "hnsw"
    assert _options(items.schema, "items_hnsw") == ["m=16", "ef_construction=200"]
    assert _no_leftovers(items.schema)
    # The watcher logged each phase it sampled, the build's own among them, and saved the last sample it took (on a
    # busy machine that can be a validation phase after the build).
    phases = re.findall(r"phase: (.+)$", done.log, flags=re.MULTILINE)
    assert "building index: loading tuples" in phases, done.log
    assert done.progress["phase"] == phases[-1] and "blocks_total" in done.progress
    assert done.size_before_bytes and done.size_after_bytes
    assert "maintenance_work_mem" in done.settings_used
    assert "CREATE INDEX CONCURRENTLY" in done.log and "RENAME TO" in done.log
    final = build_progress(done)
    assert final is not None and final.percent == 100.0
    assert AuditEvent.objects.filter(action="rebuild.succeeded", detail__rebuild=done.pk, actor=dba).exists()
    # The next plan learns its time from this rebuild.
    again = plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", m=16, ef_construction=200)
    assert again.estimate.estimated_seconds and f"rebuild {done.pk}" in again.estimate.basis


def _waiting_for_old_snapshots(rebuild: IndexRebuild) -> bool:
    return _in_phase(rebuild, "waiting for old snapshots")


def _in_phase(rebuild: IndexRebuild, phase: str) -> bool:
    rebuild.refresh_from_db()
    row = index_build_progress(rebuild.backend_pid) if rebuild.backend_pid else None
    return row is not None and row.phase == phase


def _building(rebuild: IndexRebuild) -> bool:
    rebuild.refresh_from_db()
    return bool(rebuild.progress.get("blocks_done"))


def test_somebody_s_index_under_the_replacement_s_name_is_never_dropped_and_a_replace_is_refused(items, worker):
    """A valid index someone named items_hnsw_sa_new was taken for a replacement never swapped in: the next rebuild of
    items_hnsw, even a REINDEX, dropped it before building. It is left alone; a replace, which would build under
    that name, is refused at review with what to do; and it may itself be rebuilt, as any index."""
    s = items.schema
    items.sql(f"CREATE UNIQUE INDEX items_hnsw_sa_new ON {s}.items (id, label)")
    theirs = index_state(s, "items_hnsw_sa_new").oid
    with pytest.raises(RebuildRefused, match=f"{s}.items_hnsw_sa_new already exists, and no rebuild"):
        plan_rebuild(f"{s}.items_hnsw", kind="replace", m=16)
    assert rebuildable_index(f"{s}.items_hnsw_sa_new") is not None
    rebuild = start_rebuild(plan_rebuild(f"{s}.items_hnsw", kind="reindex"), user=make_user("dba-theirs"))
    done = wait_for(lambda: _ended(rebuild), timeout=90, what="the reindex")
    assert done.state == JobState.SUCCEEDED, done.error + done.log
    assert "leaving items_hnsw_sa_new alone" in done.log
    assert index_state(s, "items_hnsw_sa_new").oid == theirs


def test_cancel_leaves_the_old_index_valid_and_no_leftovers(items, worker):
    dba = make_user("dba-cancel")
    rebuild = start_rebuild(
        plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", m=16, ef_construction=SLOW_EF), user=dba
    )
    wait_for(lambda: _building(rebuild), timeout=60, what="the build to start")
    cancel_rebuild(rebuild, user=dba)
    done = wait_for(lambda: _ended(rebuild), timeout=30, what="the cancel")
    assert done.state == JobState.CANCELLED, done.error
    assert done.error == "Cancelled by dba-cancel."
    assert index_state(items.schema, "items_hnsw").is_valid
    assert _options(items.schema, "items_hnsw") == ["m=8"]
    assert _no_leftovers(items.schema)
    assert AuditEvent.objects.filter(action="rebuild.cancelled", detail__rebuild=done.pk, actor=dba).exists()
    with pytest.raises(RebuildRefused, match="already ended"):
        cancel_rebuild(done, user=dba)


def test_a_killed_worker_s_rebuild_is_recovered_then_retried(items, worker, short_stall):
    dba = make_user("dba-crash")
    # A snapshot older than the build keeps CREATE INDEX CONCURRENTLY from marking its index valid: the build waits
    # in "waiting for old snapshots", past its work but before the swap, however fast or slow the machine. Killed
    # at a moment found by polling instead, the worker sometimes finished a 1.7 s build first.
    with psycopg.connect(**connection_params("default"), autocommit=True) as holder:
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT 1")  # the first query takes the snapshot; it locks no table of the build's
        rebuild = start_rebuild(
            plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", ef_construction=200), user=dba
        )
        wait_for(lambda: _waiting_for_old_snapshots(rebuild), timeout=60, what="the build to wait for the snapshot")
        recovered = recovered_after_kill(worker, REBUILD)
        holder.execute("ROLLBACK")  # the retry below must not wait for it
    assert [r.pk for r in recovered] == [rebuild.pk]
    rebuild.refresh_from_db()
    assert rebuild.state == JobState.FAILED and rebuild.error == WORKER_STOPPED
    assert session_pids(application_name(rebuild.pk)) == []
    assert index_state(items.schema, "items_hnsw").is_valid
    assert _no_leftovers(items.schema)
    assert jobs.recover(REBUILD) == []

    worker.start()
    retry = retry_rebuild(rebuild, user=dba)
    assert retry.retry_of == rebuild
    done = wait_for(lambda: _ended(retry), timeout=90, what="the retry")
    assert done.state == JobState.SUCCEEDED, done.error
    assert _options(items.schema, "items_hnsw") == ["m=8", "ef_construction=200"]
    assert _no_leftovers(items.schema)


def test_a_reindex_whose_session_ends_after_its_swap_is_recorded_as_succeeded(items, worker):
    """REINDEX CONCURRENTLY swaps its new index in, then waits for the table's readers before it marks the old one
    dead and drops it. Its session ended there (a crash, an administrator's terminate): the rebuilt index is in
    service, the old one a _ccold leftover. Recorded as failed before; now succeeded, with the leftover dropped."""
    dba = make_user("dba-reindex")
    original = index_state(items.schema, "items_label").oid
    with psycopg.connect(**connection_params("default"), autocommit=True) as reader:
        reader.execute("BEGIN")
        reader.execute(f'SELECT 1 FROM "{items.schema}".items LIMIT 1')  # a reader's lock, no old snapshot
        rebuild = start_rebuild(plan_rebuild(f"{items.schema}.items_label", kind="reindex"), user=dba)
        wait_for(
            lambda: _in_phase(rebuild, "waiting for readers before marking dead"),
            timeout=60,
            what="REINDEX to swap and wait for the reader",
        )
        swapped = index_state(items.schema, "items_label")
        assert swapped.oid != original and index_state(items.schema, "items_label_ccold").oid == original
        reader.execute("SELECT pg_terminate_backend(%s)", [rebuild.backend_pid])
        reader.execute("ROLLBACK")  # the clean-up's DROP INDEX CONCURRENTLY of the leftover waits for no one
    done = wait_for(lambda: _ended(rebuild), timeout=60, what="the rebuild to end")
    assert done.state == JobState.SUCCEEDED, done.log
    assert done.error.startswith("REINDEX stopped (terminating connection due to administrator command)")
    assert "REINDEX's swap had finished" in done.log
    assert index_state(items.schema, "items_label").oid == swapped.oid
    assert leftover_indexes(items.schema, "items", "items_label") == []
    assert index_state(items.schema, "items_label_ccold") is None
    assert AuditEvent.objects.filter(action="rebuild.succeeded", detail__rebuild=done.pk).exists()


def test_the_memory_cap_never_builds_with_less_than_the_server_gives(settings):
    """A cap of 8 MB on a server configured with 64 MB built with 8 MB: the HNSW graph spilled and took 5x longer."""
    from schemaadmin.services.rebuilds.estimate import planned_maintenance_work_mem

    settings.SCHEMAADMIN = {"REBUILD_MAX_MAINTENANCE_WORK_MEM": 8 * 2**20}
    assert planned_maintenance_work_mem(200 * 2**20, 0, 64 * 2**20) == 64 * 2**20  # the server's, not the cap
    assert planned_maintenance_work_mem(2 * 2**20, 0, 1 * 2**20) <= 8 * 2**20  # the cap still limits what is asked
    assert planned_maintenance_work_mem(200 * 2**20, 0, 1 * 2**20) == 8 * 2**20


@pytest.mark.parametrize(
    ("rows", "lists", "message"),
    [
        (0, None, "an empty table: IVFFlat is built after the data is loaded"),
        (1_500, 5_000, "more lists than rows. For this many rows pgvector advises lists = 1"),
    ],
)
def test_an_ivfflat_replacement_with_more_lists_than_rows_is_refused_with_the_advice(
    planter, transactional_db, rows, lists, message
):
    table = planter.table("few", "id int, embedding vector(3)", rows=rows, fill="i, ARRAY[i, 1, 2]::real[]::vector(3)")
    planter.sql(f"CREATE INDEX few_ivf ON {table} USING ivfflat (embedding vector_l2_ops) WITH (lists = 10)")
    planter.sql(f"ANALYZE {table}")
    with pytest.raises(RebuildRefused, match=re.escape(message)):
        plan_rebuild(f"{planter.schema}.few_ivf", kind="replace", lists=lists)
    assert plan_rebuild(f"{planter.schema}.few_ivf", kind="reindex")  # rebuilt as it is: still allowed


def test_a_stale_estimate_of_no_rows_is_counted_before_an_ivfflat_rebuild_is_refused(planter, transactional_db):
    """Analyzed while empty, then loaded: reltuples still says 0 until autovacuum comes, but the rows are there."""
    table = planter.table("loaded", "id int, embedding vector(3)", rows=0, fill="i, ARRAY[i, 1, 2]::real[]::vector(3)")
    planter.sql(f"ANALYZE {table}")
    planter.sql(f"INSERT INTO {table} SELECT i, ARRAY[i, 1, 2]::real[]::vector(3) FROM generate_series(1, 500) AS i")
    planter.sql(f"CREATE INDEX loaded_ivf ON {table} USING ivfflat (embedding vector_l2_ops) WITH (lists = 5)")
    assert plan_rebuild(f"{planter.schema}.loaded_ivf", kind="replace", lists=5).parameters == {"lists": 5}


def test_a_replacement_is_the_index_as_it_is_but_its_name_storage_and_operator_classes_kept(
    planter, transactional_db, superuser_sql
):
    """Built again from its catalog parts, the replacement lost storage options (pages_per_range, fillfactor),
    operator-class options (values_per_range) and the schema of an operator class off the search_path: a silently
    different index, or a job failing with "operator class … does not exist"."""
    s = planter.schema
    table = planter.table("readings", "id int, n int, at timestamptz", rows=100, fill="i, i % 7, now()")
    superuser_sql(
        f"CREATE OPERATOR CLASS {s}.int4_again FOR TYPE int4 USING btree AS "
        "OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int4, int4)"
    )
    planted = {
        "readings_brin": "USING brin (n int4_minmax_multi_ops (values_per_range = 16)) WITH (pages_per_range = 16)",
        "readings_own_ops": f"(n {s}.int4_again) WITH (fillfactor = 70)",
    }
    with psycopg.connect(**connection_params("default"), autocommit=True) as conn:
        for name, how in planted.items():
            conn.execute(f"CREATE INDEX {name} ON {table} {how}")
            plan = plan_rebuild(f"{s}.{name}", kind="replace")
            [build] = [statement for statement in plan.statements() if statement.startswith("CREATE INDEX")]
            conn.execute(build)  # as the app's role, whose search_path does not hold the planted schema
            before, after = (
                conn.execute("SELECT pg_get_indexdef(%s::regclass)", [f"{s}.{index}"]).fetchone()[0]
                for index in (name, build.split()[3].split(".")[-1])
            )
            assert after.replace(build.split()[3].split(".")[-1], name) == before


def test_an_exclusion_constraint_s_index_is_refused_with_what_to_do_instead(planter, transactional_db):
    """PostgreSQL refuses to build an exclusion constraint's index concurrently ("not supported"): the review offered
    REINDEX CONCURRENTLY and a Start button, and the job failed at once."""
    table = planter.table("bookings", "id int, during tstzrange", rows=3, fill="i, tstzrange(now(), NULL)")
    planter.sql(f"TRUNCATE {table}")
    planter.sql(f"ALTER TABLE {table} ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&)")
    for kind in ("reindex", "replace"):
        with pytest.raises(RebuildRefused, match="exclusion constraint .*bookings_no_overlap.* REINDEX INDEX"):
            plan_rebuild(f"{planter.schema}.bookings_no_overlap", kind=kind)
    with psycopg.connect(**connection_params("default"), autocommit=True) as conn:  # what the job met
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="exclusion constraints is not supported"):
            conn.execute(f"REINDEX INDEX CONCURRENTLY {planter.schema}.bookings_no_overlap")


def test_a_cancel_stops_a_build_still_waiting_for_its_table_lock(items, worker):
    """Another session holds SHARE UPDATE EXCLUSIVE (a VACUUM, another concurrent build): the build waits for the
    table's lock and has no progress row yet. The cancel used to wait for that session to end."""
    dba = make_user("dba-waiting")
    with holding(f"LOCK TABLE {items.schema}.items IN SHARE UPDATE EXCLUSIVE MODE"):
        rebuild = start_rebuild(plan_rebuild(f"{items.schema}.items_hnsw"), user=dba)
        wait_for(lambda: _waiting_for_a_lock(application_name(rebuild.pk)), timeout=60, what="the build to wait")
        cancel_rebuild(rebuild, user=dba)
        done = wait_for(lambda: _ended(rebuild), timeout=60, what="the cancel, the lock still held")
    assert done.state == JobState.CANCELLED, done.error
    assert index_state(items.schema, "items_hnsw").is_valid
    assert _no_leftovers(items.schema)


def _waiting_for_a_lock(application: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            [application],
        )
        return cursor.fetchone()[0] > 0


def test_an_index_on_a_table_another_role_owns_is_refused_at_review_with_why(planter, transactional_db, superuser_sql):
    """The review showed the plan and a Start button; the job then failed at once with "must be owner of table"."""
    table = planter.table("theirs", "id int, embedding vector(3)", rows=20, fill="i, ARRAY[i, 1, 2]::real[]::vector(3)")
    planter.sql(f"CREATE INDEX theirs_hnsw ON {table} USING hnsw (embedding vector_l2_ops)")
    superuser_sql('DO $$ BEGIN CREATE ROLE "other owner" NOLOGIN; EXCEPTION WHEN duplicate_object THEN END $$')
    superuser_sql(f'ALTER TABLE {table} OWNER TO "other owner"')
    with pytest.raises(RebuildRefused, match="does not own"):
        plan_rebuild(f"{planter.schema}.theirs_hnsw")
    # PostgreSQL 17+: MAINTAIN on the table is enough for REINDEX, not for a replacement (CREATE and DROP INDEX).
    skip_below(170000, "the MAINTAIN privilege is PostgreSQL 17's")
    superuser_sql(f"GRANT MAINTAIN ON {table} TO {connection.settings_dict['USER']}")
    assert plan_rebuild(f"{planter.schema}.theirs_hnsw", kind="reindex")
    with pytest.raises(RebuildRefused, match="does not own"):
        plan_rebuild(f"{planter.schema}.theirs_hnsw", kind="replace", m=12)


def test_a_build_waiting_for_hours_leaves_the_periodic_tasks_running_and_the_next_build_queued(items, worker):
    """The worker ran one job at a time: a build stuck behind a table lock (or building for hours) stopped the
    query-statistics snapshots and recovery with it. The periodic tasks now run beside it, while a second build on
    the same database still waits its turn (two builds would share the server's memory) and runs after."""
    dba = make_user("dba-concurrent")
    with holding(f"LOCK TABLE {items.schema}.items IN SHARE UPDATE EXCLUSIVE MODE"):
        first = start_rebuild(plan_rebuild(f"{items.schema}.items_hnsw"), user=dba)
        wait_for(lambda: _waiting_for_a_lock(application_name(first.pk)), timeout=60, what="the build to wait")
        second = start_rebuild(plan_rebuild(f"{items.schema}.items_label"), user=dba)
        # As the worker's own cron tick queues it (under a queueing lock of its own: the tick may have queued one).
        periodic = app.configure_task("schemaadmin.recover_stalled_jobs", queueing_lock=f"test {first.pk}").defer(
            timestamp=0
        )
        wait_for(
            lambda: _done_or_gone(periodic),
            timeout=60,
            what="the periodic task to run beside the waiting build",
        )
        second.refresh_from_db()
        first.refresh_from_db()
        assert (first.state, second.state) == (JobState.RUNNING, JobState.QUEUED), worker.output()[-3000:]
    done = [wait_for(lambda r=r: _ended(r), timeout=90, what=f"rebuild {r.pk} to end") for r in (first, second)]
    assert [r.state for r in done] == [JobState.SUCCEEDED, JobState.SUCCEEDED], worker.output()[-3000:]
    assert done[0].finished_at <= done[1].started_at  # one after the other


def _done_or_gone(job_id: int) -> bool:
    """Whether procrastinate's job succeeded: the worker deletes the row of a job that did (delete_jobs)."""
    try:
        return app.job_manager.get_job_status(job_id) == Status.SUCCEEDED
    except Exception:  # no such job: it succeeded and its row went
        return True


def test_a_rebuild_whose_index_changed_after_it_was_confirmed_builds_nothing_and_its_retry_is_refused(items, worker):
    """The job planned again from whatever index held the name when it ran: one dropped and made again with another
    operator class, ef_construction and a WHERE while the rebuild was queued was built as nobody reviewed it."""
    s = items.schema
    dba = make_user("dba-changed")
    other = items.table("other", "id int", rows=10, fill="i")
    items.sql(f"CREATE INDEX other_id ON {other} (id)")
    with holding(f"LOCK TABLE {other} IN SHARE UPDATE EXCLUSIVE MODE"):
        first = start_rebuild(plan_rebuild(f"{s}.other_id"), user=dba)
        wait_for(lambda: _waiting_for_a_lock(application_name(first.pk)), timeout=60, what="the first build to wait")
        plan = plan_rebuild(f"{s}.items_hnsw", kind="replace", m=12)
        confirmed = start_rebuild(plan, user=dba, reviewed=plan.fingerprint)  # queued behind the first
        assert confirmed.fingerprint == plan.fingerprint
        items.sql(f"DROP INDEX {s}.items_hnsw")
        items.sql(
            f"CREATE INDEX items_hnsw ON {s}.items USING hnsw (embedding vector_cosine_ops) "
            "WITH (ef_construction = 100) WHERE id > 10"
        )
        remade = index_state(s, "items_hnsw")
    done = wait_for(lambda: _ended(confirmed), timeout=90, what="the confirmed rebuild to end")
    assert done.state == JobState.FAILED, done.log
    assert done.error.startswith("The index changed after this rebuild was reviewed"), done.error
    assert "CREATE INDEX" not in done.log
    assert index_state(s, "items_hnsw").oid == remade.oid and _no_leftovers(s)
    assert AuditEvent.objects.filter(action="rebuild.failed", detail__rebuild=done.pk).exists()
    # A retry plans from the index as it is now: not what was started, so it is refused, not run unreviewed.
    with pytest.raises(RebuildRefused, match=f"changed since rebuild {done.pk} was started"):
        retry_rebuild(done, user=dba)
    assert AuditEvent.objects.get(action="rebuild.retry_refused").detail["rebuild"] == done.pk


def test_a_confirmation_of_another_review_is_refused(items):
    plan = plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", m=12)
    with pytest.raises(RebuildRefused, match="The index changed since you reviewed it; review the statements again."):
        start_rebuild(plan, user=make_user("dba-review"), reviewed="0123456789abcdef")
    with pytest.raises(RebuildRefused, match="Review the statements below, then start the rebuild."):
        start_rebuild(plan, user=make_user("dba-review2"), reviewed="")
    assert not IndexRebuild.objects.exists()
    # The fingerprint is the DDL's and the index's: another index's, or the same with other parameters, differs.
    assert plan.fingerprint == plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", m=12).fingerprint
    assert plan.fingerprint != plan_rebuild(f"{items.schema}.items_hnsw", kind="replace", m=16).fingerprint


def test_a_replacement_keeps_the_index_s_tablespace_comment_cluster_mark_and_statistics_targets(
    planter, transactional_db, superuser_sql, worker, server_owned_dir
):
    """CREATE INDEX from the catalog's parts wrote none of them: after a replace the index was in the default
    tablespace, with no comment, no table CLUSTERed on it and its expression's statistics target back to the
    default."""
    s = planter.schema
    space = f"{s}_space"
    role = connection.settings_dict["USER"]
    table = planter.table("docs", "id int, title text", rows=300, fill="i, 'Title ' || i")
    superuser_sql(f"CREATE TABLESPACE {space} LOCATION '{server_owned_dir}'")
    try:
        superuser_sql(f"GRANT CREATE ON TABLESPACE {space} TO {role}")
        planter.sql(f"CREATE INDEX docs_lower ON {table} (lower(title)) TABLESPACE {space}")
        planter.sql(f"COMMENT ON INDEX {s}.docs_lower IS 'finds a title in any case; it''s ours'")
        planter.sql(f"ALTER TABLE {table} CLUSTER ON docs_lower")
        planter.sql(f"ALTER INDEX {s}.docs_lower ALTER COLUMN 1 SET STATISTICS 500")
        before = _kept_parts(s, "docs_lower")
        assert before == (space, "finds a title in any case; it's ours", True, [500])
        plan = plan_rebuild(f"{s}.docs_lower", kind="replace")
        shown = plan.statements()
        assert f"TABLESPACE {space}" in plan.new_definition
        assert f"COMMENT ON INDEX {s}.docs_lower_sa_new IS 'finds a title in any case; it''s ours'" in shown
        assert f"ALTER INDEX {s}.docs_lower_sa_new ALTER COLUMN 1 SET STATISTICS 500" in shown
        assert shown.index(f"ALTER TABLE {s}.docs CLUSTER ON docs_lower") > shown.index(
            f"ALTER INDEX {s}.docs_lower_sa_new RENAME TO docs_lower"
        )
        rebuild = start_rebuild(plan, user=make_user("dba-keeps"), reviewed=plan.fingerprint)
        done = wait_for(lambda: _ended(rebuild), timeout=90, what="the replace")
        assert done.state == JobState.SUCCEEDED, done.error + done.log
        assert done.built_oid and index_state(s, "docs_lower").oid == done.built_oid  # the replacement, swapped in
        assert _kept_parts(s, "docs_lower") == before
        assert index_state(s, "docs_lower_sa_new") is None

        # Where this role may not create, a replacement cannot be built: refused at review, REINDEX offered.
        superuser_sql(f"REVOKE CREATE ON TABLESPACE {space} FROM {role}")
        with pytest.raises(RebuildRefused, match=f"in the tablespace {space}, where SchemaAdmin's database role may"):
            plan_rebuild(f"{s}.docs_lower", kind="replace")
        assert plan_rebuild(f"{s}.docs_lower", kind="reindex")
    finally:
        superuser_sql(f"DROP TABLE IF EXISTS {table}")
        superuser_sql(f"DROP TABLESPACE {space}")


@pytest.fixture
def server_owned_dir() -> Iterator[Path]:
    """Return an empty directory the embedded server's system user owns, as CREATE TABLESPACE needs it (pytest's own
    temporary directories are the test user's alone), removed afterwards."""
    from schemaadmin.embedded import SYSTEM_USER

    made = Path(tempfile.mkdtemp(prefix="schemaadmin-space-"))
    if os.geteuid() == 0:  # the server runs as a system user of its own (schemaadmin/embedded.py)
        user = pwd.getpwnam(SYSTEM_USER)
        os.chown(made, user.pw_uid, user.pw_gid)
    yield made
    shutil.rmtree(made, ignore_errors=True)


def _kept_parts(schema: str, name: str) -> tuple[str | None, str | None, bool, list[int | None]]:
    """Return an index's tablespace, comment, CLUSTER mark and its keys' statistics targets, read from the catalog."""
    from schemaadmin.pg.connection import fetch_one

    row = fetch_one(
        "SELECT ts.spcname, obj_description(c.oid, 'pg_class'), i.indisclustered, "
        "ARRAY(SELECT NULLIF(a.attstattarget, -1)::int FROM pg_attribute AS a WHERE a.attrelid = c.oid "
        "AND a.attnum > 0 ORDER BY a.attnum) "
        "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "JOIN pg_index AS i ON i.indexrelid = c.oid "
        "LEFT JOIN pg_tablespace AS ts ON ts.oid = c.reltablespace WHERE n.nspname = %s AND c.relname = %s",
        [schema, name],
    )
    assert row is not None
    return (row[0], row[1], row[2], list(row[3]))


def test_a_plain_unique_index_is_swapped_keeping_its_uniqueness_and_what_its_drop_would_break_is_refused(items, worker):
    """A unique index that backs no constraint was refused as one enforcing "a primary key or unique constraint", of
    which there was none: its replacement is CREATE UNIQUE INDEX CONCURRENTLY, unique throughout. A foreign key that
    references it, or a replica identity on it, is what its DROP would break: those are the refusals, said as such."""
    s = items.schema
    items.sql(f"CREATE UNIQUE INDEX items_label_key ON {s}.items (label) NULLS NOT DISTINCT WITH (fillfactor = 80)")
    before = index_state(s, "items_label_key")
    plan = plan_rebuild(f"{s}.items_label_key", kind="replace")
    assert plan.new_definition.startswith(f"CREATE UNIQUE INDEX CONCURRENTLY items_label_key_sa_new ON {s}.items")
    rebuild = start_rebuild(plan, user=make_user("dba-unique"), reviewed=plan.fingerprint)
    done = wait_for(lambda: _ended(rebuild), timeout=90, what="the replace")
    assert done.state == JobState.SUCCEEDED, done.error + done.log
    after = index_state(s, "items_label_key")
    assert after.oid != before.oid and after.definition == before.definition  # UNIQUE, NULLS NOT DISTINCT, fillfactor
    with pytest.raises(psycopg.errors.UniqueViolation):
        items.sql(f"INSERT INTO {s}.items (id, label) VALUES (-1, 'item 1')")

    items.sql(f"CREATE TABLE {s}.labelled (label text REFERENCES {s}.items (label))")
    with pytest.raises(RebuildRefused, match="the unique index the foreign key labelled_label_fkey references"):
        plan_rebuild(f"{s}.items_label_key", kind="replace")
    items.sql(f"CREATE TABLE {s}.replicated (id int NOT NULL)")
    items.sql(f"CREATE UNIQUE INDEX replicated_id ON {s}.replicated (id)")
    items.sql(f"ALTER TABLE {s}.replicated REPLICA IDENTITY USING INDEX replicated_id")
    with pytest.raises(RebuildRefused, match="is its table's replica identity"):
        plan_rebuild(f"{s}.replicated_id", kind="replace")
    for name in ("items_label_key", "replicated_id"):
        assert plan_rebuild(f"{s}.{name}", kind="reindex")  # REINDEX CONCURRENTLY keeps both
